//! Vietnamese text rules: normalisation, search folding, collation keys and
//! field cleaning.
//!
//! The same word arrives as NFC from one keyboard and NFD from another, so
//! everything here decomposes or composes before looking at characters.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::error::FieldError;

/// Unicode NFC, the form we store.
pub fn nfc(s: &str) -> String {
    nfc_cow(s).into_owned()
}

/// NFC without a copy when the text is already NFC, as nearly all input is
/// (the quick check is a table look-up per character; composing is not).
fn nfc_cow(s: &str) -> std::borrow::Cow<'_, str> {
    if unicode_normalization::is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.nfc().collect())
    }
}

/// Search key: lowercase, all combining marks (tones and vowel marks)
/// removed, `đ` → `d`, whitespace runs collapsed to one space, trimmed.
///
/// `ð`/`Ð` (Icelandic eth) also fold to `d`: `Ð` is visually identical to
/// `Đ` and legacy converters and some keyboards produce it.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    // Lowercase before decomposing: lowercasing can itself emit combining
    // marks (e.g. `İ` → `i̇`), which must then be dropped too.
    for c in s.chars().flat_map(char::to_lowercase).nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(match c {
            'đ' | 'ð' => 'd',
            other => other,
        });
    }
    out
}

/// Folds a choice typed by a user or found in a sheet ("basic_phone",
/// "Tổ trưởng", "province-officer") to a comparable key: underscores and
/// hyphens count as spaces.
pub(crate) fn choice_key(s: &str) -> String {
    fold(&s.replace(['_', '-'], " "))
}

// ---------------------------------------------------------------------------
// Collation
// ---------------------------------------------------------------------------
//
// A sort key is printable ASCII in three levels, like ICU:
//
//   primary '!' secondary '!' tertiary
//
// * primary: one code per character, base letters only (tones removed,
//   vowel marks kept since ă, â, ê, ô, ơ, ư, đ are letters of their own):
//     '$'            a whitespace run (collapsed; leading/trailing dropped)
//     '%' + c        ASCII punctuation c
//     '&' + 6 hex    any other symbol, by code point
//     '0'..'9'       ASCII digits
//     'A'..'Z','a'..'g'  the 33 letters a ă â b c d đ e ê f g h i j k l m n
//                    o ô ơ p q r s t u ư v w x y z, in that order
//     '~' + 6 hex    any other letter (lowercased), by code point
//   The codes are prefix-free, so equal primaries mean equal character
//   sequences and the lower levels line up position by position.
// * secondary: one digit per syllable (a run of letters/digits), its tone:
//   '0' ngang, '1' huyền, '2' hỏi, '3' ngã, '4' sắc, '5' nặng. Per syllable
//   rather than per letter so "Hòa" and "Hoà" (old and new tone placement)
//   get the same key.
// * tertiary: one digit per primary character, '0' lowercase, '1' uppercase.
//
// '!' is below every other code, so a string sorts before its extensions
// ("An" < "Anh") and lower levels only matter when the primaries are equal.

const LEVEL_SEP: char = '!';
/// Between the parts of a person's key; below every code a part's key holds.
const PART_SEP: char = ' ';

/// The Vietnamese alphabet (plus f, j, w, z) in dictionary order.
const LETTERS: [char; 33] = [
    'a', 'ă', 'â', 'b', 'c', 'd', 'đ', 'e', 'ê', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
    'ô', 'ơ', 'p', 'q', 'r', 's', 't', 'u', 'ư', 'v', 'w', 'x', 'y', 'z',
];

const BREVE: char = '\u{306}';
const CIRCUMFLEX: char = '\u{302}';
const HORN: char = '\u{31B}';

#[derive(Debug, Clone, Copy)]
enum Unit {
    Space,
    Punct(char),
    Symbol(char),
    Digit(char),
    Letter { index: usize, upper: bool, tone: u8 },
    OtherLetter { c: char, upper: bool, tone: u8 },
}

impl Unit {
    fn in_syllable(&self) -> bool {
        matches!(
            self,
            Unit::Digit(_) | Unit::Letter { .. } | Unit::OtherLetter { .. }
        )
    }

    fn tone(&self) -> u8 {
        match self {
            Unit::Letter { tone, .. } | Unit::OtherLetter { tone, .. } => *tone,
            _ => 0,
        }
    }

