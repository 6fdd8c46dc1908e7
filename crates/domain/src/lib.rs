//! Domain types and Vietnamese text rules of Dân Vận. No I/O, no clock:
//! callers pass "today" where a rule depends on it.

pub mod announcement;
pub mod calendar;
pub mod citizen_id;
pub mod date;
pub mod error;
pub mod feedback;
pub mod household;
pub mod loudspeaker;
pub mod material;
pub mod member;
pub mod name;
pub mod password;
pub mod phone;
pub mod place;
pub mod policy;
pub mod problem;
pub mod role;
pub mod stored;
pub mod text;
pub mod unit;

pub use citizen_id::CitizenId;
pub use date::Birth;
pub use error::FieldError;
pub use household::{Gender, Reach};
pub use member::{MemberRole, Represents, TeamKind};
pub use name::PersonName;
pub use phone::Phone;
pub use role::Role;
pub use stored::UnknownStored;
pub use unit::UnitLevel;
