//! A multipart form with one file read into memory under a cap: the
//! library's materials and the recorded voices (both at most 20 MB, kept
//! in the database whole). Text fields are capped too; an unknown field
//! is read and dropped.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::http::StatusCode;

/// Longest text field kept.
const MAX_FIELD_CHARS: usize = 8_000;

/// What a form sent.
#[derive(Default)]
pub struct Upload {
    pub fields: HashMap<String, String>,
    /// (file name as sent, bytes) of the file field, if one was chosen.
    pub file: Option<(String, Vec<u8>)>,
    /// The file was larger than the cap (its bytes are not kept).
    pub file_too_large: bool,
}

impl Upload {
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Why the form could not be read at all.
pub enum UploadError {
    /// Over the route's body limit.
    TooLarge,
    Broken,
}

impl UploadError {
    pub fn message_vi(&self) -> &'static str {
        match self {
            UploadError::TooLarge => "Tệp gửi lên lớn quá mức cho phép",
            UploadError::Broken => "Dữ liệu gửi lên không đọc được hoặc bị gián đoạn",
        }
    }
}

/// Reads `mp`; the field named `file_field` is the file, kept if it is at
/// most `cap` bytes.
pub async fn read(mut mp: Multipart, file_field: &str, cap: usize) -> Result<Upload, UploadError> {
    let mut up = Upload::default();
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(up),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(UploadError::TooLarge)
            }
            Err(_) => return Err(UploadError::Broken),
        };
        let name = field.name().unwrap_or("").to_string();
        let is_file = name == file_field;
        let file_name = field.file_name().unwrap_or("").to_string();
        let limit = if is_file { cap } else { MAX_FIELD_CHARS * 4 };
        let mut bytes = Vec::new();
        let mut over = false;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if over || bytes.len() + chunk.len() > limit {
                        over = true;
                        bytes.clear();
                    } else {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return Err(UploadError::TooLarge)
                }
                Err(_) => return Err(UploadError::Broken),
            }
        }
        if is_file {
            // A file input left empty still sends an empty, nameless part.
            if file_name.is_empty() && bytes.is_empty() && !over {
                continue;
            }
            up.file_too_large |= over;
            if !over {
                up.file = Some((file_name, bytes));
            }
        } else if !over && up.fields.len() < 64 {
            let text = String::from_utf8_lossy(&bytes);
            up.fields
                .insert(name, text.chars().take(MAX_FIELD_CHARS).collect());
        }
    }
}
