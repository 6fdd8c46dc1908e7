//! The Bắc Giang pilot: Phúc Sơn (Tân Yên) and Đồng Tâm (Yên Thế) with the
//! 2025 reorganisation. See the crate docs for the choices the loader relies on.

use crate::people::{
    self, family_name, gender, middle_given, pick, reach, ymd, CitizenAlloc, ForcedHead, GenPerson,
    PhoneAlloc,
};
use crate::{
    DemoData, DemoEvent, DemoHousehold, DemoMember, DemoResident, DemoTeam, DemoUnit, EventKind,
};
use chrono::NaiveDate;
use danvan_domain::{
    Birth, CitizenId, Gender, MemberRole, PersonName, Phone, Represents, TeamKind, UnitLevel,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEED: u64 = 0x00DA_4E0A_2024_0001;

/// (key slug, name without type word, abbreviation, teams (Phúc Sơn) or groups (Đồng Tâm)).
type HamletSpec = (&'static str, &'static str, &'static str, usize);

/// Phúc Sơn: 6 + 31 = 37 teams. Mai Hoàng is the largest hamlet.
const PHUC_SON_HAMLETS: [HamletSpec; 8] = [
    ("mai-hoang", "Mai Hoàng", "MH", 6),
    ("tan-lap", "Tân Lập", "TL", 5),
    ("dong-lam", "Đồng Lầm", "DL", 4),
    ("phuc-le", "Phúc Lễ", "PL", 5),
    ("cau-trang", "Cầu Trắng", "CT", 4),
    ("ngoc-chau", "Ngọc Châu", "NC", 4),
    ("bai-ban", "Bãi Ban", "BB", 5),
    ("hoa-binh", "Hòa Bình", "HB", 4),
];

/// Đồng Tâm: one team per hamlet, 22 groups.
const DONG_TAM_HAMLETS: [HamletSpec; 6] = [
    ("hong-lac", "Hồng Lạc", "HL", 4),
    ("dong-bong", "Đồng Bông", "DB", 4),
    ("cau-den", "Cầu Đen", "CD", 4),
    ("dong-gia", "Đồng Gia", "DG", 4),
    ("khe-can", "Khe Cạn", "KC", 3),
    ("tan-son", "Tân Sơn", "TS", 3),
];

/// Mai Hoàng: 245 households, each team above 40.
const MAI_HOANG_TEAM_SIZES: [usize; 6] = [41, 41, 41, 41, 41, 40];
/// Households of `phuc-son/hoa-binh` not yet assigned to a team.
const UNASSIGNED: usize = 4;

const XOM: &[&str] = &[
    "Xóm Đình",
    "Xóm Chùa",
    "Xóm Giữa",
    "Xóm Trên",
    "Xóm Dưới",
    "Xóm Đồng",
    "Xóm Cầu",
    "Xóm Giếng",
    "Xóm Bến",
];

const BASIS_PROVINCES: &str = "Nghị quyết số 202/2025/QH15 ngày 12/6/2025 của Quốc hội";
const BASIS_COMMUNES: &str =
    "Nghị quyết số 1658/NQ-UBTVQH15 ngày 16/6/2025 của Ủy ban Thường vụ Quốc hội";

/// The pilot demo data set. Deterministic: every call returns the same data.
pub fn pilot() -> DemoData {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(SEED),
        phones: PhoneAlloc::new(),
        ids: CitizenAlloc::new(),
        teams: Vec::new(),
        households: Vec::new(),
    };
    for (i, h) in PHUC_SON_HAMLETS.iter().enumerate() {
        g.phuc_son_hamlet(i, h);
    }
    for (i, h) in DONG_TAM_HAMLETS.iter().enumerate() {
        g.dong_tam_hamlet(i, h);
    }
    DemoData {
        units: units(),
        events: events(),
        teams: g.teams,
        households: g.households,
    }
}

fn unit(
    key: &str,
    parent: Option<&str>,
    level: UnitLevel,
    name: &str,
    code: Option<&str>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
) -> crate::DemoUnit {
    DemoUnit {
        key: key.to_string(),
        parent: parent.map(str::to_string),
        level,
        name: name.to_string(),
        code: code.map(str::to_string),
        valid_from,
        valid_to,
    }
}

fn units() -> Vec<DemoUnit> {
    let end = Some(ymd(2025, 6, 30));
    let start = Some(ymd(2025, 7, 1));
    let mut u = vec![
        unit(
            "bac-giang",
            None,
            UnitLevel::Province,
            "Tỉnh Bắc Giang",
            Some("24"),
            None,
            end,
        ),
        unit(
            "bac-ninh-old",
            None,
            UnitLevel::Province,
            "Tỉnh Bắc Ninh",
            Some("27"),
            None,
            end,
        ),
        unit(
            "bac-ninh",
            None,
            UnitLevel::Province,
            "Tỉnh Bắc Ninh",
            Some("24"),
            start,
            None,
        ),
        unit(
            "tan-yen",
            Some("bac-giang"),
            UnitLevel::District,
            "Huyện Tân Yên",
            Some("216"),
            None,
            end,
        ),
        unit(
            "yen-the",
            Some("bac-giang"),
            UnitLevel::District,
            "Huyện Yên Thế",
            Some("215"),
            None,
            end,
        ),
        // Original parent; re-parented by a Move event.
        unit(
            "phuc-son",
            Some("tan-yen"),
            UnitLevel::Commune,
            "Xã Phúc Sơn",
            None,
            None,
            None,
        ),
    ];
    for (slug, name, _, _) in PHUC_SON_HAMLETS {
        u.push(hamlet_unit("phuc-son", slug, name));
    }
    u.push(unit(
        "dong-tam",
        Some("yen-the"),
        UnitLevel::Commune,
        "Xã Đồng Tâm",
        Some("07260"),
        None,
        end,
    ));
    for (slug, name, _, _) in DONG_TAM_HAMLETS {
        // Original parent; re-parented by a Move event.
        u.push(hamlet_unit("dong-tam", slug, name));
    }
    for (key, name, code) in MERGED_WITH_DONG_TAM {
        u.push(unit(
            key,
            Some("yen-the"),
            UnitLevel::Commune,
            name,
            Some(code),
            None,
            end,
        ));
    }
    u.push(unit(
        "xa-yen-the",
        Some("bac-ninh"),
        UnitLevel::Commune,
        "Xã Yên Thế",
        Some("07288"),
        start,
        None,
    ));
    u
}

const MERGED_WITH_DONG_TAM: [(&str, &str, &str); 4] = [
    ("tan-hiep", "Xã Tân Hiệp", "07261"),
    ("dong-lac", "Xã Đồng Lạc", "07270"),
    ("phon-xuong", "Thị trấn Phồn Xương", "07288"),
    ("tan-soi", "Xã Tân Sỏi", "07291"),
];

fn hamlet_unit(commune: &str, slug: &str, name: &str) -> DemoUnit {
    DemoUnit {
        key: format!("{commune}/{slug}"),
        parent: Some(commune.to_string()),
        level: UnitLevel::Hamlet,
        name: format!("Thôn {name}"),
        code: None,
        valid_from: None,
        valid_to: None,
    }
}

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn events() -> Vec<DemoEvent> {
    let reform = ymd(2025, 7, 1);
    let dong_tam_hamlets: Vec<String> = DONG_TAM_HAMLETS
        .iter()
        .map(|(slug, ..)| format!("dong-tam/{slug}"))
        .collect();
    vec![
        DemoEvent {
            kind: EventKind::Rename,
            date: ymd(2019, 12, 1),
            legal_basis: "Nghị quyết của Hội đồng nhân dân tỉnh Bắc Giang năm 2019 về việc đặt tên, đổi tên thôn (dữ liệu minh họa)".to_string(),
            sources: keys(&["phuc-son/tan-lap"]),
            targets: keys(&["phuc-son/tan-lap"]),
            note: "Đổi tên từ «Thôn Trại Mới»".to_string(),
        },
        DemoEvent {
            kind: EventKind::Merge,
            date: reform,
            legal_basis: BASIS_PROVINCES.to_string(),
            sources: keys(&["bac-giang", "bac-ninh-old"]),
            targets: keys(&["bac-ninh"]),
            note: "Hợp nhất tỉnh Bắc Giang và tỉnh Bắc Ninh thành tỉnh Bắc Ninh; mã 24 của tỉnh Bắc Giang được dùng lại cho tỉnh mới.".to_string(),
        },
        DemoEvent {
            kind: EventKind::Merge,
            date: reform,
            legal_basis: BASIS_COMMUNES.to_string(),
            sources: keys(&["dong-tam", "tan-hiep", "dong-lac", "phon-xuong", "tan-soi"]),
            targets: keys(&["xa-yen-the"]),
            note: "Sắp xếp xã Đồng Tâm, xã Tân Hiệp, xã Đồng Lạc, thị trấn Phồn Xương và xã Tân Sỏi thành xã Yên Thế; mã 07288 của thị trấn Phồn Xương được dùng lại cho xã mới.".to_string(),
        },
        DemoEvent {
            kind: EventKind::Move,
            date: reform,
            legal_basis: BASIS_COMMUNES.to_string(),
            sources: dong_tam_hamlets,
            targets: keys(&["xa-yen-the"]),
            note: "Các thôn của xã Đồng Tâm chuyển về trực thuộc xã Yên Thế.".to_string(),
        },
        DemoEvent {
            kind: EventKind::Move,
            date: reform,
            legal_basis: BASIS_PROVINCES.to_string(),
            sources: keys(&["phuc-son"]),
            targets: keys(&["bac-ninh"]),
            note: "Kết thúc hoạt động cấp huyện; xã Phúc Sơn trực thuộc tỉnh Bắc Ninh. Dữ liệu minh họa giữ nguyên xã Phúc Sơn (không sáp nhập với xã khác).".to_string(),
        },
    ]
}

struct Gen {
    rng: ChaCha8Rng,
    phones: PhoneAlloc,
    ids: CitizenAlloc,
    teams: Vec<DemoTeam>,
    households: Vec<DemoHousehold>,
}

/// Where a hamlet's households sit (approximate, for the map).
struct Area {
    lat: f64,
    lon: f64,
}

/// Coordinate boxes: Tân Yên and Yên Thế.
const TAN_YEN: (f64, f64, f64, f64) = (21.38, 21.42, 106.08, 106.13);
const YEN_THE: (f64, f64, f64, f64) = (21.50, 21.55, 106.08, 106.13);
const SPREAD: f64 = 0.004;

impl Gen {
    fn area(&mut self, b: (f64, f64, f64, f64)) -> Area {
        Area {
            lat: self.rng.gen_range(b.0 + SPREAD..b.1 - SPREAD),
            lon: self.rng.gen_range(b.2 + SPREAD..b.3 - SPREAD),
        }
    }

    fn phuc_son_hamlet(&mut self, index: usize, h: &HamletSpec) {
        let (slug, name, abbr, team_count) = *h;
        let hamlet = format!("phuc-son/{slug}");
        let area = self.area(TAN_YEN);
        let mut seq = 0;
        for t in 1..=team_count {
            let key = format!("{hamlet}/t{t}");
            let size = if slug == "mai-hoang" {
                MAI_HOANG_TEAM_SIZES.get(t - 1).copied().unwrap_or(40)
            } else {
                self.rng.gen_range(36..=44)
            };
            let team = DemoTeam {
                key: key.clone(),
                hamlet: hamlet.clone(),
                kind: TeamKind::Team,
                parent_team: None,
                name: format!("Tổ dân vận số {t} thôn {name}"),
                code: format!("PS-{abbr}-T{t}"),
                members: self.members(5),
            };
            self.teams.push(team);
            let xom = XOM[(index + t) % XOM.len()];
            for j in 0..size {
                seq += 1;
                let forced = (slug == "mai-hoang" && seq == 5).then_some(&NGUYEN_VAN_AN);
                self.household("PS", abbr, &hamlet, seq, Some(&key), xom, j, &area, forced);
            }
        }
        if slug == "hoa-binh" {
            // Newly settled families, not yet assigned: the coverage gap.
            for j in 0..UNASSIGNED {
                seq += 1;
                self.household("PS", abbr, &hamlet, seq, None, "Xóm Mới", j, &area, None);
            }
        }
    }

    fn dong_tam_hamlet(&mut self, index: usize, h: &HamletSpec) {
        let (slug, name, abbr, group_count) = *h;
        let hamlet = format!("dong-tam/{slug}");
        let area = self.area(YEN_THE);
        let team_key = format!("{hamlet}/t1");
        let team = DemoTeam {
            key: team_key.clone(),
            hamlet: hamlet.clone(),
            kind: TeamKind::Team,
            parent_team: None,
            name: format!("Tổ dân vận số 1 thôn {name}"),
            code: format!("DT-{abbr}-T1"),
            members: self.members(5),
        };
        self.teams.push(team);
        let mut seq = 0;
        for n in 1..=group_count {
            let key = format!("{hamlet}/n{n}");
            let group = DemoTeam {
                key: key.clone(),
                hamlet: hamlet.clone(),
                kind: TeamKind::Group,
                parent_team: Some(team_key.clone()),
                name: format!("Nhóm dân vận số {n} thôn {name}"),
                code: format!("DT-{abbr}-N{n}"),
                members: self.members(3),
            };
            self.teams.push(group);
            let size = self.rng.gen_range(12..=16);
            let xom = XOM[(index + n) % XOM.len()];
            for j in 0..size {
                seq += 1;
                let forced = (slug == "hong-lac" && seq == 3).then_some(&TRAN_THI_HOA);
                self.household("DT", abbr, &hamlet, seq, Some(&key), xom, j, &area, forced);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn household(
        &mut self,
        commune_abbr: &str,
        hamlet_abbr: &str,
        hamlet: &str,
        seq: usize,
        team: Option<&str>,
        xom: &str,
        index_in_xom: usize,
        area: &Area,
        forced: Option<&ForcedHead>,
    ) {
        let reach = reach(&mut self.rng);
        let people = people::household(
            &mut self.rng,
            &mut self.phones,
            &mut self.ids,
            reach,
            forced,
        );
        let (lat, lon) = if self.rng.gen_bool(0.5) {
            (
                Some(area.lat + self.rng.gen_range(-SPREAD..SPREAD)),
                Some(area.lon + self.rng.gen_range(-SPREAD..SPREAD)),
            )
        } else {
            (None, None)
        };
        let lane = index_in_xom / 8 + 1;
        let number = (index_in_xom % 8) * 2 + self.rng.gen_range(1..=2);
        self.households.push(DemoHousehold {
            code: format!("{commune_abbr}-{hamlet_abbr}-{seq:04}"),
            hamlet: hamlet.to_string(),
            team: team.map(str::to_string),
            address: format!("{xom}, ngõ {lane}, số {number}"),
            reach,
            lat,
            lon,
            residents: people.into_iter().map(resident).collect(),
        });
    }

    /// A team of 5 (leader, deputy, 3 members) or a group of 3 (leader, 2
    /// members). The leader always represents the hamlet leadership or an
    /// association, so every team has such a member.
    fn members(&mut self, count: usize) -> Vec<DemoMember> {
        const LEADER: &[(&str, u32)] =
            &[("hamlet", 4), ("front", 2), ("veterans", 2), ("farmers", 2)];
        const DEPUTY: &[(&str, u32)] = &[("women", 4), ("youth", 2), ("none", 3), ("farmers", 1)];
        const MEMBER: &[(&str, u32)] = &[
            ("none", 6),
            ("farmers", 1),
            ("veterans", 1),
            ("women", 1),
            ("youth", 1),
        ];
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let (role, table) = match (i, count) {
                (0, _) => (MemberRole::Leader, LEADER),
                (1, 5) => (MemberRole::Deputy, DEPUTY),
                _ => (MemberRole::Member, MEMBER),
            };
            let represents = match pick(&mut self.rng, table) {
                "hamlet" => Represents::HamletLeadership,
                "front" => Represents::FatherlandFront,
                "veterans" => Represents::Veterans,
                "farmers" => Represents::FarmersUnion,
                "women" => Represents::WomensUnion,
                "youth" => Represents::YouthUnion,
                _ => Represents::None,
            };
            let g = match represents {
                Represents::WomensUnion => Gender::Female,
                Represents::Veterans => Gender::Male,
                _ if role == MemberRole::Leader => gender(&mut self.rng, 0.8),
                _ => gender(&mut self.rng, 0.5),
            };
            let family = family_name(&mut self.rng);
            let (middle, given) = middle_given(&mut self.rng, g);
            let Some(phone) = self
                .phones
                .next(&mut self.rng)
                .and_then(|p| Phone::parse(&p).ok())
            else {
                continue;
            };
            out.push(DemoMember {
                name: PersonName {
                    family,
                    middle,
                    given,
                },
                gender: g,
                role,
                represents,
                phone,
                term_from: ymd(2024, 1, 1),
                term_to: None,
            });
        }
        out
    }
}

const NGUYEN_VAN_AN: ForcedHead = ForcedHead {
    family: "Nguyễn",
    middle: "Văn",
    given: "An",
    gender: Gender::Male,
};

const TRAN_THI_HOA: ForcedHead = ForcedHead {
    family: "Trần",
    middle: "Thị",
    given: "Hòa",
    gender: Gender::Female,
};

fn resident(p: GenPerson) -> DemoResident {
    DemoResident {
        name: PersonName {
            family: p.family,
            middle: p.middle,
            given: p.given,
        },
        birth: Birth {
            year: p.year,
            date: p.date,
        },
        gender: p.gender,
        relation: p.relation.to_string(),
        phone: p.phone.and_then(|s| Phone::parse(&s).ok()),
        citizen_id: p.citizen_id.and_then(|s| CitizenId::parse(&s).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use danvan_domain::Reach;
    use std::collections::{HashMap, HashSet};

    fn households_of<'a>(d: &'a DemoData, hamlet: &str) -> Vec<&'a DemoHousehold> {
        d.households.iter().filter(|h| h.hamlet == hamlet).collect()
    }

    fn unit<'a>(d: &'a DemoData, key: &str) -> &'a DemoUnit {
        d.units.iter().find(|u| u.key == key).unwrap()
    }

    #[test]
    fn mai_hoang_has_245_households_in_6_teams_of_5() {
        let d = pilot();
        let hh = households_of(&d, "phuc-son/mai-hoang");
        assert_eq!(hh.len(), 245);
        let teams: Vec<&DemoTeam> = d
            .teams
            .iter()
            .filter(|t| t.hamlet == "phuc-son/mai-hoang")
            .collect();
        assert_eq!(teams.len(), 6);
        for t in &teams {
            assert_eq!(t.kind, TeamKind::Team);
            assert_eq!(t.members.len(), 5);
            let n = hh
                .iter()
                .filter(|h| h.team.as_deref() == Some(&t.key))
                .count();
            assert!(n >= 40, "{} has {n}", t.key);
        }
        assert!(hh.iter().all(|h| h.team.is_some()));
        assert_eq!(unit(&d, "phuc-son/mai-hoang").name, "Thôn Mai Hoàng");
        assert!(hh
            .iter()
            .any(|h| h.residents[0].name.full() == "Nguyễn Văn An"
                && h.residents[0].relation == "Chủ hộ"));
    }

    #[test]
    fn phuc_son_has_37_teams_and_a_coverage_gap() {
        let d = pilot();
        let ps: Vec<&DemoTeam> = d
            .teams
            .iter()
            .filter(|t| t.hamlet.starts_with("phuc-son/"))
            .collect();
        assert_eq!(ps.len(), 37);
        for t in ps.iter().filter(|t| t.hamlet != "phuc-son/mai-hoang") {
            let n = d
                .households
                .iter()
                .filter(|h| h.team.as_deref() == Some(&t.key))
                .count();
            assert!((35..=45).contains(&n), "{} has {n}", t.key);
        }
        let hamlets = d
            .units
            .iter()
            .filter(|u| u.parent.as_deref() == Some("phuc-son"))
            .count();
        assert_eq!(hamlets, 8);
        let gap: Vec<&DemoHousehold> = d.households.iter().filter(|h| h.team.is_none()).collect();
        assert!((3..=5).contains(&gap.len()));
        let gap_hamlets: HashSet<&str> = gap.iter().map(|h| h.hamlet.as_str()).collect();
        assert_eq!(gap_hamlets.len(), 1);
        assert!(!gap_hamlets.contains("phuc-son/mai-hoang"));
        assert_eq!(unit(&d, "phuc-son").code, None);
    }

    #[test]
    fn dong_tam_has_6_teams_and_22_groups() {
        let d = pilot();
        let dt: Vec<&DemoTeam> = d
            .teams
            .iter()
            .filter(|t| t.hamlet.starts_with("dong-tam/"))
            .collect();
        let teams: Vec<&&DemoTeam> = dt.iter().filter(|t| t.kind == TeamKind::Team).collect();
        let groups: Vec<&&DemoTeam> = dt.iter().filter(|t| t.kind == TeamKind::Group).collect();
        assert_eq!(teams.len(), 6);
        assert_eq!(groups.len(), 22);
        assert!(teams.iter().all(|t| t.members.len() == 5));
        let mut per_hamlet: HashMap<&str, usize> = HashMap::new();
        for g in &groups {
            assert_eq!(g.members.len(), 3);
            let parent = g.parent_team.as_deref().unwrap();
            let team = teams.iter().find(|t| t.key == parent).unwrap();
            assert_eq!(team.hamlet, g.hamlet);
            *per_hamlet.entry(g.hamlet.as_str()).or_default() += 1;
            let n = d
                .households
                .iter()
                .filter(|h| h.team.as_deref() == Some(&g.key))
                .count();
            assert!((12..=16).contains(&n));
        }
        assert_eq!(per_hamlet.len(), 6);
        assert!(per_hamlet.values().all(|n| (3..=4).contains(n)));
        // Every Đồng Tâm household is in a group.
        for h in d
            .households
            .iter()
            .filter(|h| h.hamlet.starts_with("dong-tam/"))
        {
            let key = h.team.as_deref().unwrap();
            assert!(groups.iter().any(|g| g.key == key));
        }
        let hong_lac = households_of(&d, "dong-tam/hong-lac");
        assert!(hong_lac
            .iter()
            .flat_map(|h| &h.residents)
            .any(|r| r.name.full() == "Trần Thị Hòa"));
        assert_eq!(unit(&d, "dong-tam/hong-lac").name, "Thôn Hồng Lạc");
    }

    #[test]
    fn every_team_has_a_representative_and_terms() {
        let d = pilot();
        let mut codes = HashSet::new();
        for t in &d.teams {
            assert!(codes.insert(t.code.as_str()), "duplicate {}", t.code);
            assert!(t.members.iter().any(|m| m.represents != Represents::None));
            assert_eq!(t.members[0].role, MemberRole::Leader);
            for m in &t.members {
                assert_eq!(m.term_from, ymd(2024, 1, 1));
                assert!(m.term_to.is_none());
                if m.represents == Represents::WomensUnion {
                    assert_eq!(m.gender, Gender::Female);
                }
            }
            if t.kind == TeamKind::Team {
                assert_eq!(t.members[1].role, MemberRole::Deputy);
            }
        }
        assert!(codes.contains("PS-MH-T1") && codes.contains("DT-HL-N3"));
    }

    #[test]
    fn units_codes_and_history() {
        let d = pilot();
        let end = Some(ymd(2025, 6, 30));
        let start = Some(ymd(2025, 7, 1));
        let bg = unit(&d, "bac-giang");
        assert_eq!(
            (bg.name.as_str(), bg.code.as_deref(), bg.valid_to),
            ("Tỉnh Bắc Giang", Some("24"), end)
        );
        let bn = unit(&d, "bac-ninh");
        assert_eq!(
            (bn.name.as_str(), bn.code.as_deref(), bn.valid_from),
            ("Tỉnh Bắc Ninh", Some("24"), start)
        );
        let old = unit(&d, "bac-ninh-old");
        assert_eq!((old.code.as_deref(), old.valid_to), (Some("27"), end));
        assert!(d
            .units
            .iter()
            .all(|u| u.parent.as_deref() != Some("bac-ninh-old")));
        assert_eq!(unit(&d, "tan-yen").code.as_deref(), Some("216"));
        assert_eq!(unit(&d, "yen-the").code.as_deref(), Some("215"));
        assert_eq!(unit(&d, "dong-tam").code.as_deref(), Some("07260"));
        assert_eq!(unit(&d, "phon-xuong").code.as_deref(), Some("07288"));
        let yt = unit(&d, "xa-yen-the");
        assert_eq!(
            (yt.code.as_deref(), yt.valid_from, yt.parent.as_deref()),
            (Some("07288"), start, Some("bac-ninh"))
        );
        // Codes are reused: same code, different units.
        for code in ["24", "07288"] {
            assert_eq!(
                d.units
                    .iter()
                    .filter(|u| u.code.as_deref() == Some(code))
                    .count(),
                2
            );
        }
        // Keys unique, parents listed first.
        let mut seen = HashSet::new();
        for u in &d.units {
            if let Some(p) = &u.parent {
                assert!(seen.contains(p.as_str()), "{} before parent {p}", u.key);
            }
            assert!(seen.insert(u.key.as_str()));
        }
        assert_eq!(unit(&d, "phuc-son").parent.as_deref(), Some("tan-yen"));
        assert_eq!(
            d.units
                .iter()
                .filter(|u| u.parent.as_deref() == Some("dong-tam"))
                .count(),
            6
        );
        for k in ["tan-hiep", "dong-lac", "phon-xuong", "tan-soi"] {
            let u = unit(&d, k);
            assert_eq!((u.parent.as_deref(), u.valid_to), (Some("yen-the"), end));
        }
    }

    #[test]
    fn events_reference_known_units() {
        let d = pilot();
        let known: HashSet<&str> = d.units.iter().map(|u| u.key.as_str()).collect();
        for e in &d.events {
            for k in e.sources.iter().chain(&e.targets) {
                assert!(known.contains(k.as_str()), "{k}");
            }
        }
        assert!(d.events.windows(2).all(|w| w[0].date <= w[1].date));
        let merges: Vec<&DemoEvent> = d
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Merge)
            .collect();
        assert_eq!(merges.len(), 2);
        assert_eq!(merges[0].sources, ["bac-giang", "bac-ninh-old"]);
        assert!(merges[0].legal_basis.contains("202/2025/QH15"));
        assert_eq!(merges[1].sources.len(), 5);
        assert_eq!(merges[1].targets, ["xa-yen-the"]);
        assert!(merges[1].legal_basis.contains("1658/NQ-UBTVQH15"));
        let moves: Vec<&DemoEvent> = d
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Move)
            .collect();
        assert_eq!(moves[0].sources.len(), 6);
        assert_eq!(moves[1].sources, ["phuc-son"]);
        assert_eq!(moves[1].targets, ["bac-ninh"]);
        let rename = &d.events[0];
        assert_eq!(rename.kind, EventKind::Rename);
        assert_eq!(rename.date.format("%Y").to_string(), "2019");
        assert!(rename.note.contains("Thôn Trại Mới"));
        assert_eq!(unit(&d, &rename.targets[0]).name, "Thôn Tân Lập");
    }

    #[test]
    fn deterministic() {
        let a = pilot();
        let b = pilot();
        assert_eq!(format!("{:?}", a.units), format!("{:?}", b.units));
        assert_eq!(format!("{:?}", a.events), format!("{:?}", b.events));
        assert_eq!(format!("{:?}", a.teams), format!("{:?}", b.teams));
        assert_eq!(format!("{:?}", a.households), format!("{:?}", b.households));
        // CitizenId's Debug is masked: compare the full numbers too.
        let ids = |d: &DemoData| -> Vec<String> {
            d.households
                .iter()
                .flat_map(|h| &h.residents)
                .filter_map(|r| r.citizen_id.as_ref().map(|c| c.as_str().to_string()))
                .collect()
        };
        assert_eq!(ids(&a), ids(&b));
    }

    #[test]
    fn phones_and_citizen_ids_are_unique() {
        let d = pilot();
        let mut phones = HashSet::new();
        let mut ids = HashSet::new();
        let mut adults = 0;
        let mut with_id = 0;
        for h in &d.households {
            if h.reach == Reach::NoPhone {
                assert!(h.residents.iter().all(|r| r.phone.is_none()));
            } else {
                assert!(h.residents.iter().any(|r| r.phone.is_some()), "{}", h.code);
            }
            for r in &h.residents {
                if let Some(p) = &r.phone {
                    assert!(phones.insert(p.as_str().to_string()));
                }
                if let Some(c) = &r.citizen_id {
                    assert!(ids.insert(c.as_str().to_string()));
                    assert!(c.as_str().starts_with("024"));
                }
                if r.birth.year <= 2007 {
                    adults += 1;
                    with_id += usize::from(r.citizen_id.is_some());
                }
            }
        }
        for t in &d.teams {
            for m in &t.members {
                assert!(phones.insert(m.phone.as_str().to_string()));
            }
        }
        let share = with_id as f64 / adults as f64;
        assert!((0.5..=0.7).contains(&share), "{share}");
    }

    #[test]
    fn households_are_plausible() {
        let d = pilot();
        let mut codes = HashSet::new();
        let mut residents = 0;
        let mut located = 0;
        let mut reach = [0usize; 3];
        for h in &d.households {
            assert!(codes.insert(h.code.as_str()));
            assert!((1..=7).contains(&h.residents.len()));
            assert_eq!(h.residents[0].relation, "Chủ hộ");
            residents += h.residents.len();
            reach[match h.reach {
                Reach::Smartphone => 0,
                Reach::BasicPhone => 1,
                Reach::NoPhone => 2,
            }] += 1;
            if let (Some(lat), Some(lon)) = (h.lat, h.lon) {
                located += 1;
                let b = if h.hamlet.starts_with("phuc-son/") {
                    TAN_YEN
                } else {
                    YEN_THE
                };
                assert!(lat >= b.0 && lat <= b.1 && lon >= b.2 && lon <= b.3);
            }
            for r in &h.residents[1..] {
                if r.relation == "Con" && h.residents[0].gender == Gender::Male {
                    assert_eq!(r.name.family, h.residents[0].name.family);
                }
            }
        }
        let n = d.households.len() as f64;
        let mean = residents as f64 / n;
        assert!((3.3..=4.1).contains(&mean), "{mean}");
        assert!((0.35..=0.65).contains(&(located as f64 / n)));
        assert!((0.55..=0.75).contains(&(reach[0] as f64 / n)));
        assert!((0.04..=0.16).contains(&(reach[2] as f64 / n)));
        assert!(codes.contains("PS-MH-0001") && codes.contains("PS-MH-0245"));
    }
}
