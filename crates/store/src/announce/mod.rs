//! Information down: announcements and their plan to every household, the
//! outbox of messages, CAP alerts, the hamlet loudspeaker and materials.

pub mod alert;
pub mod announcement;
pub mod delivery;
pub mod loudspeaker;
pub mod material;
pub mod outbox;
