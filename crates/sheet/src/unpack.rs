//! Refusing XLSX files that unpack to far more than a household list (zip
//! bombs) before calamine opens them.
//!
//! An XLSX file is a zip archive of XML parts. calamine trusts it: it loads
//! the shared-string table whole into memory and streams the worksheet one
//! XML event at a time (so a worksheet that is one giant cell is held whole
//! too). A 6.5 MB upload whose shared strings expanded to 3 GB took the
//! server to 3.2 GB. So [`check`], in order:
//!
//! 1. counts central-directory records in the raw bytes, before the zip
//!    crate builds a few hundred bytes of memory for each one;
//! 2. reads the central directory: the number of parts, each part's declared
//!    unpacked size and packing ratio, and their sum — free, no unpacking;
//! 3. since declared sizes can lie, unpacks every part into a sink, each
//!    read cut one byte past what the part may hold: memory stays one copy
//!    buffer and time stays bounded by [`MAX_TOTAL_BYTES`].
//!
//! Nothing reaches calamine, and no row reaches the caller, unless all pass.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use zip::ZipArchive;

use crate::{truncate, SheetError, UnpackLimit};

const MIB: u64 = 1024 * 1024;

/// Largest unpacked worksheet (`xl/worksheets/*.xml`). Measured on 100,000
/// fully filled rows: our own export writes ~780 bytes a row (inline
/// strings), Excel-style shared-string sheets ~450. 256 MiB is thus over
/// 330,000 full rows; a hamlet's list is ~250 households (~1,000 residents)
/// and a commune's a few tens of thousands. calamine streams the sheet, but
/// holds a whole XML event, and reads the sheet three times (merged ranges,
/// formulas, values): this bounds both.
pub(crate) const MAX_WORKSHEET_BYTES: u64 = 256 * MIB;

/// Largest unpacked part of any other kind. Above all this is
/// `xl/sharedStrings.xml`, which calamine holds whole in memory (every
/// distinct text once): ~115 bytes per fully distinct row measured, so
/// 64 MiB is over 550,000 rows. Also styles (Excel's 64,000-style maximum is
/// ~10 MB), the workbook and relationship parts, also held whole.
pub(crate) const MAX_PART_BYTES: u64 = 64 * MIB;

/// Largest unpacked size of all parts together: a worksheet and shared
/// strings at their limits with room for a few more sheets (only the first
/// worksheet is read, but every part is unpacked once by [`check`]).
pub(crate) const MAX_TOTAL_BYTES: u64 = 512 * MIB;

/// Most parts (entries) in the archive. A workbook has ~10 parts plus 2–4
/// per sheet (sheet, its relationships, drawing, comments); 1,000 is
/// hundreds of sheets. Bounds the zip crate's central directory in memory
/// and the bombs made of many entries overlapping the same packed data.
pub(crate) const MAX_PARTS: usize = 1_000;

/// Largest unpacked/packed ratio of a part above [`RATIO_GRACE_BYTES`]. The
/// XML in real workbooks packs 2–11 times (measured: worksheets 9–11,
/// shared strings 7.6); deflate reaches ~1,000 only on crafted repetition.
/// Apache POI refuses above 100 too.
pub(crate) const MAX_RATIO: u64 = 100;

/// Parts up to this size pass whatever their ratio: a small part of
/// repeated entries packs very well and costs nothing to unpack.
pub(crate) const RATIO_GRACE_BYTES: u64 = MIB;

/// The limits [`check_with`] applies; tests lower them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) worksheet: u64,
    pub(crate) part: u64,
    pub(crate) total: u64,
    pub(crate) parts: usize,
    pub(crate) ratio: u64,
    pub(crate) ratio_grace: u64,
}

impl Limits {
    pub(crate) const DEFAULT: Limits = Limits {
        worksheet: MAX_WORKSHEET_BYTES,
        part: MAX_PART_BYTES,
        total: MAX_TOTAL_BYTES,
        parts: MAX_PARTS,
        ratio: MAX_RATIO,
        ratio_grace: RATIO_GRACE_BYTES,
    };
}

/// Refuses an XLSX file that unpacks past [`Limits::DEFAULT`].
pub(crate) fn check(path: &Path) -> Result<(), SheetError> {
    check_with(path, &Limits::DEFAULT)
}

