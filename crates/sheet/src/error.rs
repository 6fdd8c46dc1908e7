/// Why a whole file cannot be read. Problems within rows are [`crate::RowError`]s.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("{}", self.message_vi())]
    NotASpreadsheet,
    #[error("{}", self.message_vi())]
    WrongEncoding,
    #[error("{}", self.message_vi())]
    Empty,
    /// Canonical names of the required columns the header row lacks.
    #[error("{}", self.message_vi())]
    MissingColumns(Vec<String>),
    #[error("{}", self.message_vi())]
    TooManyRows { max: usize },
    #[error("{}", self.message_vi())]
    Io(#[source] std::io::Error),
    /// calamine's or rust_xlsxwriter's description of a broken workbook.
    #[error("{}", self.message_vi())]
    Xlsx(String),
}

impl SheetError {
    pub fn message_vi(&self) -> String {
        match self {
            SheetError::NotASpreadsheet => "Tệp không phải bảng tính CSV hoặc XLSX. \
                 Tệp .xls cũ hãy lưu lại dưới dạng XLSX."
                .to_string(),
            SheetError::WrongEncoding => {
                "Tệp không phải mã UTF-8. Hãy lưu lại dưới dạng CSV UTF-8 hoặc XLSX.".to_string()
            }
            SheetError::Empty => "Tệp không có dòng dữ liệu nào.".to_string(),
            SheetError::MissingColumns(cols) => {
                format!("Thiếu cột bắt buộc: {}", cols.join(", "))
            }
            SheetError::TooManyRows { max } => {
                format!("Tệp có hơn {max} dòng; hãy chia thành nhiều tệp.")
            }
            SheetError::Io(e) => format!("Không đọc hoặc ghi được tệp: {e}"),
            SheetError::Xlsx(detail) => {
                format!("Tệp XLSX bị hỏng hoặc không đọc được: {detail}")
            }
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            SheetError::NotASpreadsheet => "The file is not a CSV or XLSX spreadsheet. \
                 Save an old .xls file as XLSX."
                .to_string(),
            SheetError::WrongEncoding => {
                "The file is not UTF-8. Save it as CSV UTF-8 or XLSX.".to_string()
            }
            SheetError::Empty => "The file has no data rows.".to_string(),
            SheetError::MissingColumns(cols) => {
                format!("Missing required columns: {}", cols.join(", "))
            }
            SheetError::TooManyRows { max } => {
                format!("The file has more than {max} rows; split it into several files.")
            }
            SheetError::Io(e) => format!("Could not read or write the file: {e}"),
            SheetError::Xlsx(detail) => format!("The XLSX file is broken or unreadable: {detail}"),
        }
    }
}

impl From<std::io::Error> for SheetError {
    fn from(e: std::io::Error) -> Self {
        SheetError::Io(e)
    }
}
