//! Lays a sheet out on pages of marks (text at a baseline, black rules and
//! frames) and writes them as a PDF. Black on white only, thick rules and
//! large type: it is pinned up and photocopied on cheap machines.
//!
//! The body is set at the format's largest size that lets it fit on the
//! first page, down to its smallest; longer still, it continues on further
//! pages, each headed by the title "(tiếp theo)" and numbered in the footer.

use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::TextDirection;
use krilla::Document;

use super::typeface::Weight;
use super::wrap::{truncate, wrap};

/// What a printed announcement says.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The unit it comes from, e.g. "Xã Phúc Sơn — Tỉnh Bắc Ninh".
    pub unit: String,
    pub title: String,
    /// "Ngày 29/11/2026".
    pub date: String,
    /// "KHẨN CẤP" for urgent ones, in a frame; none for the ordinary.
    pub alert: Option<String>,
    /// Paragraphs separated by newlines.
    pub body: String,
    /// Who speaks at the foot, e.g. "Tổ dân vận số 1 — Thôn Mai Hoàng".
    pub footer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A4 portrait, read on a notice board from a few metres.
    Poster,
    /// A5 portrait, handed to each household.
    Leaflet,
}

/// Sizes in points.
struct Style {
    width: f32,
    height: f32,
    margin: f32,
    unit: f32,
    kicker: f32,
    alert: f32,
    title_max: f32,
    title_min: f32,
    /// Title lines before the title is set smaller.
    title_lines: usize,
    date: f32,
    body_max: f32,
    body_min: f32,
    footer: f32,
    thick: f32,
    thin: f32,
}

impl Format {
    fn style(self) -> Style {
        match self {
            Format::Poster => Style {
                width: 595.0,
                height: 842.0,
                // Cheap copiers lose a few millimetres at the edges.
                margin: 48.0,
                unit: 18.0,
                kicker: 22.0,
                alert: 34.0,
                title_max: 40.0,
                title_min: 26.0,
                title_lines: 3,
                date: 18.0,
                body_max: 22.0,
                body_min: 15.0,
                footer: 12.0,
                thick: 4.0,
                thin: 1.5,
            },
            Format::Leaflet => Style {
                width: 420.0,
                height: 595.0,
                margin: 34.0,
                unit: 12.0,
                kicker: 13.0,
                alert: 20.0,
                title_max: 24.0,
                title_min: 16.0,
                title_lines: 3,
                date: 12.0,
                body_max: 13.0,
                body_min: 11.0,
                footer: 9.0,
                thick: 2.5,
                thin: 1.0,
            },
        }
    }

    pub fn size(self) -> (f32, f32) {
        let s = self.style();
        (s.width, s.height)
    }
}

/// One thing drawn on a page; `y` grows downwards from the top edge.
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// Text with its baseline at `y`.
    Text {
        x: f32,
        y: f32,
        size: f32,
        weight: Weight,
        text: String,
    },
    /// A filled black bar.
    Rule { x: f32, y: f32, w: f32, h: f32 },
    /// An outlined box.
    Frame {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        stroke: f32,
    },
}

/// A body line, or the space between paragraphs.
#[derive(Debug, Clone, PartialEq)]
enum BodyLine {
    Text(String),
    Gap,
}

const BODY_LEADING: f32 = 1.4;
const TITLE_LEADING: f32 = 1.25;
/// Baseline below the top of a line box, in ems: room for stacked marks
/// above capitals (Ấ, Ễ).
const ASCENT: f32 = 1.05;

fn body_lines(body: &str, size: f32, max: f32) -> Vec<BodyLine> {
    let mut out = Vec::new();
    for paragraph in body.lines() {
        let lines = wrap(paragraph, max, |t| Weight::Regular.width(t, size));
        if lines.is_empty() {
            if out.last().is_some_and(|l| *l != BodyLine::Gap) {
                out.push(BodyLine::Gap);
            }
            continue;
        }
        out.extend(lines.into_iter().map(BodyLine::Text));
    }
    while out.last() == Some(&BodyLine::Gap) {
        out.pop();
    }
    out
}

