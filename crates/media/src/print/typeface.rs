//! The two embedded faces (Noto Sans Regular and Bold, cut down to the
//! characters Vietnamese uses; see `assets/fonts/README.md`) and text
//! measurement with the same shaper krilla draws with, so a line measured
//! to fit is drawn the same width.

use std::sync::LazyLock;

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Regular.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Bold.ttf");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

impl Weight {
    fn data(self) -> &'static [u8] {
        match self {
            Weight::Regular => REGULAR,
            Weight::Bold => BOLD,
        }
    }

    #[allow(
        clippy::expect_used,
        reason = "the faces are compiled in and a unit test parses them"
    )]
    fn face(self) -> &'static rustybuzz::Face<'static> {
        static FACES: LazyLock<[rustybuzz::Face<'static>; 2]> = LazyLock::new(|| {
            [Weight::Regular, Weight::Bold].map(|w| {
                rustybuzz::Face::from_slice(w.data(), 0).expect("the embedded font parses")
            })
        });
        &FACES[self as usize]
    }

    /// The face for the PDF writer (it subsets what each document draws).
    #[allow(
        clippy::expect_used,
        reason = "the faces are compiled in and a unit test parses them"
    )]
    pub fn pdf_font(self) -> krilla::text::Font {
        krilla::text::Font::new(self.data().into(), 0).expect("the embedded font parses")
    }

    /// Width of `text` set in one line at `size` points.
    pub fn width(self, text: &str, size: f32) -> f32 {
        if text.is_empty() {
            return 0.0;
        }
        let face = self.face();
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let shaped = rustybuzz::shape(face, &[], buffer);
        let units: i32 = shaped.glyph_positions().iter().map(|p| p.x_advance).sum();
        units as f32 * size / face.units_per_em() as f32
    }

    /// Whether the face draws every character of `text` (else a box).
    #[cfg(test)]
    fn covers(self, text: &str) -> bool {
        let face = self.face();
        text.chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .all(|c| face.glyph_index(c).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_is_covered_in_both_weights() {
        let all = "aàảãáạăằẳẵắặâầẩẫấậbcdđeèẻẽéẹêềểễếệghiìỉĩíịklmnoòỏõóọôồổỗốộơờởỡớợpqrstuùủũúụưừửữứựvxyỳỷỹýỵ";
        for w in [Weight::Regular, Weight::Bold] {
            assert!(w.covers(all));
            assert!(w.covers(&all.to_uppercase()));
            assert!(w.covers("0123456789 .,;:!?()–—…“”‘’«»/-% ₫"));
        }
    }

    #[test]
    fn widths_scale_with_size_and_bold_is_wider() {
        let w = Weight::Regular.width("Thông báo họp thôn", 10.0);
        assert!(w > 50.0 && w < 120.0, "{w}");
        let double = Weight::Regular.width("Thông báo họp thôn", 20.0);
        assert!((double - 2.0 * w).abs() < 0.01);
        assert!(Weight::Bold.width("Thông báo họp thôn", 10.0) > w);
        assert_eq!(Weight::Bold.width("", 10.0), 0.0);
    }
}
