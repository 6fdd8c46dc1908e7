//! Team membership: position in the team, organisation represented, and
//! the kind of team.

use crate::error::FieldError;
use crate::text::{choice_key, fold};

/// Position held in a mobilization team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Leader,
    Deputy,
    Member,
}

impl MemberRole {
    pub const ALL: [MemberRole; 3] = [MemberRole::Leader, MemberRole::Deputy, MemberRole::Member];

    pub fn as_str(&self) -> &'static str {
        match self {
            MemberRole::Leader => "leader",
            MemberRole::Deputy => "deputy",
            MemberRole::Member => "member",
        }
    }

    /// Accepts `as_str` and the Vietnamese titles (also the group wording
    /// "nhóm trưởng"/"nhóm phó"), with or without diacritics.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match choice_key(s).as_str() {
            "leader" | "to truong" | "nhom truong" | "truong nhom" => Ok(MemberRole::Leader),
            "deputy" | "to pho" | "nhom pho" | "pho nhom" => Ok(MemberRole::Deputy),
            "member" | "thanh vien" | "to vien" => Ok(MemberRole::Member),
            _ => Err(FieldError::InvalidMemberRole),
        }
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            MemberRole::Leader => "Tổ trưởng",
            MemberRole::Deputy => "Tổ phó",
            MemberRole::Member => "Thành viên",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            MemberRole::Leader => "Leader",
            MemberRole::Deputy => "Deputy",
            MemberRole::Member => "Member",
        }
    }
}

/// The organisation a team member represents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Represents {
    HamletLeadership,
    WomensUnion,
    FarmersUnion,
    Veterans,
    YouthUnion,
    FatherlandFront,
    None,
}

impl Represents {
    pub const ALL: [Represents; 7] = [
        Represents::HamletLeadership,
        Represents::WomensUnion,
        Represents::FarmersUnion,
        Represents::Veterans,
        Represents::YouthUnion,
        Represents::FatherlandFront,
        Represents::None,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Represents::HamletLeadership => "hamlet_leadership",
            Represents::WomensUnion => "womens_union",
            Represents::FarmersUnion => "farmers_union",
            Represents::Veterans => "veterans",
            Represents::YouthUnion => "youth_union",
            Represents::FatherlandFront => "fatherland_front",
            Represents::None => "none",
        }
    }

    /// Accepts `as_str`, the labels and the usual short forms ("Phụ nữ",
    /// "CCB", "MTTQ" …), with or without diacritics.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let key = choice_key(s);
        let found = match key.as_str() {
            "lanh dao thon" | "thon" => Some(Represents::HamletLeadership),
            "phu nu" | "hoi phu nu" | "hlhpn" => Some(Represents::WomensUnion),
            "nong dan" | "hnd" => Some(Represents::FarmersUnion),
            "cuu chien binh" | "hoi ccb" | "ccb" => Some(Represents::Veterans),
            "doan thanh nien" | "thanh nien" | "doan" => Some(Represents::YouthUnion),
            "mat tran" | "mttq" => Some(Represents::FatherlandFront),
            "khong" | "khong co" => Some(Represents::None),
            _ => None,
        };
        found
            .or_else(|| {
                Represents::ALL.into_iter().find(|r| {
                    key == choice_key(r.as_str())
                        || key == fold(r.label_vi())
                        || key == choice_key(r.label_en())
                })
            })
            .ok_or(FieldError::InvalidRepresents)
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            Represents::HamletLeadership => "Lãnh đạo thôn",
            Represents::WomensUnion => "Hội Liên hiệp Phụ nữ",
            Represents::FarmersUnion => "Hội Nông dân",
            Represents::Veterans => "Hội Cựu chiến binh",
            Represents::YouthUnion => "Đoàn Thanh niên",
            Represents::FatherlandFront => "Mặt trận Tổ quốc",
            Represents::None => "Không",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            Represents::HamletLeadership => "Hamlet leadership",
            Represents::WomensUnion => "Women's Union",
            Represents::FarmersUnion => "Farmers' Union",
            Represents::Veterans => "Veterans' Association",
            Represents::YouthUnion => "Youth Union",
            Represents::FatherlandFront => "Fatherland Front",
            Represents::None => "None",
        }
    }
}

/// A standing team (tổ) or a smaller group (nhóm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamKind {
    Team,
    Group,
}

impl TeamKind {
    pub const ALL: [TeamKind; 2] = [TeamKind::Team, TeamKind::Group];

    pub fn as_str(&self) -> &'static str {
        match self {
            TeamKind::Team => "team",
            TeamKind::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match choice_key(s).as_str() {
            "team" | "to" | "to dan van" => Ok(TeamKind::Team),
            "group" | "nhom" | "nhom dan van" => Ok(TeamKind::Group),
            _ => Err(FieldError::InvalidTeamKind),
        }
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            TeamKind::Team => "Tổ dân vận",
            TeamKind::Group => "Nhóm dân vận",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            TeamKind::Team => "Mobilization team",
            TeamKind::Group => "Mobilization group",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_role() {
        for r in MemberRole::ALL {
            assert_eq!(MemberRole::parse(r.as_str()), Ok(r));
            assert_eq!(MemberRole::parse(r.label_vi()), Ok(r));
        }
        assert_eq!(MemberRole::parse("TỔ TRƯỞNG"), Ok(MemberRole::Leader));
        assert_eq!(MemberRole::parse("to pho"), Ok(MemberRole::Deputy));
        assert_eq!(MemberRole::parse("Thành  viên"), Ok(MemberRole::Member));
        assert_eq!(
            MemberRole::parse("boss"),
            Err(FieldError::InvalidMemberRole)
        );
    }

    #[test]
    fn represents() {
        for r in Represents::ALL {
            assert_eq!(Represents::parse(r.as_str()), Ok(r));
            assert_eq!(Represents::parse(r.label_vi()), Ok(r));
            assert_eq!(Represents::parse(r.label_en()), Ok(r));
        }
        assert_eq!(Represents::parse("Phụ nữ"), Ok(Represents::WomensUnion));
        assert_eq!(Represents::parse("CCB"), Ok(Represents::Veterans));
        assert_eq!(Represents::parse("MTTQ"), Ok(Represents::FatherlandFront));
        assert_eq!(
            Represents::parse("Womens-Union"),
            Ok(Represents::WomensUnion)
        );
        assert_eq!(Represents::parse("?"), Err(FieldError::InvalidRepresents));
        assert_eq!(Represents::parse(""), Err(FieldError::InvalidRepresents));
    }

    #[test]
    fn team_kind() {
        for k in TeamKind::ALL {
            assert_eq!(TeamKind::parse(k.as_str()), Ok(k));
            assert_eq!(TeamKind::parse(k.label_vi()), Ok(k));
        }
        assert_eq!(TeamKind::parse("Nhóm"), Ok(TeamKind::Group));
        assert_eq!(TeamKind::parse("đội"), Err(FieldError::InvalidTeamKind));
    }
}
