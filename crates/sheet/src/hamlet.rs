//! Resolving the hamlet named in a row to a hamlet of the target unit.

use std::collections::HashMap;

use danvan_domain::text::fold;

/// The hamlets of the unit being imported into, looked up by folded name.
#[derive(Debug, Clone, Default)]
pub struct HamletIndex {
    by_name: HashMap<String, Vec<Entry>>,
    /// Names without their kind ("Thôn 3" → "3"), tried when the exact name
    /// is not found, since sheets often write only the distinctive part.
    by_bare: HashMap<String, Vec<Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    id: i64,
    commune: String,
    /// Lowercase names with their diacritics, to tell apart names that fold
    /// alike ("Xã Đức Đông", "Xã Đức Đồng") when the file spells them out.
    exact_commune: String,
    exact_hamlet: String,
}

/// Lowercase, NFC, whitespace collapsed, the kind word ("xã", "thôn") dropped.
fn exact(name: &str, kinds: &[&str]) -> String {
    let s = danvan_domain::text::nfc(name)
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    kinds
        .iter()
        .find_map(|k| s.strip_prefix(k).filter(|rest| !rest.trim().is_empty()))
        .unwrap_or(&s)
        .trim()
        .to_string()
}

const EXACT_COMMUNE_KINDS: [&str; 4] = ["thị trấn ", "đặc khu ", "phường ", "xã "];
const EXACT_HAMLET_KINDS: [&str; 4] = ["tổ dân phố ", "thôn ", "xóm ", "ấp "];

pub(crate) enum Resolved {
    Found(i64),
    NotFound,
    Ambiguous,
}

const COMMUNE_KINDS: [&str; 4] = ["thi tran ", "dac khu ", "phuong ", "xa "];
const HAMLET_KINDS: [&str; 11] = [
    "to dan pho ",
    "khu pho ",
    "thon ",
    "xom ",
    "ban ",
    "buon ",
    "plei ",
    "khom ",
    "khu ",
    "ap ",
    "to ",
];

fn strip_kind(key: &str, kinds: &[&str]) -> String {
    kinds
        .iter()
        .find_map(|k| key.strip_prefix(k).filter(|rest| !rest.trim().is_empty()))
        .unwrap_or(key)
        .trim()
        .to_string()
}

fn commune_key(name: &str) -> String {
    strip_kind(&fold(name), &COMMUNE_KINDS)
}

impl HamletIndex {
    pub fn new(entries: impl IntoIterator<Item = (i64, String, String)>) -> Self {
        let mut index = HamletIndex::default();
        for (id, commune, hamlet) in entries {
            let key = fold(&hamlet);
            let entry = Entry {
                id,
                commune: commune_key(&commune),
                exact_commune: exact(&commune, &EXACT_COMMUNE_KINDS),
                exact_hamlet: exact(&hamlet, &EXACT_HAMLET_KINDS),
            };
            index
                .by_bare
                .entry(strip_kind(&key, &HAMLET_KINDS))
                .or_default()
                .push(entry.clone());
            index.by_name.entry(key).or_default().push(entry);
        }
        index
    }

    /// The hamlet id for a row's "Xã" (optional) and "Thôn" cells, or a
    /// Vietnamese message for the official.
    pub fn resolve(&self, commune: Option<&str>, hamlet: &str) -> Result<i64, String> {
        match self.lookup(commune, hamlet) {
            Resolved::Found(id) => Ok(id),
            other => Err(message(&other, commune, hamlet).0),
        }
    }

    pub(crate) fn lookup(&self, commune: Option<&str>, hamlet: &str) -> Resolved {
        let exact_commune = commune
            .map(|c| exact(c, &EXACT_COMMUNE_KINDS))
            .filter(|c| !c.is_empty());
        let commune = commune.map(commune_key).filter(|c| !c.is_empty());
        let key = fold(hamlet);
        let found = match pick(self.by_name.get(&key), commune.as_deref()) {
            Resolved::NotFound => pick(
                self.by_bare.get(&strip_kind(&key, &HAMLET_KINDS)),
                commune.as_deref(),
            ),
            found => found,
        };
        if !matches!(found, Resolved::Ambiguous) {
            return found;
        }
        // Names that fold alike: the spelling with diacritics decides, if it can.
        let exact_hamlet = exact(hamlet, &EXACT_HAMLET_KINDS);
        let mut ids: Vec<i64> = self
            .by_name
            .get(&key)
            .into_iter()
            .chain(self.by_bare.get(&strip_kind(&key, &HAMLET_KINDS)))
            .flatten()
            .filter(|e| e.exact_hamlet == exact_hamlet)
            .filter(|e| {
                exact_commune
                    .as_deref()
                    .is_none_or(|c| e.exact_commune == c)
            })
            .map(|e| e.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        match ids.as_slice() {
            [id] => Resolved::Found(*id),
            _ => Resolved::Ambiguous,
        }
    }
}

fn pick(candidates: Option<&Vec<Entry>>, commune: Option<&str>) -> Resolved {
    let mut ids: Vec<i64> = candidates
        .into_iter()
        .flatten()
        .filter(|e| commune.is_none_or(|c| e.commune == c))
        .map(|e| e.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    match ids.as_slice() {
        [] => Resolved::NotFound,
        [id] => Resolved::Found(*id),
        _ => Resolved::Ambiguous,
    }
}

/// (Vietnamese, English) messages for a failed lookup.
pub(crate) fn message(r: &Resolved, commune: Option<&str>, hamlet: &str) -> (String, String) {
    let hamlet = hamlet.trim();
    let commune = commune.map(str::trim).filter(|c| !c.is_empty());
    match (r, commune) {
        (Resolved::Ambiguous, None) => (
            format!("Có nhiều thôn tên «{hamlet}»; hãy ghi thêm cột Xã"),
            format!("Several hamlets are named «{hamlet}»; add the commune column (Xã)"),
        ),
        (Resolved::Ambiguous, Some(c)) => (
            format!("Có nhiều thôn tên «{hamlet}» thuộc «{c}»"),
            format!("Several hamlets named «{hamlet}» belong to «{c}»"),
        ),
        (_, None) => (
            format!("Không tìm thấy thôn «{hamlet}» trong đơn vị đã chọn"),
            format!("No hamlet «{hamlet}» in the chosen unit"),
        ),
        (_, Some(c)) => (
            format!("Không tìm thấy thôn «{hamlet}» thuộc «{c}» trong đơn vị đã chọn"),
            format!("No hamlet «{hamlet}» of «{c}» in the chosen unit"),
        ),
    }
}