    fn upper(&self) -> bool {
        match self {
            Unit::Letter { upper, .. } | Unit::OtherLetter { upper, .. } => *upper,
            _ => false,
        }
    }
}

fn tone_of(mark: char) -> Option<u8> {
    match mark {
        '\u{300}' => Some(1), // huyền
        '\u{309}' => Some(2), // hỏi
        '\u{303}' => Some(3), // ngã
        '\u{301}' => Some(4), // sắc
        '\u{323}' => Some(5), // nặng
        _ => None,
    }
}

fn letter_index(c: char) -> Option<usize> {
    LETTERS.iter().position(|&l| l == c)
}

/// Applies a vowel mark (breve, circumflex, horn) to a base letter; marks
/// that do not make a Vietnamese letter are ignored.
fn with_vowel_mark(index: usize, mark: char) -> usize {
    let target = match (LETTERS[index], mark) {
        ('a', BREVE) => 'ă',
        ('a', CIRCUMFLEX) => 'â',
        ('e', CIRCUMFLEX) => 'ê',
        ('o', CIRCUMFLEX) => 'ô',
        ('o', HORN) => 'ơ',
        ('u', HORN) => 'ư',
        _ => return index,
    };
    letter_index(target).unwrap_or(index)
}

fn classify(c: char) -> Unit {
    let upper = c.is_uppercase();
    let mut lower_chars = c.to_lowercase();
    let lower = match (lower_chars.next(), lower_chars.next()) {
        (Some(l), None) => l,
        _ => c,
    };
    let lower = if lower == 'ð' { 'đ' } else { lower };
    if let Some(index) = letter_index(lower) {
        Unit::Letter {
            index,
            upper,
            tone: 0,
        }
    } else if c.is_ascii_digit() {
        Unit::Digit(c)
    } else if c.is_ascii_punctuation() {
        Unit::Punct(c)
    } else if c.is_alphanumeric() {
        Unit::OtherLetter {
            c: lower,
            upper,
            tone: 0,
        }
    } else {
        Unit::Symbol(c)
    }
}

