//! Materials from agencies (*tài liệu*): leaflets, documents and audio
//! spots the Police, the environment department or health send down for
//! the teams. What a file is comes from its bytes, never from the name or
//! the type the uploader's browser claims.

/// Largest file the library keeps (a scanned leaflet, a short audio spot).
pub const MAX_MATERIAL_BYTES: usize = 20 * 1024 * 1024;
/// Printed copies one handout may carry.
pub const MAX_COPIES: i64 = 100_000;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_AGENCY_CHARS: usize = 120;
pub const MAX_NOTE_CHARS: usize = 2_000;

/// The kinds of file the library takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    Jpeg,
    Png,
    /// Office Open XML (a ZIP): .docx, .xlsx, .pptx.
    Docx,
    Xlsx,
    Pptx,
    /// OpenDocument text (a ZIP): .odt.
    Odt,
    /// The old binary Office formats (OLE compound file): .doc, .xls.
    Doc,
    Xls,
    Mp3,
    Wav,
    Ogg,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::Jpeg => "jpeg",
            FileKind::Png => "png",
            FileKind::Docx => "docx",
            FileKind::Xlsx => "xlsx",
            FileKind::Pptx => "pptx",
            FileKind::Odt => "odt",
            FileKind::Doc => "doc",
            FileKind::Xls => "xls",
            FileKind::Mp3 => "mp3",
            FileKind::Wav => "wav",
            FileKind::Ogg => "ogg",
        }
    }

    pub fn parse(s: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub const ALL: [FileKind; 12] = [
        FileKind::Pdf,
        FileKind::Jpeg,
        FileKind::Png,
        FileKind::Docx,
        FileKind::Xlsx,
        FileKind::Pptx,
        FileKind::Odt,
        FileKind::Doc,
        FileKind::Xls,
        FileKind::Mp3,
        FileKind::Wav,
        FileKind::Ogg,
    ];

    /// The type a download is served with.
    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            FileKind::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            FileKind::Odt => "application/vnd.oasis.opendocument.text",
            FileKind::Doc => "application/msword",
            FileKind::Xls => "application/vnd.ms-excel",
            FileKind::Mp3 => "audio/mpeg",
            FileKind::Wav => "audio/wav",
            FileKind::Ogg => "audio/ogg",
        }
    }

    /// The file name's ending a download gets.
    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Jpeg => "jpg",
            k => k.as_str(),
        }
    }

    /// What people call it on the library page.
    pub fn label(self) -> &'static str {
        match self {
            FileKind::Pdf => "PDF",
            FileKind::Jpeg | FileKind::Png => "Ảnh / Image",
            FileKind::Docx | FileKind::Doc | FileKind::Odt => "Văn bản / Document",
            FileKind::Xlsx | FileKind::Xls => "Bảng tính / Spreadsheet",
            FileKind::Pptx => "Trình chiếu / Slides",
            FileKind::Mp3 | FileKind::Wav | FileKind::Ogg => "Âm thanh / Audio",
        }
    }
}

/// Why a file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRefused {
    Empty,
    TooLarge,
    /// Not one of the kinds the library takes.
    Unknown,
    /// The name says one kind and the bytes another (a renamed program,
    /// a page saved as .pdf).
    Mismatch,
}

impl FileRefused {
    pub fn message_vi(self) -> String {
        match self {
            FileRefused::Empty => "Tệp trống, hãy chọn tệp tài liệu".into(),
            FileRefused::TooLarge => format!(
                "Tệp lớn quá {} MB",
                MAX_MATERIAL_BYTES / (1024 * 1024)
            ),
            FileRefused::Unknown => {
                "Chỉ nhận tệp PDF, ảnh (JPEG, PNG), văn bản (DOC, DOCX, ODT), bảng tính (XLS, XLSX), trình chiếu (PPTX) hoặc âm thanh (MP3, WAV, OGG)".into()
            }
            FileRefused::Mismatch => {
                "Đuôi tên tệp không khớp với nội dung tệp".into()
            }
        }
    }
}

fn starts(b: &[u8], magic: &[u8]) -> bool {
    b.len() >= magic.len() && &b[..magic.len()] == magic
}

/// The name's ending, lowercased, if it has one.
fn extension_of(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty() && ext.len() <= 5).then(|| ext.to_ascii_lowercase())
}

