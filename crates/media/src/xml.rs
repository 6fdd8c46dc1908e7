//! XML text for the documents written by hand (CAP here, Open311 in the
//! web crate): one escaping rule for both.

/// Escapes text for element content (and attributes, should one appear);
/// characters XML 1.0 cannot carry at all are dropped, since no escape
/// would make the document well-formed.
pub fn escape_xml(s: &str, out: &mut String) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let (replacement, len) = match bytes[i] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            0..=0x1f => ("", 1),
            // U+FFFE and U+FFFF (EF BF BE, EF BF BF).
            0xEF if bytes.get(i + 1) == Some(&0xBF)
                && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) =>
            {
                ("", 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[start..i]);
        out.push_str(replacement);
        i += len;
        start = i;
    }
    out.push_str(&s[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_drops_what_xml_cannot_carry() {
        let mut out = String::new();
        escape_xml("<script>&\"'\u{1}\n", &mut out);
        assert_eq!(out, "&lt;script&gt;&amp;&quot;&apos;\n");
        // Runs between escapes are copied whole, multibyte text included;
        // the two non-characters go, their neighbours (EF BF BD) stay.
        let mut out = String::new();
        escape_xml("Hạn\u{FFFE}xử\u{FFFF}lý\u{FFFD}<b>", &mut out);
        assert_eq!(out, "Hạnxửlý\u{FFFD}&lt;b&gt;");
    }
}
