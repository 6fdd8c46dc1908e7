use danvan_domain::policy::Denial;
use danvan_domain::problem::Problem;
use danvan_domain::FieldError;

/// Errors of the storage layer. `NotFound` covers both "missing" and "outside
/// the caller's scope": the two must look the same from outside.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("không tìm thấy")]
    NotFound,
    /// The request clashes with the record's state now (409).
    #[error("xung đột: {}", .0.code())]
    Conflict(Problem),
    #[error("{field}: {error}")]
    Invalid {
        field: &'static str,
        error: FieldError,
    },
    /// The request is not acceptable as it is (422); the web says why.
    #[error("không hợp lệ: {}", .0.code())]
    Rejected(Problem),
    /// The policy refused the action (never for "out of scope", which is
    /// `NotFound`).
    #[error("không được phép: {}", .0.code())]
    Denied(Denial),
    /// The server's own set-up (a database address): for the operator.
    #[error("{0}")]
    Config(String),
    /// Something that should not happen (an interrupted worker thread).
    #[error("{0}")]
    Internal(String),
    #[error("lỗi cơ sở dữ liệu: {0}")]
    Db(#[from] sqlx::Error),
    #[error("lỗi chuyển đổi cơ sở dữ liệu: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("lỗi đọc ghi tệp: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    pub fn rejected(p: Problem) -> Self {
        StoreError::Rejected(p)
    }

    pub fn invalid(field: &'static str, error: FieldError) -> Self {
        StoreError::Invalid { field, error }
    }

    /// True when the database refused a duplicate key.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}