/// What `bytes` are, checked against the file name's ending when it has
/// one. ZIP and OLE containers are told apart by the name (their bytes
/// all begin alike), and an OOXML or OpenDocument file must name its
/// part (`word/`, `xl/`, `ppt/`, the ODF mimetype) near its start.
pub fn sniff(file_name: &str, bytes: &[u8]) -> Result<FileKind, FileRefused> {
    if bytes.is_empty() {
        return Err(FileRefused::Empty);
    }
    if bytes.len() > MAX_MATERIAL_BYTES {
        return Err(FileRefused::TooLarge);
    }
    let ext = extension_of(file_name);
    let ext = ext.as_deref();
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let contains = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    let by_bytes = if starts(bytes, b"%PDF-") {
        FileKind::Pdf
    } else if starts(bytes, &[0xFF, 0xD8, 0xFF]) {
        FileKind::Jpeg
    } else if starts(bytes, b"\x89PNG\r\n\x1a\n") {
        FileKind::Png
    } else if starts(bytes, b"RIFF") && bytes.len() >= 12 && &bytes[8..12] == b"WAVE" {
        FileKind::Wav
    } else if starts(bytes, b"OggS") {
        FileKind::Ogg
    } else if starts(bytes, b"ID3")
        || (bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
    {
        FileKind::Mp3
    } else if starts(bytes, b"PK\x03\x04") {
        match ext {
            Some("docx") if contains(b"word/") => FileKind::Docx,
            Some("xlsx") if contains(b"xl/") => FileKind::Xlsx,
            Some("pptx") if contains(b"ppt/") => FileKind::Pptx,
            Some("odt") if contains(b"application/vnd.oasis.opendocument.text") => FileKind::Odt,
            Some("docx" | "xlsx" | "pptx" | "odt") => return Err(FileRefused::Mismatch),
            _ => return Err(FileRefused::Unknown),
        }
    } else if starts(bytes, &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        match ext {
            Some("doc") => FileKind::Doc,
            Some("xls") => FileKind::Xls,
            _ => return Err(FileRefused::Unknown),
        }
    } else {
        return Err(
            if ext.is_some_and(|e| {
                FileKind::ALL
                    .iter()
                    .any(|k| k.extension() == e || k.as_str() == e)
            }) {
                FileRefused::Mismatch
            } else {
                FileRefused::Unknown
            },
        );
    };
    match ext {
        None => Ok(by_bytes),
        Some(e) if e == by_bytes.extension() || e == by_bytes.as_str() => Ok(by_bytes),
        Some("jpeg" | "jpe") if by_bytes == FileKind::Jpeg => Ok(by_bytes),
        Some("oga" | "opus") if by_bytes == FileKind::Ogg => Ok(by_bytes),
        Some(_) => Err(FileRefused::Mismatch),
    }
}

/// A file name safe to keep and to put in a download header: the last
/// path segment, no control characters or quotes, at most 120 characters,
/// ending as its kind does.
pub fn clean_file_name(name: &str, kind: FileKind) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';' | '\\'))
        .take(120)
        .collect();
    let cleaned = cleaned.trim().to_string();
    let stem = match cleaned.rsplit_once('.') {
        Some((s, _)) if !s.trim().is_empty() => s.trim().to_string(),
        _ if cleaned.is_empty() => "tai-lieu".to_string(),
        _ => cleaned,
    };
    format!("{stem}.{}", kind.extension())
}

crate::stored::stored_text!(FileKind => "file kind");
crate::stored::serde_as_str!(FileKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_bytes() {
        assert_eq!(sniff("a.pdf", b"%PDF-1.7\n..."), Ok(FileKind::Pdf));
        assert_eq!(
            sniff("anh.JPG", &[0xFF, 0xD8, 0xFF, 0xE0, 0]),
            Ok(FileKind::Jpeg)
        );
        assert_eq!(
            sniff("x.jpeg", &[0xFF, 0xD8, 0xFF, 0xE0, 0]),
            Ok(FileKind::Jpeg)
        );
        assert_eq!(sniff("noname", b"%PDF-1.4"), Ok(FileKind::Pdf));
        let wav = [b"RIFF".as_slice(), &[0; 4], b"WAVEfmt "].concat();
        assert_eq!(sniff("spot.wav", &wav), Ok(FileKind::Wav));
        let docx = [b"PK\x03\x04".as_slice(), &[0; 26], b"word/document.xml"].concat();
        assert_eq!(sniff("to-roi.docx", &docx), Ok(FileKind::Docx));
        let ole = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0];
        assert_eq!(sniff("cu.doc", &ole), Ok(FileKind::Doc));
        assert_eq!(sniff("cu.xls", &ole), Ok(FileKind::Xls));
    }

    #[test]
    fn lies_and_strangers_are_refused() {
        assert_eq!(sniff("a.pdf", b""), Err(FileRefused::Empty));
        assert_eq!(sniff("a.pdf", b"<html>"), Err(FileRefused::Mismatch));
        assert_eq!(sniff("a.exe", b"MZ\x90\x00"), Err(FileRefused::Unknown));
        assert_eq!(
            sniff("a.pdf", &[0xFF, 0xD8, 0xFF, 0]),
            Err(FileRefused::Mismatch)
        );
        // A ZIP that is no Office file, even named as one.
        let zip = [b"PK\x03\x04".as_slice(), &[0; 26], b"evil.sh"].concat();
        assert_eq!(sniff("a.docx", &zip), Err(FileRefused::Mismatch));
        assert_eq!(sniff("a.zip", &zip), Err(FileRefused::Unknown));
        let big = vec![b'%'; MAX_MATERIAL_BYTES + 1];
        assert_eq!(sniff("a.pdf", &big), Err(FileRefused::TooLarge));
        assert!(FileRefused::Unknown.message_vi().contains("PDF"));
    }

    #[test]
    fn file_names_are_cleaned() {
        assert_eq!(
            clean_file_name("C:\\tai lieu\\To roi \"ma tuy\".PDF", FileKind::Pdf),
            "To roi ma tuy.pdf"
        );
        assert_eq!(clean_file_name("", FileKind::Png), "tai-lieu.png");
        assert_eq!(
            clean_file_name("../../etc/passwd", FileKind::Pdf),
            "passwd.pdf"
        );
        assert_eq!(clean_file_name("anh.jpeg", FileKind::Jpeg), "anh.jpg");
    }
}