fn body_height(lines: &[BodyLine], size: f32) -> f32 {
    lines
        .iter()
        .map(|l| match l {
            BodyLine::Text(_) => size * BODY_LEADING,
            BodyLine::Gap => size * 0.6,
        })
        .sum()
}

/// Marks of the page being laid out, and where the next line goes.
struct Cursor<'a> {
    s: &'a Style,
    marks: Vec<Mark>,
    y: f32,
}

impl Cursor<'_> {
    fn line_width(&self) -> f32 {
        self.s.width - 2.0 * self.s.margin
    }

    fn centered(&mut self, text: &str, size: f32, weight: Weight, leading: f32) {
        let w = weight.width(text, size);
        self.marks.push(Mark::Text {
            x: (self.s.width - w) / 2.0,
            y: self.y + size * ASCENT,
            size,
            weight,
            text: text.to_string(),
        });
        self.y += size * leading;
    }

    fn rule(&mut self, h: f32, space: f32) {
        self.y += space;
        self.marks.push(Mark::Rule {
            x: self.s.margin,
            y: self.y,
            w: self.line_width(),
            h,
        });
        self.y += h + space;
    }
}

/// Lays `sheet` out in `format`: the pages and their marks.
pub fn lay_out(format: Format, sheet: &Sheet) -> Vec<Vec<Mark>> {
    let s = format.style();
    let width = s.width - 2.0 * s.margin;
    let mut c = Cursor {
        s: &s,
        marks: Vec::new(),
        y: s.margin,
    };

    // The unit, a thick rule, the alert, the title, the date, a thin rule.
    for line in wrap(&sheet.unit, width, |t| Weight::Bold.width(t, s.unit)) {
        c.centered(&line, s.unit, Weight::Bold, TITLE_LEADING);
    }
    c.rule(s.thick, s.unit * 0.4);
    if let Some(alert) = &sheet.alert {
        let h = s.alert * 1.7;
        c.marks.push(Mark::Frame {
            x: s.margin,
            y: c.y,
            w: width,
            h,
            stroke: s.thick,
        });
        c.y += (h - s.alert * TITLE_LEADING) / 2.0;
        c.centered(alert, s.alert, Weight::Bold, TITLE_LEADING);
        c.y += (h - s.alert * TITLE_LEADING) / 2.0 + s.alert * 0.4;
    }
    c.centered("THÔNG BÁO", s.kicker, Weight::Bold, TITLE_LEADING);
    let mut title_size = s.title_max;
    let title = loop {
        let lines = wrap(&sheet.title, width, |t| Weight::Bold.width(t, title_size));
        if lines.len() <= s.title_lines || title_size <= s.title_min {
            break lines;
        }
        title_size = (title_size - 2.0).max(s.title_min);
    };
    for line in &title {
        c.centered(line, title_size, Weight::Bold, TITLE_LEADING);
    }
    c.y += s.date * 0.3;
    c.centered(&sheet.date, s.date, Weight::Regular, TITLE_LEADING);
    c.rule(s.thin, s.date * 0.4);
    c.y += s.body_min * 0.3;

    let footer_top = s.height - s.margin - s.footer * 2.0;
    let bottom = footer_top - s.footer;
    // The largest body size that fits on this page, else the smallest.
    let mut size = s.body_max;
    let lines = loop {
        let lines = body_lines(&sheet.body, size, width);
        if c.y + body_height(&lines, size) <= bottom || size <= s.body_min {
            break lines;
        }
        size = (size - 1.0).max(s.body_min);
    };

    let mut pages = Vec::new();
    let mut rest = lines.as_slice();
    loop {
        while rest.first() == Some(&BodyLine::Gap) {
            rest = &rest[1..];
        }
        let mut placed = 0;
        for line in rest {
            let step = match line {
                BodyLine::Text(_) => size * BODY_LEADING,
                BodyLine::Gap => size * 0.6,
            };
            if c.y + step > bottom && placed > 0 {
                break;
            }
            if let BodyLine::Text(text) = line {
                c.marks.push(Mark::Text {
                    x: s.margin,
                    y: c.y + size * ASCENT,
                    size,
                    weight: Weight::Regular,
                    text: text.clone(),
                });
            }
            c.y += step;
            placed += 1;
        }
        rest = &rest[placed..];
        pages.push(std::mem::take(&mut c.marks));
        if rest.iter().all(|l| *l == BodyLine::Gap) {
            break;
        }
        // A continuation page: the title, to know what it continues.
        c.y = s.margin;
        let head = truncate(&format!("{} (tiếp theo)", sheet.title), width, |t| {
            Weight::Bold.width(t, s.date)
        });
        c.centered(&head, s.date, Weight::Bold, TITLE_LEADING);
        c.rule(s.thin, s.date * 0.4);
        c.y += s.body_min * 0.3;
    }

    // Footers, now that the number of pages is known.
    let count = pages.len();
    for (i, marks) in pages.iter_mut().enumerate() {
        let number = if count > 1 {
            format!("Trang {}/{count}", i + 1)
        } else {
            String::new()
        };
        let number_w = Weight::Regular.width(&number, s.footer);
        marks.push(Mark::Rule {
            x: s.margin,
            y: footer_top,
            w: width,
            h: s.thin,
        });
        let baseline = footer_top + s.thin + s.footer * 1.4;
        let room = width - number_w - s.footer;
        marks.push(Mark::Text {
            x: s.margin,
            y: baseline,
            size: s.footer,
            weight: Weight::Bold,
            text: truncate(&sheet.footer, room, |t| Weight::Bold.width(t, s.footer)),
        });
        if count > 1 {
            marks.push(Mark::Text {
                x: s.width - s.margin - number_w,
                y: baseline,
                size: s.footer,
                weight: Weight::Regular,
                text: number,
            });
        }
    }
    pages
}

