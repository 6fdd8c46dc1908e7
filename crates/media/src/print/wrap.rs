//! Line breaking by measured width: greedy, at spaces; a word wider than
//! the line (a long code, a link) is cut between characters, never
//! between a letter and a combining mark that belongs to it.

/// Lines of one paragraph (no newlines in `text`), each no wider than
/// `max` as measured by `width`. An empty paragraph has no lines.
pub fn wrap(text: &str, max: f32, width: impl Fn(&str) -> f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width(&candidate) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if width(word) <= max {
            line = word.to_string();
            continue;
        }
        // Too long for any line: fill lines with as much as fits.
        for cluster in clusters(word) {
            let candidate = format!("{line}{cluster}");
            if width(&candidate) <= max || line.is_empty() {
                line = candidate;
            } else {
                lines.push(std::mem::replace(&mut line, cluster.to_string()));
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A letter with the combining marks after it (NFC text rarely has any,
/// but a decomposed tone mark must stay on its vowel).
fn clusters(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in word.char_indices().skip(1) {
        if !is_combining(c) {
            out.push(&word[start..i]);
            start = i;
        }
    }
    if start < word.len() {
        out.push(&word[start..]);
    }
    out
}

fn is_combining(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}')
}

/// `text` cut to fit `max`, with an ellipsis when anything was cut.
pub fn truncate(text: &str, max: f32, width: impl Fn(&str) -> f32) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    let mut kept = String::new();
    for cluster in clusters(text) {
        let candidate = format!("{kept}{cluster}");
        if width(&format!("{candidate}…")) > max {
            break;
        }
        kept = candidate;
    }
    format!("{}…", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character one unit wide.
    fn chars(s: &str) -> f32 {
        s.chars().count() as f32
    }

    #[test]
    fn breaks_at_spaces_within_the_width() {
        let lines = wrap("Mời các hộ dự họp thôn lúc 19 giờ", 13.0, chars);
        assert_eq!(lines, ["Mời các hộ dự", "họp thôn lúc", "19 giờ"]);
        assert!(lines.iter().all(|l| chars(l) <= 13.0));
    }

    #[test]
    fn spaces_collapse_and_an_empty_paragraph_has_no_lines() {
        assert_eq!(wrap("  a \t  b  ", 10.0, chars), ["a b"]);
        assert!(wrap("   ", 10.0, chars).is_empty());
    }

    #[test]
    fn a_word_longer_than_the_line_is_cut() {
        let lines = wrap(
            "xem https://danvan.example/thong-bao/12345 nhé",
            10.0,
            chars,
        );
        assert_eq!(
            lines,
            [
                "xem",
                "https://da",
                "nvan.examp",
                "le/thong-b",
                "ao/12345",
                "nhé"
            ]
        );
    }

    #[test]
    fn a_combining_mark_stays_with_its_letter() {
        // "ặ" decomposed: a + dot below + breve... written as a + U+0323 + U+0306.
        let word = "a\u{0323}\u{0306}a\u{0323}\u{0306}a\u{0323}\u{0306}";
        let lines = wrap(word, 2.0 * 3.0, chars);
        assert!(
            lines.iter().all(|l| !l.starts_with(is_combining)),
            "{lines:?}"
        );
        assert_eq!(lines.concat(), word);
    }

    #[test]
    fn truncate_adds_an_ellipsis_only_when_it_cuts() {
        assert_eq!(truncate("Thôn Mai Hoàng", 20.0, chars), "Thôn Mai Hoàng");
        assert_eq!(truncate("Thôn Mai Hoàng", 9.0, chars), "Thôn Mai…");
    }
}
