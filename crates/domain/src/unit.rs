//! Administrative unit levels.

use crate::error::FieldError;
use crate::text::choice_key;

/// Level of an administrative unit, from province down to hamlet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitLevel {
    Province,
    District,
    Commune,
    Hamlet,
}

impl UnitLevel {
    pub const ALL: [UnitLevel; 4] = [
        UnitLevel::Province,
        UnitLevel::District,
        UnitLevel::Commune,
        UnitLevel::Hamlet,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            UnitLevel::Province => "province",
            UnitLevel::District => "district",
            UnitLevel::Commune => "commune",
            UnitLevel::Hamlet => "hamlet",
        }
    }

    /// Accepts the English word or a Vietnamese unit type in any case, with
    /// or without diacritics ("Thị trấn", "tổ dân phố", "ấp", "bản" …).
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match choice_key(s).as_str() {
            "province" | "tinh" | "thanh pho" => Ok(UnitLevel::Province),
            "district" | "huyen" | "quan" | "thi xa" => Ok(UnitLevel::District),
            "commune" | "xa" | "phuong" | "thi tran" => Ok(UnitLevel::Commune),
            "hamlet" | "thon" | "to dan pho" | "ap" | "ban" | "khu pho" | "xom" | "buon"
            | "lang" | "khom" | "soc" => Ok(UnitLevel::Hamlet),
            _ => Err(FieldError::InvalidLevel),
        }
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            UnitLevel::Province => "Tỉnh",
            UnitLevel::District => "Huyện",
            UnitLevel::Commune => "Xã",
            UnitLevel::Hamlet => "Thôn",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            UnitLevel::Province => "Province",
            UnitLevel::District => "District",
            UnitLevel::Commune => "Commune",
            UnitLevel::Hamlet => "Hamlet",
        }
    }

    /// Depth in the tree: 0 province … 3 hamlet.
    pub fn rank(&self) -> u8 {
        match self {
            UnitLevel::Province => 0,
            UnitLevel::District => 1,
            UnitLevel::Commune => 2,
            UnitLevel::Hamlet => 3,
        }
    }

    /// The level directly below, if any.
    pub fn child(&self) -> Option<UnitLevel> {
        match self {
            UnitLevel::Province => Some(UnitLevel::District),
            UnitLevel::District => Some(UnitLevel::Commune),
            UnitLevel::Commune => Some(UnitLevel::Hamlet),
            UnitLevel::Hamlet => None,
        }
    }
}

/// Whether a unit's code is the official one (mã đơn vị hành chính) or
/// one issued locally for a unit without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeKind {
    Official,
    Local,
}

impl CodeKind {
    pub const ALL: [CodeKind; 2] = [CodeKind::Official, CodeKind::Local];

    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::Official => "official",
            CodeKind::Local => "local",
        }
    }
}

/// A change in the unit tree's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitEventKind {
    Create,
    Rename,
    Merge,
    Split,
    Move,
}

impl UnitEventKind {
    pub const ALL: [UnitEventKind; 5] = [
        UnitEventKind::Create,
        UnitEventKind::Rename,
        UnitEventKind::Merge,
        UnitEventKind::Split,
        UnitEventKind::Move,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UnitEventKind::Create => "create",
            UnitEventKind::Rename => "rename",
            UnitEventKind::Merge => "merge",
            UnitEventKind::Split => "split",
            UnitEventKind::Move => "move",
        }
    }
}

crate::stored::stored_text!(CodeKind => "unit code kind", UnitEventKind => "unit event kind");
crate::stored::serde_as_str!(CodeKind, UnitEventKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_ranks() {
        for (i, level) in UnitLevel::ALL.iter().enumerate() {
            assert_eq!(UnitLevel::parse(level.as_str()), Ok(*level));
            assert_eq!(UnitLevel::parse(level.label_vi()), Ok(*level));
            assert_eq!(UnitLevel::parse(level.label_en()), Ok(*level));
            assert_eq!(usize::from(level.rank()), i);
        }
        assert_eq!(UnitLevel::Commune.child(), Some(UnitLevel::Hamlet));
        assert_eq!(UnitLevel::Hamlet.child(), None);
    }

    #[test]
    fn vietnamese_words() {
        assert_eq!(UnitLevel::parse("Thành phố"), Ok(UnitLevel::Province));
        assert_eq!(UnitLevel::parse("QUẬN"), Ok(UnitLevel::District));
        assert_eq!(UnitLevel::parse("Thị xã"), Ok(UnitLevel::District));
        assert_eq!(UnitLevel::parse("phường"), Ok(UnitLevel::Commune));
        assert_eq!(UnitLevel::parse(" Thị  trấn "), Ok(UnitLevel::Commune));
        assert_eq!(UnitLevel::parse("Tổ dân phố"), Ok(UnitLevel::Hamlet));
        assert_eq!(UnitLevel::parse("Ấp"), Ok(UnitLevel::Hamlet));
        assert_eq!(UnitLevel::parse("Bản"), Ok(UnitLevel::Hamlet));
        assert_eq!(UnitLevel::parse("Khu phố"), Ok(UnitLevel::Hamlet));
        assert_eq!(UnitLevel::parse("vùng"), Err(FieldError::InvalidLevel));
        assert_eq!(UnitLevel::parse(""), Err(FieldError::InvalidLevel));
    }
}