/// The sheet as a PDF: real text in the embedded faces (subset to the
/// glyphs used), black only.
pub fn pdf(format: Format, sheet: &Sheet) -> Result<Vec<u8>, String> {
    let (w, h) = format.size();
    let settings = PageSettings::from_wh(w, h).ok_or("bad page size")?;
    let regular = Weight::Regular.pdf_font();
    let bold = Weight::Bold.pdf_font();
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(sheet.title.clone())
            .language("vi".into())
            .creator("Dân Vận".into()),
    );
    for marks in lay_out(format, sheet) {
        let mut page = doc.start_page_with(settings.clone());
        let mut surface = page.surface();
        for mark in marks {
            surface.set_stroke(None);
            surface.set_fill(Some(Fill::default()));
            match mark {
                Mark::Text {
                    x,
                    y,
                    size,
                    weight,
                    text,
                } => {
                    let font = match weight {
                        Weight::Regular => regular.clone(),
                        Weight::Bold => bold.clone(),
                    };
                    surface.draw_text(
                        Point::from_xy(x, y),
                        font,
                        size,
                        &text,
                        false,
                        TextDirection::LeftToRight,
                    );
                }
                Mark::Rule { x, y, w, h } => {
                    if let Some(path) = rect(x, y, w, h) {
                        surface.draw_path(&path);
                    }
                }
                Mark::Frame { x, y, w, h, stroke } => {
                    surface.set_fill(None);
                    surface.set_stroke(Some(Stroke {
                        width: stroke,
                        ..Stroke::default()
                    }));
                    // The stroke straddles the path: keep it inside the box.
                    let half = stroke / 2.0;
                    if let Some(path) = rect(x + half, y + half, w - stroke, h - stroke) {
                        surface.draw_path(&path);
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| format!("{e:?}"))
}

fn rect(x: f32, y: f32, w: f32, h: f32) -> Option<krilla::geom::Path> {
    let mut b = PathBuilder::new();
    b.push_rect(Rect::from_xywh(x, y, w, h)?);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(body: &str) -> Sheet {
        Sheet {
            unit: "Xã Phúc Sơn — Tỉnh Bắc Ninh".into(),
            title: "Phun thuốc diệt muỗi phòng sốt xuất huyết".into(),
            date: "Ngày 29/11/2026".into(),
            alert: Some("KHẨN".into()),
            body: body.into(),
            footer: "Tổ dân vận số 1 — Thôn Mai Hoàng".into(),
        }
    }

    fn texts(page: &[Mark]) -> Vec<(f32, f32, f32, Weight, &str)> {
        page.iter()
            .filter_map(|m| match m {
                Mark::Text {
                    x,
                    y,
                    size,
                    weight,
                    text,
                } => Some((*x, *y, *size, *weight, text.as_str())),
                _ => None,
            })
            .collect()
    }

    fn long_body() -> String {
        let p = "Đề nghị các hộ gia đình dọn vệ sinh, lật úp dụng cụ chứa nước, thả cá bảy màu vào bể nước ăn; người có biểu hiện sốt cao đột ngột đến ngay trạm y tế xã để được khám, không tự ý truyền dịch tại nhà.";
        vec![p; 18].join("\n\n")
    }

    #[test]
    fn a_short_notice_is_one_page_at_the_largest_body_size() {
        for format in [Format::Poster, Format::Leaflet] {
            let pages = lay_out(format, &sheet("Sáng mai phun thuốc toàn thôn."));
            assert_eq!(pages.len(), 1);
            let body = texts(&pages[0])
                .into_iter()
                .find(|t| t.4.starts_with("Sáng mai"))
                .unwrap();
            assert_eq!(body.2, format.style().body_max);
            assert!(!texts(&pages[0]).iter().any(|t| t.4.starts_with("Trang ")));
        }
    }

    #[test]
    fn every_line_stays_inside_the_margins() {
        let body = format!(
            "{}\nhttps://danvan.example/{}",
            long_body(),
            "x".repeat(300)
        );
        for format in [Format::Poster, Format::Leaflet] {
            let s = format.style();
            for page in lay_out(format, &sheet(&body)) {
                for (x, y, size, weight, text) in texts(&page) {
                    let w = weight.width(text, size);
                    assert!(x >= s.margin - 0.01, "{text}");
                    assert!(x + w <= s.width - s.margin + 0.01, "{text}: {w}");
                    assert!(y - size * ASCENT >= s.margin - 0.01, "{text}");
                    assert!(y <= s.height - s.margin, "{text}");
                }
            }
        }
    }

    #[test]
    fn a_long_body_continues_on_numbered_pages_at_the_smallest_size() {
        let body = long_body();
        let pages = lay_out(Format::Leaflet, &sheet(&body));
        assert!(pages.len() >= 2, "{}", pages.len());
        let all: Vec<_> = pages.iter().flat_map(|p| texts(p)).collect();
        let words: Vec<&str> = all
            .iter()
            .filter(|t| t.3 == Weight::Regular && !t.4.starts_with("Trang"))
            .skip(1) // the date
            .flat_map(|t| t.4.split(' '))
            .collect();
        let want: Vec<&str> = body.split_whitespace().collect();
        assert_eq!(words, want, "every word, once, in order");
        assert!(all
            .iter()
            .any(|t| t.4 == format!("Trang 2/{}", pages.len())));
        assert!(texts(&pages[1])[0].4.ends_with("(tiếp theo)"));
        let size = all.iter().find(|t| t.4.starts_with("Đề nghị")).unwrap().2;
        assert_eq!(size, Format::Leaflet.style().body_min);
    }

    #[test]
    fn a_long_title_is_set_smaller() {
        let mut s = sheet("Nội dung.");
        s.title =
            "Tổ chức tiêm vắc-xin phòng bệnh sởi cho trẻ em dưới năm tuổi trong toàn xã".into();
        let pages = lay_out(Format::Poster, &s);
        let title: Vec<_> = texts(&pages[0])
            .into_iter()
            .filter(|t| t.3 == Weight::Bold && t.2 > 22.0 && t.4 != "KHẨN")
            .collect();
        assert!(title.len() <= 3, "{title:?}");
        assert!(title[0].2 < Format::Poster.style().title_max);
    }

    #[test]
    fn writes_a_pdf_per_format() {
        for format in [Format::Poster, Format::Leaflet] {
            let bytes = pdf(format, &sheet(&long_body())).unwrap();
            assert!(bytes.starts_with(b"%PDF-"));
            assert!(bytes.len() < 200_000, "{}", bytes.len());
        }
    }
}
