//! Deadlines counted in Vietnamese working hours (or plain calendar hours for
//! urgent items), in Vietnam local time. Vietnam is UTC+07:00 all year with no
//! daylight saving, so a fixed offset is exact and no time-zone database is
//! needed. Nothing here reads the clock: callers pass the start instant.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat,
    TimeZone, Timelike, Weekday,
};

const VN_OFFSET_SECS: i64 = 7 * 3600;
const DAY_SECS: i64 = 86_400;

/// A run of this many consecutive days off means the calendar is unusable
/// (ten years of holidays is a data error, not a real schedule).
const MAX_DAYS_OFF: u32 = 3660;

/// Vietnam's offset, +07:00.
#[allow(clippy::expect_used, reason = "a constant offset well inside ±24 h")]
pub fn vn_offset() -> FixedOffset {
    FixedOffset::east_opt(VN_OFFSET_SECS as i32).expect("+07:00 is a valid offset")
}

/// Unix seconds → local Vietnam date-time. Values beyond chrono's range
/// saturate to `NaiveDateTime::MIN` / `MAX`.
pub fn to_local(unix: i64) -> NaiveDateTime {
    match DateTime::from_timestamp(unix.saturating_add(VN_OFFSET_SECS), 0) {
        Some(t) => t.naive_utc(),
        None if unix < 0 => NaiveDateTime::MIN,
        None => NaiveDateTime::MAX,
    }
}

/// Local Vietnam date-time → Unix seconds (sub-second part dropped).
pub fn from_local(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp() - VN_OFFSET_SECS
}

/// RFC 3339 with the +07:00 offset, e.g. "2026-04-24T16:30:00+07:00".
/// Open311 requires an explicit offset, so never "Z".
pub fn iso_local(unix: i64) -> String {
    let utc = to_local(unix) - chrono::Duration::seconds(VN_OFFSET_SECS);
    vn_offset()
        .from_utc_datetime(&utc)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Working time of a province: daily windows, working weekdays, days off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    /// Working windows of a working day, in order, non-overlapping (start < end).
    pub windows: Vec<(NaiveTime, NaiveTime)>,
    /// Working weekdays.
    pub workdays: Vec<Weekday>,
    /// Days off (public holidays, compensation days) — sorted set.
    pub holidays: BTreeSet<NaiveDate>,
}

impl Default for WorkCalendar {
    /// Government office hours: Monday–Friday, 07:30–11:30 and 13:30–17:00.
    #[allow(clippy::expect_used, reason = "constant times of day")]
    fn default() -> Self {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        WorkCalendar {
            windows: vec![(t(7, 30), t(11, 30)), (t(13, 30), t(17, 0))],
            workdays: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            holidays: BTreeSet::new(),
        }
    }
}

/// Whole seconds since midnight; sub-second precision is irrelevant for
/// deadlines and dropping it keeps the arithmetic in integers.
fn secs_of(t: NaiveTime) -> i64 {
    i64::from(t.num_seconds_from_midnight())
}

#[allow(clippy::expect_used, reason = "secs comes from a NaiveTime")]
fn at(date: NaiveDate, secs: i64) -> NaiveDateTime {
    // `secs` always comes from a NaiveTime, so it is below 86 400.
    let time = NaiveTime::from_num_seconds_from_midnight_opt(secs as u32, 0)
        .expect("seconds within a day");
    date.and_time(time)
}

fn truncate(t: NaiveDateTime) -> NaiveDateTime {
    at(t.date(), secs_of(t.time()))
}

/// Overlap length of [a, b) and [c, d).
fn overlap(a: i64, b: i64, c: i64, d: i64) -> i64 {
    (b.min(d) - a.max(c)).max(0)
}

impl WorkCalendar {
    /// Adds days off (duplicates are harmless: it is a set).
    pub fn with_holidays(mut self, days: impl IntoIterator<Item = NaiveDate>) -> Self {
        self.holidays.extend(days);
        self
    }

