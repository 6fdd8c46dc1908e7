//! Household attributes: how a household can be reached, gender of members.

use crate::error::FieldError;
use crate::text::{choice_key, fold};

/// What a household can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    Smartphone,
    BasicPhone,
    NoPhone,
}

impl Reach {
    pub const ALL: [Reach; 3] = [Reach::Smartphone, Reach::BasicPhone, Reach::NoPhone];

    pub fn as_str(&self) -> &'static str {
        match self {
            Reach::Smartphone => "smartphone",
            Reach::BasicPhone => "basic_phone",
            Reach::NoPhone => "no_phone",
        }
    }

    /// Accepts `as_str`, the labels and common Vietnamese wordings, with or
    /// without diacritics.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match choice_key(s).as_str() {
            "smartphone" | "smart phone" | "dien thoai thong minh" => Ok(Reach::Smartphone),
            "basic phone"
            | "dien thoai thuong"
            | "dien thoai co ban"
            | "chi dien thoai thuong"
            | "basic phone only" => Ok(Reach::BasicPhone),
            "no phone" | "khong co dien thoai" | "khong" => Ok(Reach::NoPhone),
            _ => Err(FieldError::InvalidReach),
        }
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            Reach::Smartphone => "Điện thoại thông minh",
            Reach::BasicPhone => "Chỉ điện thoại thường",
            Reach::NoPhone => "Không có điện thoại",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            Reach::Smartphone => "Smartphone",
            Reach::BasicPhone => "Basic phone only",
            Reach::NoPhone => "No phone",
        }
    }

    /// Short ASCII token for a CSS class.
    pub fn icon(&self) -> &'static str {
        match self {
            Reach::Smartphone => "smart",
            Reach::BasicPhone => "basic",
            Reach::NoPhone => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Male,
    Female,
    Other,
}

impl Gender {
    pub const ALL: [Gender; 3] = [Gender::Male, Gender::Female, Gender::Other];

    pub fn as_str(&self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Other => "other",
        }
    }

    /// Accepts "Nam"/"Nữ"/"Khác", "M"/"F", "male"/"female"/"other", any case,
    /// with or without diacritics.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match choice_key(s).as_str() {
            "nam" | "m" | "male" => Ok(Gender::Male),
            "nu" | "f" | "female" => Ok(Gender::Female),
            "khac" | "other" => Ok(Gender::Other),
            _ => Err(FieldError::InvalidGender),
        }
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            Gender::Male => "Nam",
            Gender::Female => "Nữ",
            Gender::Other => "Khác",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            Gender::Male => "Male",
            Gender::Female => "Female",
            Gender::Other => "Other",
        }
    }
}

/// Whether a "relation to head of household" cell names the head itself.
pub fn is_head_relation(relation: &str) -> bool {
    fold(relation) == "chu ho"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach() {
        for r in Reach::ALL {
            assert_eq!(Reach::parse(r.as_str()), Ok(r));
            assert_eq!(Reach::parse(r.label_vi()), Ok(r));
            assert_eq!(Reach::parse(r.label_en()), Ok(r));
        }
        assert_eq!(Reach::parse("Điện thoại thường"), Ok(Reach::BasicPhone));
        assert_eq!(Reach::parse("dien thoai co ban"), Ok(Reach::BasicPhone));
        assert_eq!(Reach::parse("Không"), Ok(Reach::NoPhone));
        assert_eq!(Reach::parse("SmartPhone"), Ok(Reach::Smartphone));
        assert_eq!(Reach::parse("có"), Err(FieldError::InvalidReach));
        assert_eq!(Reach::NoPhone.icon(), "none");
    }

    #[test]
    fn gender() {
        for g in Gender::ALL {
            assert_eq!(Gender::parse(g.as_str()), Ok(g));
            assert_eq!(Gender::parse(g.label_vi()), Ok(g));
        }
        assert_eq!(Gender::parse("NỮ"), Ok(Gender::Female));
        let nfd: String = unicode_normalization::UnicodeNormalization::nfd("Nữ").collect();
        assert_eq!(Gender::parse(&nfd), Ok(Gender::Female));
        assert_eq!(Gender::parse("F"), Ok(Gender::Female));
        assert_eq!(Gender::parse(" m "), Ok(Gender::Male));
        assert_eq!(Gender::parse("x"), Err(FieldError::InvalidGender));
        assert_eq!(Gender::parse(""), Err(FieldError::InvalidGender));
    }

    #[test]
    fn head_relation() {
        assert!(is_head_relation("Chủ hộ"));
        assert!(is_head_relation("  CHỦ   HỘ "));
        assert!(is_head_relation("chu ho"));
        assert!(!is_head_relation("Vợ"));
        assert!(!is_head_relation("Con chủ hộ"));
    }
}
