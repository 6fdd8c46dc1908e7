//! Photos sent with a report.
//!
//! A photo is accepted by what it is, never by its name or the type the
//! browser claims: its first bytes must be those of a JPEG, PNG or WebP file
//! and it must decode. What is stored is not the file that was sent but the
//! picture re-encoded from its decoded pixels (JPEG, or PNG when the source
//! is a PNG or has transparency), so nothing of the original container
//! survives: no EXIF (GPS position, camera, owner, date), XMP, IPTC, ICC
//! profile, comment, embedded thumbnail or data after the image. The EXIF
//! orientation is applied to the pixels first, so a phone photo stays
//! upright once its EXIF is gone; and the longest side is brought down to
//! [`MAX_SIDE`] pixels, enough to see a blocked drain and light to open
//! over 3G.
//!
//! Decoding is where a small file can cost a lot of memory, so a photo's
//! declared size is read from its header first and more than
//! [`MAX_PIXELS`] is refused before a pixel is decoded; and at most
//! [`MAX_CONCURRENT_DECODES`] reports have their photos decoded at once, so
//! a burst of large photos waits instead of taking all the memory.
//!
//! Photos are written by `submit_feedback` in the transaction of the report
//! ([`insert_photos!`]), so a report is never acknowledged without them and
//! a refused report leaves none behind. Only [`CleanPhoto::clean`] makes a
//! [`CleanPhoto`], so nothing else can reach the table.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::feedback::query::TEXT_IS_PUBLIC;
use crate::{on_db, Result, Store, StoreError};

/// Photos one report may carry.
pub const MAX_PHOTOS: usize = 5;
/// Largest photo file accepted (bytes, as sent).
pub const MAX_PHOTO_BYTES: usize = 8 * 1024 * 1024;
/// Longest side of a stored photo (pixels).
pub const MAX_SIDE: u32 = 1920;
/// Largest width or height a photo may declare (a 100-megapixel camera is
/// 12 000 px wide); more is a decompression bomb, not a photo.
const MAX_DIMENSION: u32 = 16_384;
/// Most pixels a photo may declare: a 50-megapixel phone camera's
/// (8 160 × 6 120); decoded as 8-bit RGBA that is 200 MB.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Memory one decoding may take (50 megapixels of 16-bit RGBA, and a
/// little more).
const MAX_DECODE_BYTES: u64 = 420 * 1024 * 1024;
/// Reports whose photos may be decoded at the same time.
pub const MAX_CONCURRENT_DECODES: usize = 2;
static DECODES: Semaphore = Semaphore::const_new(MAX_CONCURRENT_DECODES);
/// JPEG quality of stored photos.
const JPEG_QUALITY: u8 = 82;

/// Why a photo was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoError {
    /// More than [`MAX_PHOTOS`].
    TooMany,
    /// Larger than [`MAX_PHOTO_BYTES`].
    TooLarge,
    /// Not a JPEG, PNG or WebP file, whatever its name says.
    NotAnImage,
    /// Starts like an image but does not decode.
    Corrupt,
    /// Declares more pixels than a photo has.
    TooManyPixels,
}

impl PhotoError {
    pub fn message_vi(self) -> &'static str {
        match self {
            PhotoError::TooMany => "Chỉ gửi được tối đa 5 ảnh",
            PhotoError::TooLarge => "Ảnh lớn hơn 8 MB",
            PhotoError::NotAnImage => "Tệp này không phải ảnh JPEG, PNG hay WebP",
            PhotoError::Corrupt => "Ảnh bị hỏng, không mở được",
            PhotoError::TooManyPixels => {
                "Ảnh có kích thước quá lớn (tối đa 50 megapixel, như 8000 × 6000 điểm ảnh)"
            }
        }
    }

    pub fn message_en(self) -> &'static str {
        match self {
            PhotoError::TooMany => "At most 5 photos can be sent",
            PhotoError::TooLarge => "The photo is larger than 8 MB",
            PhotoError::NotAnImage => "This file is not a JPEG, PNG or WebP image",
            PhotoError::Corrupt => "The photo is damaged and cannot be opened",
            PhotoError::TooManyPixels => {
                "The photo's dimensions are too large (at most 50 megapixels, such as 8000 × 6000)"
            }
        }
    }
}