    /// Parses windows written "07:30-11:30,13:30-17:00" and workdays written
    /// "1-5" (ISO weekday numbers, Monday = 1; also "1,2,3,4,5,6" and mixed
    /// "1-5,7"). Times may be "H:MM", "HH:MM" or "HH:MM:SS". Windows must be
    /// in order; touching windows are allowed, overlapping ones are not.
    /// Repeated weekdays are merged.
    pub fn parse(windows: &str, workdays: &str) -> Result<WorkCalendar, String> {
        Ok(WorkCalendar {
            windows: parse_windows(windows)?,
            workdays: parse_workdays(workdays)?,
            holidays: BTreeSet::new(),
        })
    }

    /// The windows as `parse` reads them, e.g. "07:30-11:30,13:30-17:00".
    pub fn windows_text(&self) -> String {
        let fmt = |t: NaiveTime| {
            if t.second() == 0 {
                t.format("%H:%M").to_string()
            } else {
                t.format("%H:%M:%S").to_string()
            }
        };
        self.windows
            .iter()
            .map(|&(s, e)| format!("{}-{}", fmt(s), fmt(e)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The workdays as `parse` reads them: runs of three or more days as a
    /// range ("1-5"), others listed ("1-5,7", "6,7").
    pub fn workdays_text(&self) -> String {
        let days: Vec<u32> = (1..=7)
            .filter(|n| self.workday_mask()[(n - 1) as usize])
            .collect();
        let mut parts = Vec::new();
        let mut i = 0;
        while i < days.len() {
            let mut j = i;
            while j + 1 < days.len() && days[j + 1] == days[j] + 1 {
                j += 1;
            }
            if j - i >= 2 {
                parts.push(format!("{}-{}", days[i], days[j]));
            } else {
                parts.extend(days[i..=j].iter().map(u32::to_string));
            }
            i = j + 1;
        }
        parts.join(",")
    }

    /// Working seconds in one working day (27 000 by default).
    pub fn day_seconds(&self) -> i64 {
        self.spans().iter().map(|(s, e)| e - s).sum()
    }

    /// A working weekday that is not a day off.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.workday_mask()[d.weekday().num_days_from_monday() as usize]
            && !self.holidays.contains(&d)
    }

    /// The instant `seconds` working seconds after `start` (local time).
    ///
    /// Time outside the windows does not count, so a start outside working
    /// time begins at the next window start; adding 0 returns `start` when it
    /// lies inside a window (windows are half-open: 17:00 is outside) and the
    /// next window start otherwise. A deadline that uses up a window exactly
    /// ends at that window's end (Friday 17:00, not Monday 07:30). Negative
    /// `seconds` count as 0; sub-second parts of `start` are dropped.
    ///
    /// Degenerate calendars: with no working time at all (no windows or no
    /// workdays), or more than 3660 consecutive days off, working time
    /// cannot be counted, so the result falls back to plain calendar time,
    /// `start + seconds`. A result beyond chrono's range is
    /// `NaiveDateTime::MAX`.
    pub fn add_working(&self, start: NaiveDateTime, seconds: i64) -> NaiveDateTime {
        let start = truncate(start);
        let mut remaining = seconds.max(0);
        let calendar_fallback = || {
            start
                .checked_add_signed(chrono::Duration::seconds(seconds.max(0)))
                .unwrap_or(NaiveDateTime::MAX)
        };
        let spans = self.spans();
        let mask = self.workday_mask();
        let day_secs: i64 = spans.iter().map(|(s, e)| e - s).sum();
        let days_per_week = mask.iter().filter(|&&w| w).count() as i64;
        if day_secs == 0 || days_per_week == 0 {
            return calendar_fallback();
        }
        let week_secs = day_secs * days_per_week;

        // First day: only the part of each window after `start` counts.
        let mut date = start.date();
        if self.is_working_day(date) {
            let from = secs_of(start.time());
            for &(s, e) in spans.iter().filter(|&&(_, e)| from < e) {
                let begin = s.max(from);
                if remaining <= e - begin {
                    return at(date, begin + remaining);
                }
                remaining -= e - begin;
            }
        }

        let mut days_off = 0;
        loop {
            date = match date.succ_opt() {
                Some(d) => d,
                None => return NaiveDateTime::MAX,
            };
            // Jump whole weeks while no holiday is in the way: each is worth
            // exactly `week_secs`. Strictly fewer weeks than `remaining`
            // needs, so the final (possibly window-end) instant is found by
            // the per-day walk below.
            let weeks_free = match self.holidays.range(date..).next() {
                Some(h) => (*h - date).num_days() / 7,
                None => i64::MAX,
            };
            let weeks = weeks_free.min((remaining - 1) / week_secs);
            if weeks > 0 {
                let jump = (weeks as u64).checked_mul(7).map(Days::new);
                date = match jump.and_then(|j| date.checked_add_days(j)) {
                    Some(d) => d,
                    None => return NaiveDateTime::MAX,
                };
                remaining -= weeks * week_secs;
                days_off = 0;
            }
            if !self.is_working_day(date) {
                days_off += 1;
                if days_off > MAX_DAYS_OFF {
                    return calendar_fallback();
                }
                continue;
            }
            days_off = 0;
            for &(s, e) in &spans {
                if remaining <= e - s {
                    return at(date, s + remaining);
                }
                remaining -= e - s;
            }
        }
    }

    /// Working seconds between `a` and `b` (0 if `b <= a`). Sub-second parts
    /// are dropped. Computed in closed form, so long spans are cheap.
    pub fn working_between(&self, a: NaiveDateTime, b: NaiveDateTime) -> i64 {
        let (a, b) = (truncate(a), truncate(b));
        if b <= a {
            return 0;
        }
        let spans = self.spans();
        let in_day = |d: NaiveDate, from: i64, to: i64| -> i64 {
            if !self.is_working_day(d) {
                return 0;
            }
            spans.iter().map(|&(s, e)| overlap(s, e, from, to)).sum()
        };
        let (da, db) = (a.date(), b.date());
        let (ta, tb) = (secs_of(a.time()), secs_of(b.time()));
        if da == db {
            return in_day(da, ta, tb);
        }
        let edges = in_day(da, ta, DAY_SECS) + in_day(db, 0, tb);

        // Whole days strictly between the two dates.
        #[allow(clippy::expect_used, reason = "da < db, so it has a successor")]
        let first = da.succ_opt().expect("da < db, so it has a successor");
        let n = (db - first).num_days();
        let mask = self.workday_mask();
        let is_workday = |d: NaiveDate| mask[d.weekday().num_days_from_monday() as usize];
        let per_week = mask.iter().filter(|&&w| w).count() as i64;
        let tail = (0..n % 7)
            .filter(|&i| is_workday(first + Days::new(i as u64)))
            .count() as i64;
        let off = self
            .holidays
            .range(first..db)
            .filter(|&&h| is_workday(h))
            .count() as i64;
        let full_days = (n / 7) * per_week + tail - off;
        edges + full_days * self.day_seconds()
    }

    /// Working weekdays as a Monday-first mask (robust to duplicates).
    fn workday_mask(&self) -> [bool; 7] {
        let mut mask = [false; 7];
        for d in &self.workdays {
            mask[d.num_days_from_monday() as usize] = true;
        }
        mask
    }

    /// Windows in whole seconds, sorted and merged. The fields are public, so
    /// a hand-built calendar may break the documented invariants; counting
    /// must still never count a second twice or go backwards.
    fn spans(&self) -> Vec<(i64, i64)> {
        let mut raw: Vec<(i64, i64)> = self
            .windows
            .iter()
            .map(|&(s, e)| (secs_of(s), secs_of(e)))
            .filter(|(s, e)| s < e)
            .collect();
        raw.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(raw.len());
        for (s, e) in raw {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }
}

/// "7:30", "07:30" or "07:30:15". Strict digits so that "7h30" is refused
/// rather than half-read.
fn parse_time(s: &str) -> Result<NaiveTime, String> {
    let bad = || format!("Giờ \"{s}\" không hợp lệ (viết dạng HH:MM, ví dụ 07:30)");
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(bad());
    }
    let digits =
        |p: &str, min: usize| (min..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(parts[0], 1) || !parts[1..].iter().all(|p| digits(p, 2)) {
        return Err(bad());
    }
    let num = |i: usize| parts.get(i).map_or(Ok(0), |p| p.parse::<u32>());
    let (h, m, sec) = (
        num(0).map_err(|_| bad())?,
        num(1).map_err(|_| bad())?,
        num(2).map_err(|_| bad())?,
    );
    NaiveTime::from_hms_opt(h, m, sec).ok_or_else(bad)
}

fn parse_windows(text: &str) -> Result<Vec<(NaiveTime, NaiveTime)>, String> {
    if text.trim().is_empty() {
        return Err("Chưa nhập khung giờ làm việc".to_string());
    }
    let mut windows: Vec<(NaiveTime, NaiveTime)> = Vec::new();
    for part in text.split(',').map(str::trim) {
        let Some((s, e)) = part.split_once('-') else {
            return Err(format!(
                "Khung giờ \"{part}\" không hợp lệ (viết dạng 07:30-11:30)"
            ));
        };
        let (start, end) = (parse_time(s.trim())?, parse_time(e.trim())?);
        if end <= start {
            return Err(format!(
                "Khung giờ \"{part}\": giờ kết thúc phải sau giờ bắt đầu"
            ));
        }
        if let Some(&(_, prev_end)) = windows.last() {
            if start < prev_end {
                return Err(format!(
                    "Khung giờ \"{part}\" chồng lấn hoặc không theo thứ tự với khung trước"
                ));
            }
        }
        windows.push((start, end));
    }
    Ok(windows)
}

#[allow(clippy::expect_used, reason = "0..7 are the weekdays")]
fn parse_workdays(text: &str) -> Result<Vec<Weekday>, String> {
    if text.trim().is_empty() {
        return Err("Chưa nhập ngày làm việc trong tuần".to_string());
    }
    let day = |p: &str| -> Result<u8, String> {
        let p = p.trim();
        match p.parse::<u8>() {
            Ok(n @ 1..=7) if p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(format!(
                "Ngày \"{p}\" không hợp lệ (dùng số 1–7, thứ Hai = 1, Chủ nhật = 7)"
            )),
        }
    };
    let mut mask = [false; 7];
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (day(a)?, day(b)?),
            None => (day(part)?, day(part)?),
        };
        if last < first {
            return Err(format!(
                "Khoảng ngày \"{}\" bị ngược (viết từ nhỏ đến lớn, ví dụ 1-5)",
                part.trim()
            ));
        }
        for n in first..=last {
            mask[usize::from(n - 1)] = true;
        }
    }
    Ok((0..7u8)
        .filter(|&i| mask[usize::from(i)])
        .map(|i| Weekday::try_from(i).expect("0..7 is a weekday"))
        .collect())
}

/// How a deadline is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Office working hours per the province's calendar (normal items).
    WorkingHours,
    /// Plain elapsed hours, nights and holidays included (urgent items).
    CalendarHours,
}

