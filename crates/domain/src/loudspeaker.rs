//! The hamlet loudspeaker (*loa phát thanh*): which regional voice reads
//! an announcement, the chime that opens and closes a broadcast, and when
//! a hamlet plays it.

use chrono::{Duration, NaiveTime};

use crate::announcement::Urgency;
use crate::calendar;

/// The regional voice an announcement is read in; espeak-ng has one of
/// each for Vietnamese.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Voice {
    North,
    Central,
    South,
}

impl Voice {
    pub const ALL: [Voice; 3] = [Voice::North, Voice::Central, Voice::South];

    pub fn as_str(self) -> &'static str {
        match self {
            Voice::North => "north",
            Voice::Central => "central",
            Voice::South => "south",
        }
    }

    pub fn parse(s: &str) -> Option<Voice> {
        match s.trim().to_lowercase().as_str() {
            "north" | "bac" | "bắc" => Some(Voice::North),
            "central" | "trung" => Some(Voice::Central),
            "south" | "nam" => Some(Voice::South),
            _ => None,
        }
    }

    /// espeak-ng's voice name (`espeak-ng --voices=vi`).
    pub fn espeak_name(self) -> &'static str {
        match self {
            Voice::North => "vi",
            Voice::Central => "vi-vn-x-central",
            Voice::South => "vi-vn-x-south",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Voice::North => "Giọng Bắc",
            Voice::Central => "Giọng Trung",
            Voice::South => "Giọng Nam",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Voice::North => "Northern voice",
            Voice::Central => "Central voice",
            Voice::South => "Southern voice",
        }
    }
}

/// Notes of the opening chime (C5, E5, G5, rising); the closing chime
/// plays them falling, so a listener hears where the message ends.
const CHIME_HZ: [f64; 3] = [523.25, 659.25, 783.99];
/// Seconds between the starts of two notes, and the length of each.
const NOTE_STEP_S: f64 = 0.35;
const NOTE_S: f64 = 0.8;
/// Peak of one note, as a share of full scale: soft, and three decaying
/// notes overlapping never clip.
const NOTE_PEAK: f64 = 0.3;

/// A soft three-note chime (about 1.5 s) as 16-bit mono samples at `rate`.
/// Each note is a sine with a short fade-in (no click) and an exponential
/// decay, like a struck bell, ending at silence.
pub fn chime(rate: u32, rising: bool) -> Vec<i16> {
    let rate_f = rate as f64;
    let total = ((NOTE_STEP_S * 2.0 + NOTE_S) * rate_f).ceil() as usize;
    let mut mix = vec![0f64; total];
    for i in 0..CHIME_HZ.len() {
        let hz = if rising {
            CHIME_HZ[i]
        } else {
            CHIME_HZ[CHIME_HZ.len() - 1 - i]
        };
        let start = (i as f64 * NOTE_STEP_S * rate_f) as usize;
        let len = (NOTE_S * rate_f) as usize;
        let fade_in = (0.01 * rate_f) as usize;
        for n in 0..len {
            let t = n as f64 / rate_f;
            let attack = (n as f64 / fade_in as f64).min(1.0);
            // Decays to about 2% by the note's end, then a linear fade to 0.
            let decay = (-5.0 * t / NOTE_S).exp();
            let tail = ((len - n) as f64 / fade_in as f64).min(1.0);
            // A quiet octave above gives the tone a bell's colour.
            let tone = (2.0 * std::f64::consts::PI * hz * t).sin()
                + 0.2 * (4.0 * std::f64::consts::PI * hz * t).sin();
            mix[start + n] += NOTE_PEAK / 1.2 * attack * decay * tail * tone;
        }
    }
    mix.into_iter()
        .map(|s| (s.clamp(-1.0, 1.0) * i16::MAX as f64) as i16)
        .collect()
}

/// `seconds` of silence at `rate`.
pub fn silence(rate: u32, seconds: f64) -> Vec<i16> {
    vec![0; (rate as f64 * seconds) as usize]
}

/// A hamlet's usual broadcast times (local): morning and late afternoon,
/// when people are at home.
pub const DEFAULT_SLOTS: [(u32, u32); 2] = [(6, 0), (17, 0)];

/// Slots a hamlet may set at most.
pub const MAX_SLOTS: usize = 6;

/// Why typed broadcast times were refused (its sentences are the web's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotError {
    /// Not written like 06:00 (the part as typed, cut to 20 characters).
    Malformed(String),
    /// No such time of day (25:00).
    NoSuchTime(String),
    Empty,
    TooMany,
}

