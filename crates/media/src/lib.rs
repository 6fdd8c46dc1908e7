//! What Dân Vận makes for paper, loudspeakers and other alerting systems,
//! without HTTP: the printed announcements (`print`, PDF with embedded
//! Vietnamese fonts), the loudspeaker audio (`speech`, espeak-ng and
//! opusenc as child processes) and CAP 1.2 alerts (`cap`). The web crate
//! serves them; the benchmark times them.

pub mod cap;
pub mod print;
pub mod speech;
pub mod xml;
