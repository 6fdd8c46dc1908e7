//! Dates as Vietnamese users write them (day first) and birth dates that are
//! often known only by year. The current date is always passed in.

use chrono::{Datelike, NaiveDate};

use crate::error::FieldError;

/// Earliest birth year accepted.
pub const MIN_BIRTH_YEAR: i32 = 1900;

/// Parses dd/mm/yyyy, also d/m/yyyy and with '-' or '.' as separator (the
/// same separator twice). Day always comes first: never mm/dd. An ISO
/// yyyy-mm-dd (what spreadsheets and `<input type=date>` produce) is accepted
/// too, since a 4-digit first part cannot be a day.
pub fn parse_vn_date(s: &str) -> Result<NaiveDate, FieldError> {
    let s = s.trim();
    let sep = s
        .chars()
        .find(|c| matches!(c, '/' | '-' | '.'))
        .ok_or(FieldError::InvalidDate)?;
    let parts: Vec<&str> = s.split(sep).map(str::trim).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(FieldError::InvalidDate);
    };
    let numeric = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if ![a, b, c].iter().all(|p| numeric(p)) {
        return Err(FieldError::InvalidDate);
    }
    let (day, month, year) = if a.len() == 4 {
        (*c, *b, *a)
    } else {
        (*a, *b, *c)
    };
    if day.len() > 2 || month.len() > 2 || year.len() != 4 {
        return Err(FieldError::InvalidDate);
    }
    let number = |p: &str| p.parse::<u32>().map_err(|_| FieldError::InvalidDate);
    let year = i32::try_from(number(year)?).map_err(|_| FieldError::InvalidDate)?;
    NaiveDate::from_ymd_opt(year, number(month)?, number(day)?).ok_or(FieldError::InvalidDate)
}

/// "05/03/1987".
pub fn format_vn_date(d: NaiveDate) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

/// A birth known by year, or by full date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Birth {
    pub year: i32,
    pub date: Option<NaiveDate>,
}

impl Birth {
    /// Accepts "1987" or a date as [`parse_vn_date`]. The year must be in
    /// 1900..=today's year (else `InvalidYear`) and a date must not be after
    /// `today` (else `InvalidDate`).
    pub fn parse(s: &str, today: NaiveDate) -> Result<Birth, FieldError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(FieldError::Empty);
        }
        let valid_year = |y: i32| (MIN_BIRTH_YEAR..=today.year()).contains(&y);
        if s.bytes().all(|b| b.is_ascii_digit()) {
            let year = s.parse::<i32>().map_err(|_| FieldError::InvalidYear)?;
            if s.len() != 4 || !valid_year(year) {
                return Err(FieldError::InvalidYear);
            }
            return Ok(Birth { year, date: None });
        }
        let date = parse_vn_date(s)?;
        // A date after today is reported as such, not as a bad year.
        if date.year() < MIN_BIRTH_YEAR {
            return Err(FieldError::InvalidYear);
        }
        if date > today {
            return Err(FieldError::InvalidDate);
        }
        Ok(Birth {
            year: date.year(),
            date: Some(date),
        })
    }

    /// As stored; no validation (the values were validated on the way in).
    pub fn from_parts(year: i32, date: Option<NaiveDate>) -> Birth {
        Birth { year, date }
    }

    /// "05/03/1987", or "1987" when only the year is known.
    pub fn display(&self) -> String {
        match self.date {
            Some(d) => format_vn_date(d),
            None => self.year.to_string(),
        }
    }

    /// Age in whole years on `today`; from the year alone when the date is
    /// unknown.
    pub fn age_on(&self, today: NaiveDate) -> i32 {
        match self.date {
            Some(d) => {
                let years = today.year() - d.year();
                if (today.month(), today.day()) < (d.month(), d.day()) {
                    years - 1
                } else {
                    years
                }
            }
            None => today.year() - self.year,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn parses_day_first() {
        assert_eq!(parse_vn_date("05/03/1987"), Ok(ymd(1987, 3, 5)));
        assert_eq!(parse_vn_date("5/3/1987"), Ok(ymd(1987, 3, 5)));
        assert_eq!(parse_vn_date("05-03-1987"), Ok(ymd(1987, 3, 5)));
        assert_eq!(parse_vn_date(" 05.03.1987 "), Ok(ymd(1987, 3, 5)));
        assert_eq!(parse_vn_date("1987-03-05"), Ok(ymd(1987, 3, 5)));
        assert_eq!(parse_vn_date("29/02/2024"), Ok(ymd(2024, 2, 29)));
    }

    #[test]
    fn rejects_bad_dates() {
        for s in [
            "",
            "31/02/2020",
            "29/02/2023",
            "12/13/1987", // mm/dd is not accepted
            "00/01/2000",
            "05/03/87",
            "05/03-1987",
            "05/03/1987/1",
            "a5/03/1987",
            "1987",
            "005/03/1987",
        ] {
            assert_eq!(parse_vn_date(s), Err(FieldError::InvalidDate), "{s}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_vn_date(ymd(1987, 3, 5)), "05/03/1987");
    }

    #[test]
    fn birth() {
        let today = ymd(2025, 6, 15);
        assert_eq!(
            Birth::parse("1987", today),
            Ok(Birth {
                year: 1987,
                date: None
            })
        );
        assert_eq!(
            Birth::parse("5/3/1987", today),
            Ok(Birth {
                year: 1987,
                date: Some(ymd(1987, 3, 5))
            })
        );
        assert_eq!(Birth::parse("2025", today).map(|b| b.year), Ok(2025));
        assert_eq!(Birth::parse("15/06/2025", today).map(|b| b.year), Ok(2025));
        assert_eq!(Birth::parse("2026", today), Err(FieldError::InvalidYear));
        assert_eq!(Birth::parse("1899", today), Err(FieldError::InvalidYear));
        assert_eq!(Birth::parse("87", today), Err(FieldError::InvalidYear));
        assert_eq!(
            Birth::parse("01/01/1899", today),
            Err(FieldError::InvalidYear)
        );
        assert_eq!(
            Birth::parse("16/06/2025", today),
            Err(FieldError::InvalidDate)
        );
        assert_eq!(
            Birth::parse("31/02/1990", today),
            Err(FieldError::InvalidDate)
        );
        assert_eq!(Birth::parse("  ", today), Err(FieldError::Empty));
    }

    #[test]
    fn birth_display_and_age() {
        let today = ymd(2025, 3, 4);
        let b = Birth::from_parts(1987, Some(ymd(1987, 3, 5)));
        assert_eq!(b.display(), "05/03/1987");
        assert_eq!(b.age_on(today), 37);
        assert_eq!(b.age_on(ymd(2025, 3, 5)), 38);
        let y = Birth::from_parts(1987, None);
        assert_eq!(y.display(), "1987");
        assert_eq!(y.age_on(today), 38);
    }
}