/// A hamlet's times as typed ("6:00, 11:30 17:00"): local "H:MM" or
/// "HH:MM" separated by commas or spaces, 1 to [`MAX_SLOTS`] different
/// times, sorted.
pub fn parse_slots(s: &str) -> Result<Vec<(u32, u32)>, SlotError> {
    let mut out = Vec::new();
    for part in s
        .split([',', ' ', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let malformed = || SlotError::Malformed(cut(part));
        let (h, m) = part.split_once([':', 'h', 'g']).ok_or_else(malformed)?;
        let h: u32 = h.trim().parse().map_err(|_| malformed())?;
        let m: u32 = if m.trim().is_empty() {
            0
        } else {
            m.trim().parse().map_err(|_| malformed())?
        };
        if h > 23 || m > 59 {
            return Err(SlotError::NoSuchTime(cut(part)));
        }
        if !out.contains(&(h, m)) {
            out.push((h, m));
        }
    }
    if out.is_empty() {
        return Err(SlotError::Empty);
    }
    if out.len() > MAX_SLOTS {
        return Err(SlotError::TooMany);
    }
    out.sort();
    Ok(out)
}

fn cut(s: &str) -> String {
    s.chars().take(20).collect()
}

/// Slots as kept and shown: "06:00,17:00".
pub fn slots_text(slots: &[(u32, u32)]) -> String {
    slots
        .iter()
        .map(|(h, m)| format!("{h:02}:{m:02}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Broadcasts listed at most per announcement (a week at two a day).
pub const MAX_BROADCASTS: usize = 14;

/// When a hamlet plays an announcement: every slot from its send time to
/// its expiry; urgent and emergency ones also at once, at the send time.
/// Unix seconds, earliest first, at most [`MAX_BROADCASTS`].
pub fn broadcast_times(
    send_at: i64,
    expires_at: i64,
    urgency: Urgency,
    slots: &[(u32, u32)],
) -> Vec<i64> {
    let mut times = Vec::new();
    if urgency != Urgency::Normal && send_at < expires_at {
        times.push(send_at);
    }
    let mut slots: Vec<NaiveTime> = slots
        .iter()
        .filter_map(|&(h, m)| NaiveTime::from_hms_opt(h, m, 0))
        .collect();
    slots.sort();
    if slots.is_empty() {
        return times;
    }
    let mut day = calendar::to_local(send_at).date();
    while times.len() < MAX_BROADCASTS {
        for slot in &slots {
            let t = calendar::from_local(day.and_time(*slot));
            if t >= expires_at {
                return times;
            }
            // An urgent one already played at once.
            let after_send = if urgency == Urgency::Normal {
                t >= send_at
            } else {
                t > send_at
            };
            if after_send && times.len() < MAX_BROADCASTS {
                times.push(t);
            }
        }
        day += Duration::days(1);
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(d: u32, h: u32, m: u32) -> i64 {
        calendar::from_local(
            NaiveDate::from_ymd_opt(2026, 12, d)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap(),
        )
    }

    #[test]
    fn slots_are_read_as_people_type_them() {
        assert_eq!(parse_slots("17:00, 6:00"), Ok(vec![(6, 0), (17, 0)]));
        assert_eq!(parse_slots("5h30 11g 5h30"), Ok(vec![(5, 30), (11, 0)]));
        assert_eq!(slots_text(&parse_slots(" 6:5 ").unwrap()), "06:05");
        assert_eq!(parse_slots(""), Err(SlotError::Empty));
        assert_eq!(
            parse_slots("25:00"),
            Err(SlotError::NoSuchTime("25:00".into()))
        );
        assert_eq!(
            parse_slots("sáng"),
            Err(SlotError::Malformed("sáng".into()))
        );
        assert_eq!(
            parse_slots("1:00 2:00 3:00 4:00 5:00 6:00 7:00"),
            Err(SlotError::TooMany)
        );
    }

    #[test]
    fn normal_plays_at_the_slots_until_expiry() {
        let t = broadcast_times(at(1, 9, 0), at(3, 12, 0), Urgency::Normal, &DEFAULT_SLOTS);
        assert_eq!(
            t,
            vec![at(1, 17, 0), at(2, 6, 0), at(2, 17, 0), at(3, 6, 0)]
        );
    }

    #[test]
    fn urgent_plays_at_once_then_at_the_slots() {
        let t = broadcast_times(at(1, 6, 0), at(2, 7, 0), Urgency::Urgent, &DEFAULT_SLOTS);
        assert_eq!(t, vec![at(1, 6, 0), at(1, 17, 0), at(2, 6, 0)]);
    }

    #[test]
    fn a_long_life_is_capped() {
        let t = broadcast_times(at(1, 0, 0), at(30, 0, 0), Urgency::Normal, &DEFAULT_SLOTS);
        assert_eq!(t.len(), MAX_BROADCASTS);
    }

    #[test]
    fn the_chime_is_soft_and_ends_in_silence() {
        let c = chime(22050, true);
        let secs = c.len() as f64 / 22050.0;
        assert!((1.4..=1.6).contains(&secs), "{secs}");
        let peak = c.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak > 3000 && peak < 20000, "{peak}");
        assert!(c[..3].iter().all(|s| s.unsigned_abs() < 200), "fades in");
        assert!(c[c.len() - 3..].iter().all(|s| s.unsigned_abs() < 200));
        assert_ne!(c, chime(22050, false));
    }

    #[test]
    fn voices_parse_and_name_espeak() {
        for v in Voice::ALL {
            assert_eq!(Voice::parse(v.as_str()), Some(v));
        }
        assert_eq!(Voice::parse("Nam"), Some(Voice::South));
        assert_eq!(Voice::South.espeak_name(), "vi-vn-x-south");
    }
}