pub(crate) fn check_with(path: &Path, limits: &Limits) -> Result<(), SheetError> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    if count_directory_records(&file, limits.parts)? > limits.parts {
        return Err(refuse(UnpackLimit::Parts { max: limits.parts }));
    }
    let mut zip = ZipArchive::new(BufReader::new(file)).map_err(broken)?;
    if zip.len() > limits.parts {
        return Err(refuse(UnpackLimit::Parts { max: limits.parts }));
    }

    // What the central directory declares: refuses honest bombs and
    // oversized workbooks without unpacking a byte.
    let mut declared_total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(broken)?;
        let part = Part::new(entry.name(), entry.compressed_size(), file_len, limits);
        part.check(entry.size())?;
        declared_total = declared_total.saturating_add(entry.size());
        if declared_total > limits.total {
            return Err(refuse(UnpackLimit::Total {
                max_bytes: limits.total,
            }));
        }
    }

    // What the parts really unpack to: each read stops one byte past what
    // may be unpacked, so a lying size costs no more than an honest one.
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(broken)?;
        let part = Part::new(entry.name(), entry.compressed_size(), file_len, limits);
        let allowed = part.allowed().min(limits.total.saturating_sub(total));
        let unpacked = io::copy(
            &mut (&mut entry).take(allowed.saturating_add(1)),
            &mut io::sink(),
        )
        .map_err(|e| SheetError::Xlsx(format!("{}: {e}", truncate(&part.name, MAX_NAME_SHOWN))))?;
        part.check(unpacked)?;
        total += unpacked;
        if total > limits.total {
            return Err(refuse(UnpackLimit::Total {
                max_bytes: limits.total,
            }));
        }
    }
    Ok(())
}

/// One part's limits.
struct Part {
    name: String,
    /// Its unpacked limit: worksheets are streamed, other parts held whole.
    max: u64,
    /// Its packed size, never more than the file holds.
    packed: u64,
    ratio: u64,
    ratio_grace: u64,
}

impl Part {
    fn new(name: &str, packed: u64, file_len: u64, limits: &Limits) -> Part {
        let normal = name.replace('\\', "/").to_ascii_lowercase();
        let normal = normal.trim_start_matches('/');
        let worksheet = normal.starts_with("xl/worksheets/") && normal.ends_with(".xml");
        Part {
            name: name.to_string(),
            max: if worksheet {
                limits.worksheet
            } else {
                limits.part
            },
            packed: packed.min(file_len),
            ratio: limits.ratio,
            ratio_grace: limits.ratio_grace,
        }
    }

    /// The most this part may unpack to.
    fn allowed(&self) -> u64 {
        let by_ratio = self.ratio.saturating_mul(self.packed).max(self.ratio_grace);
        self.max.min(by_ratio)
    }

    fn check(&self, unpacked: u64) -> Result<(), SheetError> {
        if unpacked > self.max {
            return Err(refuse(UnpackLimit::Part {
                name: truncate(&self.name, MAX_NAME_SHOWN),
                max_bytes: self.max,
            }));
        }
        if unpacked > self.ratio_grace && unpacked > self.ratio.saturating_mul(self.packed) {
            return Err(refuse(UnpackLimit::Ratio {
                name: truncate(&self.name, MAX_NAME_SHOWN),
                max: self.ratio,
            }));
        }
        Ok(())
    }
}

/// Longest part name put in a message, in characters: the name is the
/// file's to choose.
const MAX_NAME_SHOWN: usize = 60;

/// Central-directory records in the file, counted until past `max`. The zip
/// crate checks each record's signature, so it can build no more entries
/// than there are signatures; a stray match in packed data is one in 2³².
fn count_directory_records(mut file: &File, max: usize) -> io::Result<usize> {
    const SIGNATURE: &[u8] = b"PK\x01\x02";
    let mut buf = vec![0u8; 64 * 1024];
    let mut kept = 0;
    let mut count = 0;
    loop {
        let n = file.read(&mut buf[kept..])?;
        if n == 0 {
            return Ok(count);
        }
        let filled = kept + n;
        count += buf[..filled]
            .windows(SIGNATURE.len())
            .filter(|w| *w == SIGNATURE)
            .count();
        if count > max {
            return Ok(count);
        }
        // A signature may straddle two reads: keep the last three bytes,
        // too few to hold one already counted.
        let keep = filled.min(SIGNATURE.len() - 1);
        buf.copy_within(filled - keep..filled, 0);
        kept = keep;
    }
}

fn refuse(limit: UnpackLimit) -> SheetError {
    SheetError::TooLargeUnpacked(limit)
}

fn broken(e: zip::result::ZipError) -> SheetError {
    SheetError::Xlsx(e.to_string())
}
