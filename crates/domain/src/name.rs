//! Vietnamese personal names: family, middle, given.

use crate::error::FieldError;
use crate::text;

/// A person's name split the Vietnamese way: "Nguyễn Thị Minh Khai" is
/// family "Nguyễn", middle "Thị Minh", given "Khai".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PersonName {
    pub family: String,
    pub middle: String,
    pub given: String,
}

/// Longest full name accepted, in characters.
pub const MAX_FULL_NAME: usize = 100;

impl PersonName {
    /// First word is the family name, last word the given name, the rest
    /// the middle name; a single word is a given name only.
    pub fn parse(full: &str) -> Result<Self, FieldError> {
        let cleaned = text::clean_required(full, MAX_FULL_NAME)?;
        let words: Vec<&str> = cleaned.split(' ').collect();
        let name = match words.as_slice() {
            [] => return Err(FieldError::Empty),
            [given] => PersonName {
                family: String::new(),
                middle: String::new(),
                given: (*given).to_owned(),
            },
            [family, middle @ .., given] => PersonName {
                family: (*family).to_owned(),
                middle: middle.join(" "),
                given: (*given).to_owned(),
            },
        };
        Ok(name)
    }

    /// Family, middle and given joined by single spaces, skipping empty parts.
    pub fn full(&self) -> String {
        join_parts([&self.family, &self.middle, &self.given])
    }

    /// Search key of the full name.
    pub fn fold(&self) -> String {
        text::fold(&self.full())
    }

    /// Search key in the order names are looked up: given, family, middle
    /// ("an nguyen van").
    pub fn given_first_fold(&self) -> String {
        text::fold(&join_parts([&self.given, &self.family, &self.middle]))
    }

    /// [`PersonName::fold`] and [`PersonName::given_first_fold`] together,
    /// folding each part once (an import computes both for every row).
    pub fn folds(&self) -> (String, String) {
        let [f, m, g] = [&self.family, &self.middle, &self.given].map(|p| text::fold(p));
        (
            join_parts([f.as_str(), m.as_str(), g.as_str()]),
            join_parts([g.as_str(), f.as_str(), m.as_str()]),
        )
    }

    /// Vietnamese order for people; see [`text::person_sort_key`].
    pub fn sort_key(&self) -> String {
        text::person_sort_key(&self.family, &self.middle, &self.given)
    }
}

fn join_parts(parts: [&str; 3]) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_agree_with_folding_the_whole_name() {
        for n in [
            "Nguyễn Văn An",
            "Đỗ  Thị  Minh   Khai",
            "Lê Ánh",
            "Kpă H'Lơn",
            "Ông",
        ] {
            let n = PersonName::parse(n).unwrap();
            assert_eq!(n.folds(), (n.fold(), n.given_first_fold()), "{n:?}");
        }
    }

    #[test]
    fn splits_names() {
        let n = PersonName::parse("  Nguyễn  Thị Minh   Khai ").unwrap();
        assert_eq!(n.family, "Nguyễn");
        assert_eq!(n.middle, "Thị Minh");
        assert_eq!(n.given, "Khai");
        assert_eq!(n.full(), "Nguyễn Thị Minh Khai");

        let n = PersonName::parse("Lê Lợi").unwrap();
        assert_eq!(
            (n.family.as_str(), n.middle.as_str(), n.given.as_str()),
            ("Lê", "", "Lợi")
        );
        assert_eq!(n.full(), "Lê Lợi");

        let n = PersonName::parse("Xuân").unwrap();
        assert_eq!(
            (n.family.as_str(), n.middle.as_str(), n.given.as_str()),
            ("", "", "Xuân")
        );
        assert_eq!(n.full(), "Xuân");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(PersonName::parse("  "), Err(FieldError::Empty));
        assert_eq!(PersonName::parse("A\u{0}B"), Err(FieldError::ControlChars));
        assert_eq!(
            PersonName::parse(&"a".repeat(101)),
            Err(FieldError::TooLong { max: 100 })
        );
    }

    #[test]
    fn nfd_input_is_composed() {
        let nfd: String = unicode_normalization::UnicodeNormalization::nfd("Trần Đức").collect();
        assert_eq!(PersonName::parse(&nfd).unwrap().full(), "Trần Đức");
    }

    #[test]
    fn keys() {
        let n = PersonName::parse("Nguyễn Văn An").unwrap();
        assert_eq!(n.fold(), "nguyen van an");
        assert_eq!(n.given_first_fold(), "an nguyen van");
        let only = PersonName::parse("An").unwrap();
        assert_eq!(only.given_first_fold(), "an");
        let tran = PersonName::parse("Trần Văn Ân").unwrap();
        assert!(n.sort_key() < tran.sort_key());
        let hoa = PersonName::parse("Lê Thị Hoa").unwrap();
        let hoa2 = PersonName::parse("Lê Thị Hòa").unwrap();
        assert!(hoa.sort_key() < hoa2.sort_key());
        assert_eq!(
            hoa2.sort_key(),
            PersonName::parse("Lê Thị Hoà").unwrap().sort_key()
        );
    }
}