impl std::fmt::Display for PhotoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message_vi())
    }
}

impl std::error::Error for PhotoError {}

/// The format a file's first bytes announce, if it is one we take.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else {
        None
    }
}

/// A photo that passed the checks, re-encoded: pixels and nothing else.
#[derive(Clone, PartialEq, Eq)]
pub struct CleanPhoto {
    mime: &'static str,
    bytes: Vec<u8>,
    width: u32,
    height: u32,
}

impl std::fmt::Debug for CleanPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CleanPhoto")
            .field("mime", &self.mime)
            .field("bytes", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

impl CleanPhoto {
    pub fn mime(&self) -> &'static str {
        self.mime
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Checks a file by its content, decodes it (within memory and size
    /// limits), turns it upright and re-encodes it. CPU-bound: call it from
    /// a blocking thread ([`clean_photos`] does).
    pub fn clean(raw: &[u8]) -> std::result::Result<CleanPhoto, PhotoError> {
        if raw.len() > MAX_PHOTO_BYTES {
            return Err(PhotoError::TooLarge);
        }
        let format = sniff(raw).ok_or(PhotoError::NotAnImage)?;
        let mut reader = ImageReader::with_format(Cursor::new(raw), format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_DIMENSION);
        limits.max_image_height = Some(MAX_DIMENSION);
        limits.max_alloc = Some(MAX_DECODE_BYTES);
        reader.limits(limits);
        let mut decoder = reader.into_decoder().map_err(decode_error)?;
        // The header has been read, nothing decoded yet.
        let (w, h) = decoder.dimensions();
        if u64::from(w) * u64::from(h) > MAX_PIXELS {
            return Err(PhotoError::TooManyPixels);
        }
        // A broken EXIF block only costs the rotation, not the photo.
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
        img.apply_orientation(orientation);
        if img.width() > MAX_SIDE || img.height() > MAX_SIDE {
            img = img.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle);
        }
        let (width, height) = (img.width(), img.height());
        let keep_png = format == ImageFormat::Png || img.color().has_alpha();
        let mut out = Vec::new();
        let mime = if keep_png {
            let encoder = PngEncoder::new_with_quality(
                &mut out,
                CompressionType::Default,
                FilterType::Adaptive,
            );
            if img.color().has_alpha() {
                img.to_rgba8().write_with_encoder(encoder)
            } else {
                img.to_rgb8().write_with_encoder(encoder)
            }
            .map_err(|_| PhotoError::Corrupt)?;
            "image/png"
        } else {
            let encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
            img.to_rgb8()
                .write_with_encoder(encoder)
                .map_err(|_| PhotoError::Corrupt)?;
            "image/jpeg"
        };
        Ok(CleanPhoto {
            mime,
            bytes: out,
            width,
            height,
        })
    }
}

fn decode_error(e: ImageError) -> PhotoError {
    match e {
        ImageError::Limits(_) => PhotoError::TooManyPixels,
        _ => PhotoError::Corrupt,
    }
}

/// Cleans the files of one report on a blocking thread: one outcome per
/// file, in order, so a form can name every bad file at once.
/// Waits for one of the [`MAX_CONCURRENT_DECODES`] places first; the place
/// goes with the blocking thread, so a client that hangs up does not free
/// it while its photos are still being decoded.
pub async fn clean_photos(files: Vec<Vec<u8>>) -> Vec<std::result::Result<CleanPhoto, PhotoError>> {
    let n = files.len();
    if n == 0 {
        return Vec::new();
    }
    let Ok(permit) = DECODES.acquire().await else {
        return vec![Err(PhotoError::Corrupt); n];
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        files.iter().map(|f| CleanPhoto::clean(f)).collect()
    })
    .await
    .unwrap_or_else(|_| vec![Err(PhotoError::Corrupt); n])
}

