//! Deterministic synthetic data for Dân Vận: the Bắc Giang pilot demo and
//! province-sized benchmark files.
//!
//! Everything is generated from a [`rand_chacha::ChaCha8Rng`] seeded with a
//! constant (never the clock, never `thread_rng`), so two calls give identical
//! data. All people are made up: realistic family, middle and given names are
//! combined at random; no real person's list is used.
//!
//! # The pilot ([`pilot`])
//!
//! Units (listed parents before children, each unit once):
//!
//! | key | name | level | code | valid |
//! | --- | --- | --- | --- | --- |
//! | `bac-giang` | Tỉnh Bắc Giang | province | 24 | … 2025-06-30 |
//! | `bac-ninh-old` | Tỉnh Bắc Ninh | province | 27 | … 2025-06-30 |
//! | `bac-ninh` | Tỉnh Bắc Ninh | province | 24 (reused) | 2025-07-01 … |
//! | `tan-yen` | Huyện Tân Yên | district | 216 | … 2025-06-30 |
//! | `yen-the` | Huyện Yên Thế | district | 215 | … 2025-06-30 |
//! | `phuc-son` | Xã Phúc Sơn | commune | none | open |
//! | `phuc-son/<hamlet>` | 8 hamlets (Thôn Mai Hoàng …) | hamlet | none | open |
//! | `dong-tam` | Xã Đồng Tâm | commune | 07260 | … 2025-06-30 |
//! | `dong-tam/<hamlet>` | 6 hamlets (Thôn Hồng Lạc …) | hamlet | none | open |
//! | `tan-hiep`, `dong-lac`, `phon-xuong`, `tan-soi` | merged communes, no hamlets | commune | 07261, 07270, 07288, 07291 | … 2025-06-30 |
//! | `xa-yen-the` | Xã Yên Thế | commune | 07288 (reused) | 2025-07-01 … |
//!
//! **Parents.** A unit's `parent` is its parent at the unit's last valid
//! moment, with two exceptions that the loader must resolve by applying the
//! [`EventKind::Move`] events in date order:
//! - `phuc-son` lists its ORIGINAL parent `tan-yen`; a Move on 2025-07-01
//!   re-parents it to `bac-ninh` (the district level ended; the demo keeps
//!   Phúc Sơn whole).
//! - the six `dong-tam/*` hamlets list their ORIGINAL parent `dong-tam`; ONE
//!   Move event on 2025-07-01 (all six hamlets as `sources`, `xa-yen-the` as
//!   the single target) re-parents them to the new commune.
//!
//! **Rename.** Hamlet `phuc-son/tan-lap` is ONE unit whose name is the current
//! one ("Thôn Tân Lập"); the [`EventKind::Rename`] event of 2019-12-01 has it
//! as both source and target and its note reads
//! "Đổi tên từ «Thôn Trại Mới»". No unit carries the old name.
//!
//! Events are listed in date order: the rename, then on 2025-07-01 the
//! province merge, the commune merge, the hamlet move, the Phúc Sơn move.
//!
//! Teams: Phúc Sơn has 37 teams (6 in Mai Hoàng looking after 41,41,41,41,41,40
//! households); 4 households of `phuc-son/hoa-binh` (Xóm Mới) have no team.
//! Đồng Tâm has one team per hamlet and 22 groups whose `parent_team` is that
//! hamlet's team; every Đồng Tâm household is assigned to a GROUP (never
//! directly to a team). A household's `team` is a team or group key.
//!
//! Team members are separate people from the residents (their phones are
//! distinct from every resident's); all phone numbers and citizen ids in the
//! data set are unique.
//!
//! # Province benchmark ([`province_units`], [`write_province_csv`])
//!
//! A two-level province "Tỉnh Thử Nghiệm" (key `p`) → communes (`p/c001`) →
//! hamlets (`p/c001/h01`), without codes. The CSV repeats the household's
//! columns (code, hamlet, commune, address, reach) on every resident's row;
//! the head is the household's first row.

use chrono::NaiveDate;
use danvan_domain::{
    Birth, CitizenId, Gender, MemberRole, PersonName, Phone, Reach, Represents, TeamKind, UnitLevel,
};

mod people;
mod pilot;
mod province;
pub mod reports;

pub use pilot::pilot;
pub use province::{province_units, write_province_csv};

/// An administrative unit of the demo tree.
#[derive(Debug, Clone)]
pub struct DemoUnit {
    /// Stable local key, e.g. "bac-giang", "phuc-son", "phuc-son/mai-hoang".
    pub key: String,
    pub parent: Option<String>,
    pub level: UnitLevel,
    /// Official full name with its type word, e.g. "Xã Phúc Sơn".
    pub name: String,
    pub code: Option<String>,
    pub valid_from: Option<NaiveDate>,
    /// Last day valid.
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Rename,
    Merge,
    Split,
    Move,
}

/// A change of the unit tree.
#[derive(Debug, Clone)]
pub struct DemoEvent {
    pub kind: EventKind,
    /// Effective date.
    pub date: NaiveDate,
    pub legal_basis: String,
    /// Unit keys.
    pub sources: Vec<String>,
    pub targets: Vec<String>,
    /// Vietnamese.
    pub note: String,
}

#[derive(Debug, Clone)]
pub struct DemoMember {
    pub name: PersonName,
    pub gender: Gender,
    pub role: MemberRole,
    pub represents: Represents,
    pub phone: Phone,
    pub term_from: NaiveDate,
    pub term_to: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
pub struct DemoTeam {
    pub key: String,
    /// Unit key of the hamlet.
    pub hamlet: String,
    pub kind: TeamKind,
    /// A group may belong to a team.
    pub parent_team: Option<String>,
    /// "Tổ dân vận số 1 thôn Mai Hoàng", "Nhóm dân vận số 3 thôn Hồng Lạc".
    pub name: String,
    /// Unique and short, e.g. "PS-MH-T1", "DT-HL-N3".
    pub code: String,
    pub members: Vec<DemoMember>,
}

#[derive(Debug, Clone)]
pub struct DemoResident {
    pub name: PersonName,
    pub birth: Birth,
    pub gender: Gender,
    /// "Chủ hộ", "Vợ", "Chồng", "Con", "Bố", "Mẹ", "Cháu", "Con dâu".
    pub relation: String,
    pub phone: Option<Phone>,
    pub citizen_id: Option<CitizenId>,
}

#[derive(Debug, Clone)]
pub struct DemoHousehold {
    /// Unique, e.g. "PS-MH-0001".
    pub code: String,
    /// Unit key of the hamlet.
    pub hamlet: String,
    /// Team (or group) key; None = not yet assigned.
    pub team: Option<String>,
    /// "Xóm Đình, ngõ 3, số 12".
    pub address: String,
    pub reach: Reach,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// `residents[0]` is the head, relation "Chủ hộ".
    pub residents: Vec<DemoResident>,
}

pub struct DemoData {
    /// Parents before children.
    pub units: Vec<DemoUnit>,
    /// In date order.
    pub events: Vec<DemoEvent>,
    pub teams: Vec<DemoTeam>,
    pub households: Vec<DemoHousehold>,
}

/// Size of a synthetic province for benchmarks.
#[derive(Debug, Clone)]
pub struct ProvinceSpec {
    pub communes: usize,
    pub hamlets_per_commune: usize,
    /// Total households, spread evenly over all hamlets.
    pub households: usize,
    pub seed: u64,
}

/// What [`write_province_csv`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProvinceStats {
    pub households: u64,
    pub residents: u64,
}
