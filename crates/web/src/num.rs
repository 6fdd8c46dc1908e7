//! Numbers as people read them, the one place pages format counts and
//! shares: Vietnamese groups thousands with a dot and writes a decimal
//! comma and a spaced percent sign (1.786 · 80,5 %); English writes
//! 1,786 · 80.5%.

use crate::i18n::Lang;

fn separators(lang: Lang) -> (char, char) {
    match lang {
        Lang::Vi => ('.', ','),
        Lang::En => (',', '.'),
    }
}

/// Digits grouped by three with `sep`.
fn group(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// A whole number: 1.786 (vi), 1,786 (en).
pub fn int(lang: Lang, n: i64) -> String {
    let (thousands, _) = separators(lang);
    let digits = group(&n.unsigned_abs().to_string(), thousands);
    if n < 0 {
        format!("-{digits}")
    } else {
        digits
    }
}

/// A decimal with at most `places` digits after the mark, trailing zeros
/// dropped: 1.234,5 (vi), 1,234.5 (en); 80 rather than 80,0.
pub fn decimal(lang: Lang, x: f64, places: usize) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let (thousands, mark) = separators(lang);
    let fixed = format!("{:.*}", places, x.abs());
    let (whole, frac) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let frac = frac.trim_end_matches('0');
    let negative = x < 0.0 && fixed.chars().any(|c| c.is_ascii_digit() && c != '0');
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&group(whole, thousands));
    if !frac.is_empty() {
        out.push(mark);
        out.push_str(frac);
    }
    out
}

/// A percent with one decimal at most: 80,5 % (vi), 80.5% (en).
pub fn percent(lang: Lang, p: f64) -> String {
    let n = decimal(lang, p, 1);
    match lang {
        Lang::Vi => format!("{n} %"),
        Lang::En => format!("{n}%"),
    }
}

/// `part` of `whole` as a percent, "—" when there is no whole.
pub fn share(lang: Lang, part: i64, whole: i64) -> String {
    if whole <= 0 {
        "—".into()
    } else {
        percent(lang, part as f64 * 100.0 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_grouped_by_thousands() {
        assert_eq!(int(Lang::Vi, 1786), "1.786");
        assert_eq!(int(Lang::En, 1786), "1,786");
        assert_eq!(int(Lang::Vi, 0), "0");
        assert_eq!(int(Lang::Vi, 999), "999");
        assert_eq!(int(Lang::Vi, 1000), "1.000");
        assert_eq!(int(Lang::Vi, 1_234_567), "1.234.567");
        assert_eq!(int(Lang::En, -45_000), "-45,000");
        assert_eq!(int(Lang::Vi, i64::MIN), "-9.223.372.036.854.775.808");
    }

    #[test]
    fn decimals_use_the_readers_mark() {
        assert_eq!(decimal(Lang::Vi, 80.5, 1), "80,5");
        assert_eq!(decimal(Lang::En, 80.5, 1), "80.5");
        assert_eq!(decimal(Lang::Vi, 1234.56, 1), "1.234,6");
        assert_eq!(decimal(Lang::En, 1234.56, 2), "1,234.56");
        assert_eq!(decimal(Lang::Vi, 80.0, 1), "80");
        assert_eq!(decimal(Lang::Vi, 2.04, 1), "2");
        assert_eq!(decimal(Lang::Vi, -0.01, 1), "0");
        assert_eq!(decimal(Lang::Vi, -2.5, 1), "-2,5");
        assert_eq!(decimal(Lang::Vi, f64::NAN, 1), "—");
    }

    #[test]
    fn percents_are_spaced_in_vietnamese() {
        assert_eq!(percent(Lang::Vi, 80.5), "80,5 %");
        assert_eq!(percent(Lang::En, 80.5), "80.5%");
        assert_eq!(share(Lang::Vi, 161, 200), "80,5 %");
        assert_eq!(share(Lang::En, 1, 3), "33.3%");
        assert_eq!(share(Lang::Vi, 3, 3), "100 %");
        assert_eq!(share(Lang::Vi, 0, 0), "—");
    }
}