/// Inserts the photos of a new report on the given executor (the report's
/// transaction): `insert_photos!(&mut *tx, feedback_id, &photos, now)`.
#[macro_export]
macro_rules! insert_photos {
    ($ex:expr, $feedback:expr, $photos:expr, $at:expr) => {
        for photo in $photos.iter() {
            let photo: &$crate::feedback::photo::CleanPhoto = photo;
            sqlx::query(
                "INSERT INTO feedback_photos (feedback_id, mime, bytes, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind($feedback)
            .bind(photo.mime())
            .bind(photo.bytes())
            .bind($at)
            .execute($ex)
            .await?;
        }
    };
}

/// A photo of a public item, as listed on its status page.
#[derive(Debug, Clone, Serialize)]
pub struct PhotoInfo {
    /// 1-based, in the order they were sent (`/r/{code}/photos/{n}`).
    pub n: i64,
    pub mime: String,
    pub size: i64,
}

impl Store {
    /// The id of the item with this tracking code, unless it is
    /// confidential (then, as for an unknown code, `NotFound`).
    pub async fn public_feedback_id(&self, code: &str) -> Result<i64> {
        let code =
            danvan_domain::feedback::TrackingCode::parse(code).ok_or(StoreError::NotFound)?;
        let id: Option<(i64,)> = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT id FROM feedback WHERE code = $1 AND confidential = FALSE"
        )
        .bind(code.as_str())
        .fetch_optional(p)
        .await?);
        id.map(|(i,)| i).ok_or(StoreError::NotFound)
    }

    /// The photos of an item whose text is public (none for a confidential,
    /// unknown, or not fully public one).
    pub async fn public_photos(&self, code: &str) -> Result<Vec<PhotoInfo>> {
        let Some(code) = danvan_domain::feedback::TrackingCode::parse(code) else {
            return Ok(Vec::new());
        };
        let rows: Vec<(String, i64)> = on_db!(&self.db, |p| sqlx::query_as(&format!(
            "SELECT p.mime, CAST(LENGTH(p.bytes) AS BIGINT) FROM feedback_photos p \
             JOIN feedback f ON f.id = p.feedback_id JOIN topics t ON t.id = f.topic_id \
             WHERE f.code = $1 AND {TEXT_IS_PUBLIC} ORDER BY p.id"
        ))
        .bind(code.as_str())
        .fetch_all(p)
        .await?);
        Ok(rows
            .into_iter()
            .zip(1..)
            .map(|((mime, size), n)| PhotoInfo { n, mime, size })
            .collect())
    }

    /// Photo `n` (1-based) of a public item: its type and bytes.
    pub async fn public_photo(&self, code: &str, n: i64) -> Result<(String, Vec<u8>)> {
        let code =
            danvan_domain::feedback::TrackingCode::parse(code).ok_or(StoreError::NotFound)?;
        if !(1..=MAX_PHOTOS as i64).contains(&n) {
            return Err(StoreError::NotFound);
        }
        let row: Option<(String, Vec<u8>)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            &format!("SELECT p.mime, p.bytes FROM feedback_photos p JOIN feedback f ON f.id = p.feedback_id \
             JOIN topics t ON t.id = f.topic_id \
             WHERE f.code = $1 AND {TEXT_IS_PUBLIC} ORDER BY p.id LIMIT 1 OFFSET $2")
        )
        .bind(code.as_str())
        .bind(n - 1)
        .fetch_optional(p)
        .await?
        });
        row.ok_or(StoreError::NotFound)
    }

    /// Photo `n` (1-based) of an item the viewer may see (an officer's
    /// page: confidential items too, when the viewer may see them).
    pub async fn feedback_photo(
        &self,
        viewer: &crate::feedback::Viewer,
        id: i64,
        n: i64,
    ) -> Result<(String, Vec<u8>)> {
        if self.feedback(viewer, id).await?.sealed || !(1..=MAX_PHOTOS as i64).contains(&n) {
            return Err(StoreError::NotFound);
        }
        let row: Option<(String, Vec<u8>)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT mime, bytes FROM feedback_photos WHERE feedback_id = $1 ORDER BY id LIMIT 1 OFFSET $2"
        )
        .bind(id)
        .bind(n - 1)
        .fetch_optional(p)
        .await?
        });
        row.ok_or(StoreError::NotFound)
    }

    /// How many photos an item has (any item; for officers' pages and tests).
    pub async fn photo_count(&self, feedback_id: i64) -> Result<i64> {
        let (n,): (i64,) = on_db!(&self.db, |p| sqlx::query_as(
            "SELECT COUNT(*) FROM feedback_photos WHERE feedback_id = $1"
        )
        .bind(feedback_id)
        .fetch_one(p)
        .await?);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn files_are_known_by_their_first_bytes() {
        let rgb = DynamicImage::ImageRgb8(RgbImage::from_pixel(4, 4, Rgb([1, 2, 3])));
        assert_eq!(
            sniff(&encode(&rgb, ImageFormat::Jpeg)),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            sniff(&encode(&rgb, ImageFormat::Png)),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            sniff(&encode(&rgb, ImageFormat::WebP)),
            Some(ImageFormat::WebP)
        );
        for other in [
            &b"GIF89a......"[..],
            b"%PDF-1.7",
            b"MZ\x90\0",
            b"",
            b"RIFF\0\0\0\0WAVE",
        ] {
            assert_eq!(sniff(other), None);
            assert_eq!(CleanPhoto::clean(other), Err(PhotoError::NotAnImage));
        }
    }

    #[test]
    fn webp_becomes_jpeg_or_png_with_transparency() {
        let rgb = DynamicImage::ImageRgb8(RgbImage::from_pixel(6, 4, Rgb([200, 10, 10])));
        let clean = CleanPhoto::clean(&encode(&rgb, ImageFormat::WebP)).unwrap();
        assert_eq!(clean.mime(), "image/jpeg");
        assert_eq!(sniff(clean.bytes()), Some(ImageFormat::Jpeg));
        let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(6, 4, Rgba([0, 0, 0, 0])));
        let clean = CleanPhoto::clean(&encode(&rgba, ImageFormat::WebP)).unwrap();
        assert_eq!(clean.mime(), "image/png");
        assert_eq!((clean.width(), clean.height()), (6, 4));
    }

    #[test]
    fn png_loses_its_text_chunks() {
        let rgb = DynamicImage::ImageRgb8(RgbImage::from_pixel(5, 5, Rgb([9, 9, 9])));
        let png = encode(&rgb, ImageFormat::Png);
        // A tEXt chunk right after IHDR (8 + 25 bytes in).
        let body = b"tEXtComment\0lat 21.31 lon 106.18";
        let mut chunk = ((body.len() - 4) as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(body);
        chunk.extend_from_slice(&crc32(body).to_be_bytes());
        let mut with_text = png[..33].to_vec();
        with_text.extend_from_slice(&chunk);
        with_text.extend_from_slice(&png[33..]);
        let clean = CleanPhoto::clean(&with_text).unwrap();
        assert_eq!(clean.mime(), "image/png");
        assert!(!clean.bytes().windows(6).any(|w| w == b"lat 21"));
    }

    #[test]
    fn large_photos_are_made_smaller_and_bombs_refused() {
        let wide = DynamicImage::ImageRgb8(RgbImage::from_pixel(4000, 20, Rgb([5, 5, 5])));
        let clean = CleanPhoto::clean(&encode(&wide, ImageFormat::Jpeg)).unwrap();
        assert_eq!(clean.width(), MAX_SIDE);
        assert!(clean.height() <= 10);
        // A PNG that claims 20 000 × 20 000 pixels in a few bytes.
        let mut png = encode(
            &DynamicImage::ImageRgb8(RgbImage::new(1, 1)),
            ImageFormat::Png,
        );
        png[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(CleanPhoto::clean(&png), Err(PhotoError::TooManyPixels));
        // 8 000 × 8 000 is within the side limit but 64 megapixels: refused
        // from its header (decoding would find no pixel data: Corrupt).
        png[16..20].copy_from_slice(&8_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&8_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(CleanPhoto::clean(&png), Err(PhotoError::TooManyPixels));
        // 7 000 × 7 000 (49 megapixels) passes the header check and fails
        // only at decoding.
        png[16..20].copy_from_slice(&7_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&7_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(CleanPhoto::clean(&png), Err(PhotoError::Corrupt));
        assert_eq!(
            CleanPhoto::clean(&vec![0xFF; MAX_PHOTO_BYTES + 1]),
            Err(PhotoError::TooLarge)
        );
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
