//! Account roles.

use crate::error::FieldError;
use crate::text::{choice_key, fold};

/// What an account may do; scope comes from the unit or team it is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    ProvinceOfficer,
    Supervisor,
    CommuneOfficer,
    HamletHead,
    TeamLeader,
    TeamMember,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::ProvinceOfficer,
        Role::Supervisor,
        Role::CommuneOfficer,
        Role::HamletHead,
        Role::TeamLeader,
        Role::TeamMember,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ProvinceOfficer => "province_officer",
            Role::Supervisor => "supervisor",
            Role::CommuneOfficer => "commune_officer",
            Role::HamletHead => "hamlet_head",
            Role::TeamLeader => "team_leader",
            Role::TeamMember => "team_member",
        }
    }

    /// Accepts `as_str` (also with spaces or hyphens), the English label, or
    /// the Vietnamese label / its short form, in any case and with or
    /// without diacritics.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let key = choice_key(s);
        if key.is_empty() {
            return Err(FieldError::InvalidRole);
        }
        let short = |r: Role| -> &'static str {
            match r {
                Role::Admin => "quan tri",
                Role::ProvinceOfficer => "can bo tinh",
                Role::Supervisor => "giam sat",
                Role::CommuneOfficer => "can bo xa",
                Role::HamletHead => "truong thon",
                Role::TeamLeader => "to truong",
                Role::TeamMember => "thanh vien",
            }
        };
        Role::ALL
            .into_iter()
            .find(|r| {
                key == choice_key(r.as_str())
                    || key == fold(r.label_vi())
                    || key == fold(r.label_en())
                    || key == short(*r)
            })
            .ok_or(FieldError::InvalidRole)
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            Role::Admin => "Quản trị hệ thống",
            Role::ProvinceOfficer => "Cán bộ tỉnh",
            Role::Supervisor => "Giám sát (huyện / tổ giám sát)",
            Role::CommuneOfficer => "Cán bộ xã",
            Role::HamletHead => "Trưởng thôn",
            Role::TeamLeader => "Tổ trưởng tổ dân vận",
            Role::TeamMember => "Thành viên tổ dân vận",
        }
    }

    pub fn label_en(&self) -> &'static str {
        match self {
            Role::Admin => "System administrator",
            Role::ProvinceOfficer => "Province officer",
            Role::Supervisor => "Supervisor (district / supervision team)",
            Role::CommuneOfficer => "Commune officer",
            Role::HamletHead => "Hamlet head",
            Role::TeamLeader => "Mobilization team leader",
            Role::TeamMember => "Mobilization team member",
        }
    }

    /// Roles whose scope is a team rather than a unit.
    pub fn binds_to_team(&self) -> bool {
        matches!(self, Role::TeamLeader | Role::TeamMember)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
            assert_eq!(Role::parse(role.label_vi()), Ok(role));
            assert_eq!(Role::parse(role.label_en()), Ok(role));
        }
        assert_eq!(Role::HamletHead.as_str(), "hamlet_head");
        assert_eq!(Role::parse("Team-Leader"), Ok(Role::TeamLeader));
        assert_eq!(Role::parse("tổ trưởng"), Ok(Role::TeamLeader));
        assert_eq!(Role::parse("Giám sát"), Ok(Role::Supervisor));
        assert_eq!(Role::parse("root"), Err(FieldError::InvalidRole));
        assert_eq!(Role::parse(""), Err(FieldError::InvalidRole));
    }

    #[test]
    fn team_binding() {
        let bound: Vec<Role> = Role::ALL.into_iter().filter(Role::binds_to_team).collect();
        assert_eq!(bound, [Role::TeamLeader, Role::TeamMember]);
    }

    #[test]
    fn serde_names_match_as_str() {
        // serde's snake_case must agree with as_str (stored in the database).
        for role in Role::ALL {
            let snake: String = format!("{role:?}")
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let sep = (i > 0 && c.is_uppercase()).then_some('_');
                    sep.into_iter().chain(c.to_lowercase())
                })
                .collect();
            assert_eq!(snake, role.as_str());
        }
    }
}
