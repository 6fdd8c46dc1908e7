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
    /// An XLSX file unpacks to more than any household list needs: a zip
    /// bomb, or a workbook far larger than a list. Refused before calamine
    /// opens it, so before any row is read.
    #[error("{}", self.message_vi())]
    TooLargeUnpacked(UnpackLimit),
}

/// The limit an XLSX file went past when unpacked (see [`SheetError::TooLargeUnpacked`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnpackLimit {
    /// One part (a worksheet, the shared strings) unpacks to more than `max_bytes`.
    Part { name: String, max_bytes: u64 },
    /// All parts together unpack to more than `max_bytes`.
    Total { max_bytes: u64 },
    /// The archive holds more than `max` parts.
    Parts { max: usize },
    /// A part unpacks to more than `max` times its packed size.
    Ratio { name: String, max: u64 },
}

/// Bytes as whole megabytes (MiB, which officials call MB).
fn megabytes(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
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
            SheetError::TooLargeUnpacked(limit) => {
                let what = match limit {
                    UnpackLimit::Part { name, max_bytes } => {
                        format!("phần {name} vượt quá {} MB", megabytes(*max_bytes))
                    }
                    UnpackLimit::Total { max_bytes } => {
                        format!("tổng dung lượng vượt quá {} MB", megabytes(*max_bytes))
                    }
                    UnpackLimit::Parts { max } => format!("tệp chứa hơn {max} phần"),
                    UnpackLimit::Ratio { name, max } => {
                        format!("phần {name} giải nén ra gấp hơn {max} lần")
                    }
                };
                format!(
                    "Tệp quá lớn khi giải nén: {what}. Hãy chia danh sách thành \
                     nhiều tệp nhỏ hơn hoặc lưu dưới dạng CSV UTF-8."
                )
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
            SheetError::TooLargeUnpacked(limit) => {
                let what = match limit {
                    UnpackLimit::Part { name, max_bytes } => {
                        format!("part {name} exceeds {} MB", megabytes(*max_bytes))
                    }
                    UnpackLimit::Total { max_bytes } => {
                        format!("all parts together exceed {} MB", megabytes(*max_bytes))
                    }
                    UnpackLimit::Parts { max } => format!("it holds more than {max} parts"),
                    UnpackLimit::Ratio { name, max } => {
                        format!("part {name} unpacks to more than {max} times its size")
                    }
                };
                format!(
                    "The file is too large when unpacked: {what}. Split the list into \
                     smaller files or save it as CSV UTF-8."
                )
            }
        }
    }
}

impl From<std::io::Error> for SheetError {
    fn from(e: std::io::Error) -> Self {
        SheetError::Io(e)
    }
}
