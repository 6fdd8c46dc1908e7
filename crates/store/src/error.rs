use danvan_domain::policy::Denial;
use danvan_domain::FieldError;

/// Errors of the storage layer. `NotFound` covers both "missing" and "outside
/// the caller's scope": the two must look the same from outside.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("không tìm thấy")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{field}: {error}")]
    Invalid {
        field: &'static str,
        error: FieldError,
    },
    #[error("{0}")]
    Rejected(String),
    /// The policy refused the action (never for "out of scope", which is
    /// `NotFound`).
    #[error("không được phép: {}", .0.code())]
    Denied(Denial),
    #[error("{0}")]
    Config(String),
    #[error("lỗi cơ sở dữ liệu: {0}")]
    Db(#[from] sqlx::Error),
    #[error("lỗi chuyển đổi cơ sở dữ liệu: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("lỗi đọc ghi tệp: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    pub fn invalid(field: &'static str, error: FieldError) -> Self {
        StoreError::Invalid { field, error }
    }

    /// True when the database refused a duplicate key.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}