fn units(s: &str) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut pending_space = false;
    for c in s.nfd() {
        if is_combining_mark(c) {
            // A mark after whitespace has no letter to attach to.
            if pending_space {
                continue;
            }
            match units.last_mut() {
                Some(Unit::Letter { index, tone, .. }) => match tone_of(c) {
                    Some(t) if *tone == 0 => *tone = t,
                    Some(_) => {}
                    None => *index = with_vowel_mark(*index, c),
                },
                Some(Unit::OtherLetter { tone, .. }) => {
                    if let Some(t) = tone_of(c) {
                        if *tone == 0 {
                            *tone = t;
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        if c.is_whitespace() {
            pending_space = !units.is_empty();
            continue;
        }
        if c.is_control() {
            continue;
        }
        if pending_space {
            units.push(Unit::Space);
            pending_space = false;
        }
        units.push(classify(c));
    }
    units
}

fn push_hex(out: &mut String, c: char) {
    out.push_str(&format!("{:06X}", u32::from(c)));
}

fn letter_code(index: usize) -> char {
    // index < 33 by construction; 'A'..'Z' then 'a'..'g'.
    let byte = if index < 26 {
        b'A' + index as u8
    } else {
        b'a' + (index - 26) as u8
    };
    char::from(byte)
}

struct Levels {
    primary: String,
    secondary: String,
    tertiary: String,
}

fn levels(s: &str) -> Levels {
    let units = units(s);
    let mut primary = String::with_capacity(units.len());
    let mut secondary = String::new();
    let mut tertiary = String::with_capacity(units.len());
    // Tone of the current syllable; None outside a syllable.
    let mut syllable: Option<u8> = None;
    for unit in &units {
        match unit {
            Unit::Space => primary.push('$'),
            Unit::Punct(c) => {
                primary.push('%');
                primary.push(*c);
            }
            Unit::Symbol(c) => {
                primary.push('&');
                push_hex(&mut primary, *c);
            }
            Unit::Digit(c) => primary.push(*c),
            Unit::Letter { index, .. } => primary.push(letter_code(*index)),
            Unit::OtherLetter { c, .. } => {
                primary.push('~');
                push_hex(&mut primary, *c);
            }
        }
        tertiary.push(if unit.upper() { '1' } else { '0' });
        if unit.in_syllable() {
            let tone = syllable.unwrap_or(0);
            // The first tone mark of a syllable counts.
            syllable = Some(if tone == 0 { unit.tone() } else { tone });
        } else if let Some(tone) = syllable.take() {
            secondary.push(char::from(b'0' + tone));
        }
    }
    if let Some(tone) = syllable {
        secondary.push(char::from(b'0' + tone));
    }
    Levels {
        primary,
        secondary,
        tertiary,
    }
}

/// A key whose byte order (SQL `COLLATE "C"`, SQLite BINARY) is Vietnamese
/// dictionary order: base letters first (a < ă < â < b … d < đ < e …), then
/// tones (ngang < huyền < hỏi < ngã < sắc < nặng), then case (lowercase
/// first). Printable ASCII; see the module comment for the layout.
pub fn sort_key(s: &str) -> String {
    let l = levels(s);
    let mut key = String::with_capacity(l.primary.len() + l.secondary.len() + l.tertiary.len() + 2);
    key.push_str(&l.primary);
    key.push(LEVEL_SEP);
    key.push_str(&l.secondary);
    key.push(LEVEL_SEP);
    key.push_str(&l.tertiary);
    key
}

/// Sort key for people: given name, then family name, then middle name.
///
/// Construction: `sort_key(given) ' ' sort_key(family) ' ' sort_key(middle)`.
/// Each part is compared whole (letters, then tones, then case) before the
/// next part counts, as a person reading a list sorted "by given name"
/// expects: every "Anh" before any "Ánh", whatever the family names. The
/// space sorts below every character a `sort_key` contains (`'!'` and up),
/// and equal parts have keys of equal length, so the parts never bleed into
/// each other.
pub fn person_sort_key(family: &str, middle: &str, given: &str) -> String {
    let mut key = sort_key(given);
    key.push(PART_SEP);
    key.push_str(&sort_key(family));
    key.push(PART_SEP);
    key.push_str(&sort_key(middle));
    key
}

// ---------------------------------------------------------------------------
// Field cleaning
// ---------------------------------------------------------------------------

fn check_len(s: String, max_chars: usize) -> Result<String, FieldError> {
    if s.chars().count() > max_chars {
        Err(FieldError::TooLong { max: max_chars })
    } else {
        Ok(s)
    }
}

/// One-line field: NFC, trimmed, whitespace runs (tabs, newlines, NBSP …)
/// collapsed to one space. Other control characters are rejected rather than
/// silently dropped, since they usually mean a broken paste or import.
/// May return "".
pub fn clean_line(s: &str, max_chars: usize) -> Result<String, FieldError> {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in nfc_cow(s).chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() {
            return Err(FieldError::ControlChars);
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    check_len(out, max_chars)
}

/// [`clean_line`], but "" is an error.
pub fn clean_required(s: &str, max_chars: usize) -> Result<String, FieldError> {
    let out = clean_line(s, max_chars)?;
    if out.is_empty() {
        Err(FieldError::Empty)
    } else {
        Ok(out)
    }
}

/// Multi-line field: NFC, CRLF/CR (and U+2028/U+2029) to LF, each line's end
/// trimmed, leading and trailing blank space removed. Tabs and other
/// whitespace controls become spaces; any other control character is
/// rejected. May return "".
pub fn clean_text(s: &str, max_chars: usize) -> Result<String, FieldError> {
    let normalized = nfc(s).replace("\r\n", "\n");
    let mut out = String::with_capacity(normalized.len());
    let mut line = String::new();
    for c in normalized.chars() {
        match c {
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => {
                out.push_str(line.trim_end());
                out.push('\n');
                line.clear();
            }
            c if c.is_control() && c.is_whitespace() => line.push(' '),
            c if c.is_control() => return Err(FieldError::ControlChars),
            c => line.push(c),
        }
    }
    out.push_str(line.trim_end());
    check_len(out.trim().to_owned(), max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nfd(s: &str) -> String {
        s.nfd().collect()
    }

    #[test]
    fn nfc_composes() {
        assert_eq!(nfc(&nfd("Nguyễn Đức")), "Nguyễn Đức");
        assert_ne!(nfd("Nguyễn"), "Nguyễn");
    }

    #[test]
    fn fold_examples() {
        assert_eq!(fold("  NGUYỄN  Văn Đức "), "nguyen van duc");
        assert_eq!(fold("Hoà"), "hoa");
        assert_eq!(fold("Hòa"), "hoa");
        assert_eq!(fold("Nữ"), "nu");
        assert_eq!(fold("đường\tĐẮK\u{a0}LẮK\n"), "duong dak lak");
        assert_eq!(fold("Ưu Ơn Ấy Ặc Ễnh Ộp Ựa"), "uu on ay ac enh op ua");
        assert_eq!(fold(""), "");
        assert_eq!(fold("   "), "");
        // Eth lookalike of Đ.
        assert_eq!(fold("Ðức"), "duc");
    }

    #[test]
    fn fold_nfc_and_nfd_agree() {
        for s in [
            "Nguyễn Văn Đức",
            "Trần Thị Hồng Nhung",
            "Phạm Ngọc Thạch",
            "Hoà",
            "ĐỖ",
        ] {
            assert_eq!(fold(s), fold(&nfd(s)), "{s}");
            assert_eq!(fold(&nfc(s)), fold(&nfd(s)), "{s}");
        }
    }

    fn assert_sorted(words: &[&str]) {
        for pair in words.windows(2) {
            let (a, b) = (sort_key(pair[0]), sort_key(pair[1]));
            assert!(
                a < b,
                "{:?} ({a}) should sort before {:?} ({b})",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn alphabet_order() {
        assert_sorted(&[
            "a", "ă", "â", "b", "c", "d", "đ", "e", "ê", "f", "g", "h", "i", "j", "k", "l", "m",
            "n", "o", "ô", "ơ", "p", "q", "r", "s", "t", "u", "ư", "v", "w", "x", "y", "z",
        ]);
        assert_sorted(&["Dung", "Dũng", "Duy", "Đại", "Đức", "Em"]);
    }

    #[test]
    fn tone_order() {
        assert_sorted(&["ma", "mà", "mả", "mã", "má", "mạ"]);
        assert_sorted(&["Anh", "Ánh", "Bảo"]);
        // Base letters over the whole string decide before any tone.
        assert_sorted(&["Ánh", "Anhx"]);
        assert_sorted(&["mạ a", "ma b"]);
    }

    #[test]
    fn examples_from_brief() {
        assert_sorted(&["An", "Anh"]);
        assert_sorted(&["Oanh", "Ông", "Ơn"]);
        assert_sorted(&["Vy", "Yến"]);
        assert_eq!(sort_key("Hòa"), sort_key("Hoà"));
        assert_eq!(sort_key("Thủy"), sort_key("Thuỷ"));
    }

    #[test]
    fn case_is_last() {
        assert_sorted(&["an", "An", "AN", "àn"]);
        assert_sorted(&["đ", "Đ", "e"]);
    }

    #[test]
    fn digits_spaces_and_punctuation() {
        assert_eq!(sort_key(""), sort_key("  "));
        assert_sorted(&["", "-", "1", "10", "2", "9", "a"]);
        // Digits compare one by one, like ICU without numeric ordering.
        assert_sorted(&["Thôn 10", "Thôn 2"]);
        assert_sorted(&["An Bình", "Anh"]);
        assert_sorted(&["ab", "ab c", "abc"]);
    }

    #[test]
    fn nfd_and_whitespace_give_same_key() {
        for s in [
            "Nguyễn Văn Đức",
            "Phạm Thị Ngọc Ánh",
            "Ưng Hoàng Phúc",
            "Lê Thị Hoà",
        ] {
            assert_eq!(sort_key(s), sort_key(&nfd(s)), "{s}");
        }
        assert_eq!(sort_key("  Lê   Văn  "), sort_key("Lê Văn"));
    }

    #[test]
    fn keys_are_printable_ascii() {
        for s in [
            "Nguyễn", "日本", "Ø", "€ 5", "a\u{0}b", "\u{301}x", "İ", "ß", "Müller",
        ] {
            let key = sort_key(s);
            assert!(
                key.bytes().all(|b| (0x21..=0x7e).contains(&b)),
                "{s:?} -> {key}"
            );
            let key = person_sort_key(s, s, s);
            assert!(
                key.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                "{s:?} -> {key}"
            );
        }
    }

    #[test]
    fn other_scripts_sort_after_vietnamese_letters() {
        assert_sorted(&["z", "ø", "日"]);
    }

    fn person(full: &str) -> String {
        let words: Vec<&str> = full.split(' ').collect();
        let family = words.first().copied().unwrap_or("");
        let given = words.last().copied().unwrap_or("");
        let middle = if words.len() > 2 {
            words[1..words.len() - 1].join(" ")
        } else {
            String::new()
        };
        person_sort_key(family, &middle, given)
    }

    #[test]
    fn people_sort_by_given_then_family_then_middle() {
        let names = [
            "Trần Văn An",
            "Nguyễn Văn Ân",
            "Lê Thị Hoa",
            "Lê Thị Hòa",
            "Lê Văn Hòa",
            "Nguyễn Thị Hoa Hòa",
            "Nguyễn Hòa",
            "Nguyễn Anh Hòa",
            "Phạm Văn Hùng",
            "Đỗ Thị Yến",
        ];
        // Expected: given name whole, then family name, then middle name.
        let expected = [
            "Trần Văn An",
            "Nguyễn Văn Ân",
            "Lê Thị Hoa",
            "Lê Thị Hòa",
            "Lê Văn Hòa",
            "Nguyễn Hòa",
            "Nguyễn Anh Hòa",
            "Nguyễn Thị Hoa Hòa",
            "Phạm Văn Hùng",
            "Đỗ Thị Yến",
        ];
        let mut sorted = names.to_vec();
        sorted.sort_by_key(|n| person(n));
        assert_eq!(sorted, expected);
        assert!(person("Nguyễn Văn An") < person("Trần Văn Ân"));
        assert!(person("Lê Thị Hoa") < person("Lê Thị Hòa"));
        // Each part whole before the next: family "Lê" < "Lễ" (a tone) decides
        // before middle "Văn" < "Vân" (a letter) is looked at.
        assert!(person("Lê Vân An") < person("Lễ Văn An"));
        // Every "Anh" before any "Ánh", whatever the family name.
        assert!(person("Phạm Đức Anh") < person("Lê Thị Ánh"));
        // Given name only.
        assert!(person_sort_key("", "", "An") < person_sort_key("Nguyễn", "", "An"));
    }

    #[test]
    fn clean_line_rules() {
        assert_eq!(
            clean_line("  Thôn \t Đông\n Hà  ", 50),
            Ok("Thôn Đông Hà".into())
        );
        assert_eq!(clean_line(&nfd("Nguyễn"), 50), Ok("Nguyễn".into()));
        assert_eq!(clean_line("   ", 5), Ok(String::new()));
        assert_eq!(clean_line("a\u{7}b", 5), Err(FieldError::ControlChars));
        assert_eq!(clean_line("a\u{0}", 5), Err(FieldError::ControlChars));
        // Counted in characters after cleaning, NFC.
        assert_eq!(clean_line(&nfd("Nguyễn"), 6), Ok("Nguyễn".into()));
        assert_eq!(clean_line("  abcdef  ", 6), Ok("abcdef".into()));
        assert_eq!(
            clean_line("abcdefg", 6),
            Err(FieldError::TooLong { max: 6 })
        );
    }

    #[test]
    fn clean_required_rules() {
        assert_eq!(clean_required(" \t\n ", 5), Err(FieldError::Empty));
        assert_eq!(clean_required(" x ", 5), Ok("x".into()));
    }

    #[test]
    fn clean_text_rules() {
        assert_eq!(
            clean_text("\r\n  Dòng một  \r\nDòng\thai\r\rBa   \n\n", 100),
            Ok("Dòng một\nDòng hai\n\nBa".into())
        );
        assert_eq!(clean_text("a\u{1b}[0m", 100), Err(FieldError::ControlChars));
        assert_eq!(
            clean_text("abc\ndef", 6),
            Err(FieldError::TooLong { max: 6 })
        );
        assert_eq!(clean_text("abc\nde", 6), Ok("abc\nde".into()));
        assert_eq!(clean_text(" \n ", 6), Ok(String::new()));
    }

    #[test]
    fn choice_keys() {
        assert_eq!(choice_key("Basic_Phone"), "basic phone");
        assert_eq!(choice_key(" Tổ  trưởng "), "to truong");
    }
}
