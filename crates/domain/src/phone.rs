//! Vietnamese phone numbers, stored as E.164 (`+84…`).

use std::fmt;

use crate::error::FieldError;

/// A valid Vietnamese phone number in E.164 form ("+84912345678").
///
/// Deserialising validates through [`Phone::parse`], so a `Phone` read back
/// from JSON is as trustworthy as one built from user input.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

/// National significant number: mobiles are 9 digits starting 3, 5, 7, 8 or
/// 9; landlines 10 digits starting 2 (area code 02x/02xx).
fn is_significant(digits: &str) -> bool {
    let mut chars = digits.chars();
    match (chars.next(), digits.len()) {
        (Some('3' | '5' | '7' | '8' | '9'), 9) | (Some('2'), 10) => {
            digits.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// After the country code people often keep the trunk 0 ("+84 0912…").
fn drop_trunk_zero(rest: &str) -> &str {
    rest.strip_prefix('0').unwrap_or(rest)
}

impl Phone {
    /// Accepts "0912345678", "0912 345 678", "0912.345.678", "0912-345-678",
    /// "84912345678", "+84912345678", "+84 912 345 678", "(+84) 912345678",
    /// "+840912345678", "0084912345678", and "912345678" (a spreadsheet that
    /// dropped the leading zero).
    pub fn parse(s: &str) -> Result<Phone, FieldError> {
        let mut digits = String::with_capacity(s.len());
        let mut plus = false;
        for c in s.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if digits.is_empty() && !plus => plus = true,
                '.' | '-' | '(' | ')' => {}
                c if c.is_whitespace() => {}
                _ => return Err(FieldError::InvalidPhone),
            }
        }
        let significant = if plus {
            // With '+', only the Vietnamese country code is acceptable.
            drop_trunk_zero(digits.strip_prefix("84").ok_or(FieldError::InvalidPhone)?)
        } else if let Some(rest) = digits.strip_prefix("0084") {
            drop_trunk_zero(rest)
        } else if let Some(rest) = digits.strip_prefix('0') {
            rest
        } else {
            // "84…" is the country code only if what follows is a valid
            // number; "845…" may also be a mobile without its leading zero.
            match digits.strip_prefix("84").map(drop_trunk_zero) {
                Some(rest) if is_significant(rest) => rest,
                _ => digits.as_str(),
            }
        };
        if is_significant(significant) {
            Ok(Phone(format!("+84{significant}")))
        } else {
            Err(FieldError::InvalidPhone)
        }
    }

    /// E.164, e.g. "+84912345678".
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn significant(&self) -> &str {
        self.0.get(3..).unwrap_or("")
    }

    /// True for mobile numbers (the ones that can receive SMS).
    pub fn is_mobile(&self) -> bool {
        self.significant().len() == 9
    }

    /// National form with trunk zero, e.g. "0912345678".
    pub fn national(&self) -> String {
        format!("0{}", self.significant())
    }

    /// National digits, for search.
    pub fn digits(&self) -> String {
        self.national()
    }

    /// The three groups of the usual written form: "0912 345 678" for
    /// mobiles, "024 3825 1234" for Hà Nội / TP.HCM landlines (3-digit area
    /// code) and "0204 3855 123" for other landlines.
    fn groups(&self) -> [String; 3] {
        let n = self.national();
        let cuts = if self.is_mobile() {
            (4, 7)
        } else if n.starts_with("024") || n.starts_with("028") {
            (3, 7)
        } else {
            (4, 8)
        };
        let part = |a: usize, b: usize| n.get(a..b).unwrap_or("").to_owned();
        [part(0, cuts.0), part(cuts.0, cuts.1), part(cuts.1, n.len())]
    }

    /// Human form, e.g. "0912 345 678".
    pub fn display(&self) -> String {
        self.groups().join(" ")
    }

    /// Middle group hidden, e.g. "0912 *** 678".
    pub fn masked(&self) -> String {
        let [head, middle, tail] = self.groups();
        format!("{head} {} {tail}", "*".repeat(middle.len()))
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Phone {
    type Error = FieldError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl std::str::FromStr for Phone {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phone::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_mobile_forms() {
        for s in [
            "0912345678",
            "0912 345 678",
            "0912.345.678",
            "0912-345-678",
            "84912345678",
            "+84912345678",
            "+84 912 345 678",
            "(+84) 912345678",
            "+840912345678",
            "840912345678",
            "0084 912 345 678",
            "912345678",
            " 0912\u{a0}345\t678 ",
        ] {
            assert_eq!(
                Phone::parse(s).map(|p| p.0),
                Ok("+84912345678".into()),
                "{s}"
            );
        }
    }

    #[test]
    fn mobile_prefixes() {
        for s in [
            "0321234567",
            "0561234567",
            "0701234567",
            "0812345678",
            "0987654321",
        ] {
            assert!(Phone::parse(s).is_ok(), "{s}");
        }
        // 84 + valid remainder is the country code…
        assert_eq!(
            Phone::parse("84381234567").map(|p| p.0),
            Ok("+84381234567".into())
        );
        // …but 845xxxxxxx (9 digits) is a mobile missing its zero.
        assert_eq!(
            Phone::parse("845123456").map(|p| p.0),
            Ok("+84845123456".into())
        );
    }

    #[test]
    fn landlines() {
        let p = Phone::parse("0204 3855 123").unwrap();
        assert_eq!(p.as_str(), "+842043855123");
        assert!(!p.is_mobile());
        assert_eq!(p.display(), "0204 3855 123");
        assert_eq!(p.masked(), "0204 **** 123");
        let hn = Phone::parse("+84 24 3825 1234").unwrap();
        assert_eq!(hn.national(), "02438251234");
        assert_eq!(hn.display(), "024 3825 1234");
        assert_eq!(hn.masked(), "024 **** 1234");
    }

    #[test]
    fn rejected() {
        for s in [
            "",
            "+1 202 555 0123",
            "+44 7911 123456",
            "0912 345 67",
            "0912 345 6789",
            "091234567a",
            "0112345678",
            "0412345678",
            "0612345678",
            "021234567",
            "++84912345678",
            "84+912345678",
            "0912/345/678",
            "12345",
        ] {
            assert_eq!(Phone::parse(s), Err(FieldError::InvalidPhone), "{s}");
        }
    }

    #[test]
    fn forms() {
        let p = Phone::parse("0912 345 678").unwrap();
        assert!(p.is_mobile());
        assert_eq!(p.as_str(), "+84912345678");
        assert_eq!(p.to_string(), "+84912345678");
        assert_eq!(p.national(), "0912345678");
        assert_eq!(p.digits(), "0912345678");
        assert_eq!(p.display(), "0912 345 678");
        assert_eq!(p.masked(), "0912 *** 678");
    }
}
