//! Citizen identity card numbers (CCCD). Sensitive personal data.

use std::fmt;

use crate::error::FieldError;

/// Province-of-birth codes (first three digits) used in CCCD numbers, from
/// 001 Hà Nội to 096 Cà Mau.
const PROVINCE_CODES: [&str; 63] = [
    "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020",
    "022", "024", "025", "026", "027", "030", "031", "033", "034", "035", "036", "037", "038",
    "040", "042", "044", "045", "046", "048", "049", "051", "052", "054", "056", "058", "060",
    "062", "064", "066", "067", "068", "070", "072", "074", "075", "077", "079", "080", "082",
    "083", "084", "086", "087", "089", "091", "092", "093", "094", "095", "096",
];

/// A 12-digit CCCD number.
///
/// Deliberately neither `Display` nor serde: callers must choose between
/// [`CitizenId::as_str`] and [`CitizenId::masked`]. `Debug` prints the masked
/// form so the full number never reaches a log.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CitizenId(String);

impl CitizenId {
    /// Spaces are ignored; then exactly 12 ASCII digits starting with a
    /// province code in use.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let valid = digits.len() == 12
            && digits.bytes().all(|b| b.is_ascii_digit())
            && PROVINCE_CODES.contains(&&digits[..3]);
        if valid {
            Ok(CitizenId(digits))
        } else {
            Err(FieldError::InvalidCitizenId)
        }
    }

    /// The full number. Only for storage and authorised display.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "********" and the last four digits.
    pub fn masked(&self) -> String {
        format!("********{}", self.0.get(8..).unwrap_or(""))
    }

    /// The three-digit province-of-birth code.
    pub fn province_code(&self) -> &str {
        self.0.get(..3).unwrap_or("")
    }
}

impl fmt::Debug for CitizenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CitizenId").field(&self.masked()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_numbers() {
        let id = CitizenId::parse("001 087 012345").unwrap();
        assert_eq!(id.as_str(), "001087012345");
        assert_eq!(id.masked(), "********2345");
        assert_eq!(id.province_code(), "001");
        assert!(CitizenId::parse("096199000001").is_ok());
        assert!(CitizenId::parse("079300000001").is_ok());
    }

    #[test]
    fn rejects_bad_numbers() {
        for s in [
            "",
            "00108701234",
            "0010870123456",
            "00108701234a",
            "001-087-012345",
            "003087012345", // 003 is not a province code
            "000087012345",
            "097087012345",
            "100087012345",
            "００１087012345",
        ] {
            assert_eq!(
                CitizenId::parse(s),
                Err(FieldError::InvalidCitizenId),
                "{s}"
            );
        }
    }

    #[test]
    fn debug_is_masked() {
        let id = CitizenId::parse("001087012345").unwrap();
        let debug = format!("{id:?}");
        assert!(!debug.contains("001087012345"));
        assert_eq!(debug, "CitizenId(\"********2345\")");
    }
}
