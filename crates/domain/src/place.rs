//! Placing a report that names no hamlet: by the words of an address
//! ("thôn Mai Hoàng, xã Phúc Sơn") or by a point. Pure rules; the store
//! looks the keys up in SQL.

use crate::text::fold;

/// The words that say what kind of unit a name is ("Thôn", "Xã" …), folded,
/// longest first so "to dan pho" is taken before "to".
const KIND_WORDS: [&str; 23] = [
    "thanh pho ",
    "to dan pho ",
    "thi tran ",
    "dac khu ",
    "khu pho ",
    "thi xa ",
    "phuong ",
    "huyen ",
    "quan ",
    "tinh ",
    "thon ",
    "buon ",
    "plei ",
    "khom ",
    "lang ",
    "xom ",
    "ban ",
    "khu ",
    "soc ",
    "xa ",
    "ap ",
    "to ",
    "khoi ",
];

/// The folded words of `s`: runs of letters and digits, one space between.
fn words(s: &str) -> String {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The key an address is matched against: the unit's folded name without
/// its kind word ("Thôn Mai Hoàng" → "mai hoang", "Xã Phúc Sơn" → "phuc
/// son"). A name that would keep no letter ("Thôn 3", "Tổ dân phố số 5")
/// keeps its kind word, so a house number never names a hamlet.
pub fn place_key(name: &str) -> String {
    let full = words(name);
    // One kind word only: "Thôn Bàn Thạch" is "ban thach", not "thach".
    let bare = KIND_WORDS
        .iter()
        .find_map(|k| full.strip_prefix(k).filter(|r| !r.is_empty()))
        .unwrap_or(full.as_str());
    // "Tổ dân phố số 5": "số" is no name either.
    let named = bare.strip_prefix("so ").unwrap_or(bare);
    if named.chars().any(char::is_alphabetic) {
        bare.to_string()
    } else {
        full
    }
}

/// Longest place name, in words, that an address is searched for.
pub const MAX_NAME_WORDS: usize = 6;
/// Longest address read (characters); the rest is ignored.
pub const MAX_ADDRESS_CHARS: usize = 300;

/// Every run of 1 to [`MAX_NAME_WORDS`] consecutive words of the address,
/// folded, without repeats, within the parts commas (or semicolons, new
/// lines) separate: the keys a hamlet's or commune's [`place_key`] may
/// equal.
pub fn address_grams(address: &str) -> Vec<String> {
    let address: String = address.chars().take(MAX_ADDRESS_CHARS).collect();
    let mut out: Vec<String> = Vec::new();
    for part in address.split([',', ';', '\n', '|']) {
        let w = words(part);
        let w: Vec<&str> = w.split(' ').filter(|x| !x.is_empty()).collect();
        for start in 0..w.len() {
            for len in 1..=MAX_NAME_WORDS.min(w.len() - start) {
                let gram = w[start..start + len].join(" ");
                if !out.contains(&gram) {
                    out.push(gram);
                }
            }
        }
    }
    out
}

/// Whether key `inner` is a run of whole words of `outer` and shorter.
pub fn key_within(inner: &str, outer: &str) -> bool {
    inner.len() < outer.len() && format!(" {outer} ").contains(&format!(" {inner} "))
}

/// A hamlet a report could go to, shown when the place is unclear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceCandidate {
    pub hamlet_id: i64,
    pub hamlet: String,
    pub commune: String,
    /// From the point given, when a point was.
    pub metres: Option<i64>,
}

/// Kilometres in a degree of latitude.
pub const KM_PER_DEGREE: f64 = 111.2;

/// Metres between two points close together (the flat-earth approximation
/// is within a few metres at the scale of a commune).
pub fn metres_between(a: (f64, f64), b: (f64, f64)) -> i64 {
    let cos = ((a.0 + b.0) / 2.0).to_radians().cos();
    let dy = a.0 - b.0;
    let dx = (a.1 - b.1) * cos;
    ((dx * dx + dy * dy).sqrt() * KM_PER_DEGREE * 1000.0).round() as i64
}

/// How far past its outermost hamlets' centres a commune's area reaches.
pub const AREA_MARGIN_KM: f64 = 1.5;
/// How far from a point hamlets are looked for at all.
pub const SEARCH_KM: f64 = 30.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_drop_the_kind_but_keep_a_number_named() {
        assert_eq!(place_key("Thôn Mai Hoàng"), "mai hoang");
        assert_eq!(place_key("Xã Phúc Sơn"), "phuc son");
        assert_eq!(place_key("Tổ dân phố Đồng Lầm"), "dong lam");
        assert_eq!(place_key("Thị trấn Nhã Nam"), "nha nam");
        assert_eq!(place_key("Mai Hoàng"), "mai hoang");
        assert_eq!(place_key("Thôn 3"), "thon 3");
        assert_eq!(place_key("Tổ dân phố số 5"), "to dan pho so 5");
        assert_eq!(place_key("Ấp 1-2"), "ap 1 2");
        assert_eq!(place_key("Thôn Bàn Thạch"), "ban thach");
        // A name that is only a kind word stays itself.
        assert_eq!(place_key("Xóm"), "xom");
    }

    #[test]
    fn grams_stay_within_the_parts_of_an_address() {
        let g = address_grams("thon mai hoang, phuc son");
        for k in ["mai hoang", "thon mai hoang", "phuc son", "son", "thon"] {
            assert!(g.contains(&k.to_string()), "{k} in {g:?}");
        }
        assert!(!g.contains(&"hoang phuc".to_string()), "{g:?}");
        let g = address_grams("Số 12, Thôn Mai Hoàng; Xã Phúc Sơn");
        assert!(g.contains(&place_key("Thôn Mai Hoàng")));
        assert!(g.contains(&place_key("Xã Phúc Sơn")));
        assert!(!g.contains(&place_key("Thôn 12")));
        assert!(address_grams(" ,, ").is_empty());
        let long = "a ".repeat(1000);
        assert!(address_grams(&long).len() <= MAX_NAME_WORDS);
    }

    #[test]
    fn whole_words_within() {
        assert!(key_within("tan lap", "tan lap 2"));
        assert!(!key_within("tan lap", "tan lap"));
        assert!(!key_within("lap", "tan lapa"));
    }

    #[test]
    fn distances() {
        assert_eq!(metres_between((21.0, 106.0), (21.0, 106.0)), 0);
        let one_km_north = 1.0 / KM_PER_DEGREE;
        assert_eq!(
            metres_between((21.0, 106.0), (21.0 + one_km_north, 106.0)),
            1000
        );
        // A degree of longitude is shorter than one of latitude there.
        let east = metres_between((21.0, 106.0), (21.0, 106.0 + one_km_north));
        assert!((930..=935).contains(&east), "{east}");
    }
}