/// The deadline `hours` (may be fractional, e.g. 37.5) after `start_unix`,
/// counted per `counting`; Unix seconds. Hours are rounded to the nearest
/// second; negative or NaN hours count as 0.
pub fn deadline(cal: &WorkCalendar, start_unix: i64, hours: f64, counting: Counting) -> i64 {
    // `as` saturates for huge values and maps NaN to 0.
    let secs = ((hours * 3600.0).round() as i64).max(0);
    match counting {
        Counting::CalendarHours => start_unix.saturating_add(secs),
        Counting::WorkingHours => from_local(cal.add_working(to_local(start_unix), secs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    fn dt(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn date(y: i32, mo: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap()
    }

    /// Tết Bính Ngọ 2026: Saturday 14/2 to Sunday 22/2 inclusive.
    fn tet_2026() -> impl Iterator<Item = NaiveDate> {
        date(2026, 2, 14).iter_days().take(9)
    }

    /// Minute-by-minute reference: obviously correct, too slow for real use.
    fn naive_add(cal: &WorkCalendar, start: NaiveDateTime, minutes: i64) -> NaiveDateTime {
        let mut t = start;
        let mut left = minutes;
        while left > 0 {
            let s = secs_of(t.time());
            let working = cal.is_working_day(t.date())
                && cal
                    .windows
                    .iter()
                    .any(|&(a, b)| secs_of(a) <= s && s < secs_of(b));
            if working {
                left -= 1;
            }
            t += chrono::Duration::minutes(1);
        }
        t
    }

    #[test]
    fn default_calendar_shape() {
        let cal = WorkCalendar::default();
        assert_eq!(cal.day_seconds(), 27_000);
        assert!(cal.is_working_day(date(2026, 4, 24))); // Friday
        assert!(!cal.is_working_day(date(2026, 4, 25))); // Saturday
        let cal = cal.with_holidays([date(2026, 4, 27)]);
        assert!(!cal.is_working_day(date(2026, 4, 27)));
    }

    #[test]
    fn friday_afternoon_over_compensation_monday() {
        // Giỗ Tổ Hùng Vương 2026 falls on Sunday 26/4, so Monday 27/4 is off.
        let cal = WorkCalendar::default().with_holidays([date(2026, 4, 27)]);
        // 0.5 h Friday + 4 h Tuesday morning + 3.5 h Tuesday afternoon.
        assert_eq!(
            cal.add_working(dt(2026, 4, 24, 16, 30), 8 * HOUR),
            dt(2026, 4, 28, 17, 0)
        );
    }

    #[test]
    fn deadline_ending_at_window_end_stays_there() {
        let cal = WorkCalendar::default();
        assert_eq!(
            cal.add_working(dt(2026, 4, 24, 16, 30), HOUR / 2),
            dt(2026, 4, 24, 17, 0)
        );
        assert_eq!(
            cal.add_working(dt(2026, 4, 24, 11, 0), HOUR / 2),
            dt(2026, 4, 24, 11, 30)
        );
        // One second more moves to the next window.
        assert_eq!(
            cal.add_working(dt(2026, 4, 24, 16, 30), HOUR / 2 + 1),
            dt(2026, 4, 27, 7, 30) + chrono::Duration::seconds(1)
        );
    }

    #[test]
    fn start_outside_working_time() {
        let cal = WorkCalendar::default();
        // Lunch break.
        assert_eq!(
            cal.add_working(dt(2026, 4, 24, 12, 0), 0),
            dt(2026, 4, 24, 13, 30)
        );
        assert_eq!(
            cal.add_working(dt(2026, 4, 24, 12, 0), HOUR),
            dt(2026, 4, 24, 14, 30)
        );
        // Before work.
        assert_eq!(
            cal.add_working(dt(2026, 4, 24, 6, 0), 0),
            dt(2026, 4, 24, 7, 30)
        );
        assert_eq!(
            cal.add_working(dt(2026, 4, 24, 6, 0), HOUR),
            dt(2026, 4, 24, 8, 30)
        );
        // Saturday → Monday morning.
        assert_eq!(
            cal.add_working(dt(2026, 4, 25, 9, 0), 0),
            dt(2026, 4, 27, 7, 30)
        );
        // Exactly at 17:00 is outside (windows are half-open).
        assert_eq!(
            cal.add_working(dt(2026, 4, 24, 17, 0), 0),
            dt(2026, 4, 27, 7, 30)
        );
        // Inside a window, adding 0 changes nothing.
        assert_eq!(
            cal.add_working(dt(2026, 4, 24, 9, 15), 0),
            dt(2026, 4, 24, 9, 15)
        );
    }

    #[test]
    fn five_working_days_is_one_week() {
        let cal = WorkCalendar::default();
        let secs = (37.5 * HOUR as f64) as i64;
        assert_eq!(
            cal.add_working(dt(2026, 4, 20, 10, 0), secs),
            dt(2026, 4, 27, 10, 0)
        );
    }

    #[test]
    fn across_tet_2026() {
        let cal = WorkCalendar::default().with_holidays(tet_2026());
        // Friday 13/2 16:00: 1 h until 17:00 (7 h left). 14/2–22/2 are off.
        // Monday 23/2: 07:30–11:30 uses 4 h (3 h left), then 13:30 + 3 h =
        // 16:30 — the same Monday, not Tuesday.
        assert_eq!(
            cal.add_working(dt(2026, 2, 13, 16, 0), 8 * HOUR),
            dt(2026, 2, 23, 16, 30)
        );
        // Starting inside Tết counts from the first morning after it.
        assert_eq!(
            cal.add_working(dt(2026, 2, 18, 10, 0), 0),
            dt(2026, 2, 23, 7, 30)
        );
    }

    #[test]
    fn fast_add_matches_minute_reference() {
        let cal = WorkCalendar::default()
            .with_holidays(tet_2026())
            .with_holidays([date(2026, 4, 27), date(2026, 4, 30), date(2026, 5, 1)]);
        let starts = [
            dt(2026, 2, 9, 7, 30),
            dt(2026, 2, 13, 16, 0),
            dt(2026, 2, 11, 11, 29),
            dt(2026, 4, 22, 12, 0),
            dt(2026, 4, 24, 16, 30),
            dt(2026, 4, 29, 13, 30),
        ];
        let minutes = [1, 29, 30, 240, 241, 450, 451, 900, 2250, 6750, 13_500];
        for start in starts {
            for m in minutes {
                assert_eq!(
                    cal.add_working(start, m * 60),
                    naive_add(&cal, start, m),
                    "start {start}, {m} min"
                );
            }
        }
    }

    #[test]
    fn long_spans_skip_whole_weeks_correctly() {
        // 120 working days across Tết and spring holidays: the week jump
        // must stop before each holiday and still land on the exact minute.
        let cal = WorkCalendar::default()
            .with_holidays(tet_2026())
            .with_holidays([date(2026, 4, 27), date(2026, 4, 30), date(2026, 5, 1)]);
        let start = dt(2026, 1, 5, 9, 10);
        let minutes = 120 * 450 + 17;
        let end = cal.add_working(start, minutes * 60);
        assert_eq!(end, naive_add(&cal, start, minutes));
        // A year of 15-day deadlines stays exact and fast.
        let year = cal.add_working(start, 250 * 27_000);
        assert_eq!(cal.working_between(start, year), 250 * 27_000);
    }

    #[test]
    fn working_between_inverts_add_working() {
        let cal = WorkCalendar::default()
            .with_holidays(tet_2026())
            .with_holidays([date(2026, 4, 27)]);
        assert_eq!(
            cal.working_between(dt(2026, 4, 24, 16, 30), dt(2026, 4, 28, 17, 0)),
            8 * HOUR
        );
        assert_eq!(
            cal.working_between(dt(2026, 4, 13, 10, 0), dt(2026, 4, 20, 10, 0)),
            27_000 * 5
        );
        assert_eq!(
            cal.working_between(dt(2026, 2, 13, 16, 0), dt(2026, 2, 23, 16, 30)),
            8 * HOUR
        );
        // Lunch and night do not count.
        assert_eq!(
            cal.working_between(dt(2026, 4, 24, 12, 0), dt(2026, 4, 24, 14, 30)),
            HOUR
        );
        assert_eq!(
            cal.working_between(dt(2026, 4, 23, 20, 0), dt(2026, 4, 24, 7, 0)),
            0
        );
        for start in [
            dt(2026, 2, 10, 8, 0),
            dt(2026, 4, 24, 16, 30),
            dt(2026, 4, 21, 13, 45),
        ] {
            for secs in [1, 1800, 14_400, 27_000, 100_000, 15 * 27_000] {
                let end = cal.add_working(start, secs);
                assert_eq!(cal.working_between(start, end), secs, "{start} + {secs}");
            }
        }
        // Reversed and empty intervals.
        let (a, b) = (dt(2026, 4, 24, 9, 0), dt(2026, 4, 28, 9, 0));
        assert!(cal.working_between(a, b) > 0);
        assert_eq!(cal.working_between(b, a), 0);
        assert_eq!(cal.working_between(a, a), 0);
    }

    #[test]
    fn parse_round_trips() {
        let cal = WorkCalendar::parse("07:30-11:30,13:30-17:00", "1-5").unwrap();
        assert_eq!(cal, WorkCalendar::default());
        assert_eq!(cal.windows_text(), "07:30-11:30,13:30-17:00");
        assert_eq!(cal.workdays_text(), "1-5");

        let six = WorkCalendar::parse(" 7:00 - 11:00 , 13:00-16:30:30 ", "1,2,3,4,5,6").unwrap();
        assert_eq!(six.windows_text(), "07:00-11:00,13:00-16:30:30");
        assert_eq!(six.workdays_text(), "1-6");
        assert_eq!(six.day_seconds(), 4 * 3600 + 3 * 3600 + 1830);

        for (w, d, d_text) in [
            ("08:00-12:00", "1-5,7", "1-5,7"),
            ("08:00-12:00", "6,7", "6,7"),
            ("08:00-12:00", "1,3,5", "1,3,5"),
            ("08:00-12:00,12:00-13:00", "7", "7"),
        ] {
            let cal = WorkCalendar::parse(w, d).unwrap();
            assert_eq!(cal.workdays_text(), d_text);
            let again = WorkCalendar::parse(&cal.windows_text(), &cal.workdays_text()).unwrap();
            assert_eq!(again, cal);
        }
        let sun = WorkCalendar::parse("08:00-12:00", "1-5,7").unwrap();
        assert_eq!(sun.workdays.last(), Some(&Weekday::Sun));
    }

    #[test]
    fn parse_rejects_bad_input() {
        for w in [
            "07:30-07:00",
            "07:30-07:30",
            "7h30-11:30",
            "07:30-11:30,11:00-12:00",
            "13:30-17:00,07:30-11:30",
            "",
            "07:30",
            "24:00-25:00",
            "07:60-08:00",
            "07:30-11:30,",
        ] {
            let err = WorkCalendar::parse(w, "1-5").unwrap_err();
            assert!(!err.is_empty(), "{w}");
        }
        for d in ["0", "8", "", "5-1", "1-", "a", "1;2", "-1"] {
            assert!(
                WorkCalendar::parse("07:30-11:30", d).is_err(),
                "workdays {d:?}"
            );
        }
    }

    #[test]
    fn calendar_hours_ignore_windows() {
        let cal = WorkCalendar::default();
        let fri = from_local(dt(2026, 4, 24, 16, 30));
        assert_eq!(
            deadline(&cal, fri, 4.0, Counting::CalendarHours),
            from_local(dt(2026, 4, 24, 20, 30))
        );
        // The same 4 h as working hours: 0.5 h Friday + 3.5 h Monday.
        assert_eq!(
            deadline(&cal, fri, 4.0, Counting::WorkingHours),
            from_local(dt(2026, 4, 27, 11, 0))
        );
        assert_eq!(
            deadline(
                &cal,
                from_local(dt(2026, 4, 20, 10, 0)),
                37.5,
                Counting::WorkingHours
            ),
            from_local(dt(2026, 4, 27, 10, 0))
        );
        assert_eq!(deadline(&cal, fri, -3.0, Counting::CalendarHours), fri);
    }

    #[test]
    fn local_time_conversions() {
        // 2026-04-24T09:30:00Z.
        let unix = 1_777_023_000;
        assert_eq!(to_local(unix), dt(2026, 4, 24, 16, 30));
        assert_eq!(from_local(dt(2026, 4, 24, 16, 30)), unix);
        assert_eq!(iso_local(unix), "2026-04-24T16:30:00+07:00");
        assert_eq!(to_local(0), dt(1970, 1, 1, 7, 0));
        assert_eq!(iso_local(0), "1970-01-01T07:00:00+07:00");
        assert_eq!(vn_offset().local_minus_utc(), 7 * 3600);
        for u in [0, 1, -86_399, 1_777_023_059, 4_102_444_800] {
            assert_eq!(from_local(to_local(u)), u);
        }
        assert_eq!(to_local(i64::MAX), NaiveDateTime::MAX);
        assert_eq!(to_local(i64::MIN), NaiveDateTime::MIN);
    }

    #[test]
    fn degenerate_calendars_do_not_hang() {
        let start = dt(2026, 4, 24, 16, 30);
        let no_days = WorkCalendar {
            workdays: vec![],
            ..WorkCalendar::default()
        };
        // Falls back to calendar time.
        assert_eq!(
            no_days.add_working(start, 8 * HOUR),
            start + chrono::Duration::hours(8)
        );
        assert_eq!(no_days.day_seconds(), 27_000);
        assert_eq!(
            no_days.working_between(start, start + chrono::Duration::days(30)),
            0
        );

        let no_windows = WorkCalendar {
            windows: vec![],
            ..WorkCalendar::default()
        };
        assert_eq!(
            no_windows.add_working(start, HOUR),
            start + chrono::Duration::hours(1)
        );

        // Eleven years of holidays: gives up after 3660 days off.
        let all_off =
            WorkCalendar::default().with_holidays(date(2026, 4, 25).iter_days().take(11 * 366));
        assert_eq!(
            all_off.add_working(start, 8 * HOUR),
            start + chrono::Duration::hours(8)
        );
        // Shorter stretches are still counted through.
        let long_off =
            WorkCalendar::default().with_holidays(date(2026, 4, 25).iter_days().take(3000));
        let mut back = date(2026, 4, 25) + Days::new(3000);
        while back.weekday().num_days_from_monday() >= 5 {
            back = back.succ_opt().unwrap();
        }
        // 0.5 h Friday, then 0.5 h on the first weekday after the stretch.
        assert_eq!(
            long_off.add_working(start, HOUR),
            back.and_hms_opt(8, 0, 0).unwrap()
        );

        // Absurd spans saturate instead of overflowing or spinning.
        let cal = WorkCalendar::default();
        assert_eq!(cal.add_working(start, i64::MAX), NaiveDateTime::MAX);
    }

    #[test]
    fn unsorted_hand_built_windows_still_count_once() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let messy = WorkCalendar {
            windows: vec![
                (t(13, 30), t(17, 0)),
                (t(7, 30), t(11, 30)),
                (t(8, 0), t(9, 0)),
            ],
            ..WorkCalendar::default()
        };
        assert_eq!(messy.day_seconds(), 27_000);
        assert_eq!(
            messy.add_working(dt(2026, 4, 24, 16, 30), 8 * HOUR),
            WorkCalendar::default().add_working(dt(2026, 4, 24, 16, 30), 8 * HOUR)
        );
    }
}
