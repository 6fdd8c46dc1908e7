//! Charts as inline SVG, drawn on the server: stacked bars, lines and
//! horizontal share bars. No script reads or draws them and no font or
//! file is fetched; the page shows the same numbers in a table beside each
//! chart (for screen readers and printing), so a chart only has to be
//! readable, not exhaustive.
//!
//! Each chart is `<svg role="img">` with a `<title>` and a `<desc>`, a
//! `viewBox` and `width="100%"` (it scales from a 375-px phone to a wide
//! screen, the stylesheet caps its width), and every mark — a bar, a
//! segment, a point — carries `class="mark"` and `data-value`. The output
//! depends only on the input (coordinates written with one decimal), so
//! tests compare it byte for byte. Every text is escaped here.

use std::fmt::Write;

use crate::i18n::Lang;
use crate::num;

/// Width of every chart's drawing, in its own units (one unit is about a
/// CSS pixel at the stylesheet's largest width; text stays readable at
/// 375 px, where a unit is about 0.85 px).
const W: f64 = 400.0;
const FONT: f64 = 11.0;
const LEGEND_ROW: f64 = 16.0;
/// Colours told apart with the common colour blindnesses (Okabe–Ito,
/// without its yellow, too pale on white).
const PALETTE: [&str; 7] = [
    "#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#000000",
];

/// A chart ready for a template (`{{ chart|safe }}`): the text was
/// escaped when it was drawn.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Svg(pub String);

impl std::fmt::Display for Svg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What names a chart: its element id (also the prefix of its title and
/// description ids), its title, a sentence describing it, the language
/// of its numbers.
pub struct Frame<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub desc: &'a str,
    pub lang: Lang,
}

/// One series: its name (in the legend) and a value per category.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<i64>,
}

/// `& < > " '` as entities: safe in text and in attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, the last one an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A round top for an axis holding `max`, and its step: 1, 2 or 5 times a
/// power of ten, at most five steps.
pub fn nice_axis(max: i64) -> (i64, i64) {
    if max <= 0 {
        return (1, 1);
    }
    let mut magnitude = 1i64;
    loop {
        for m in [1, 2, 5] {
            let step = m * magnitude;
            let steps = (max + step - 1) / step;
            if steps <= 5 {
                return (steps * step, step);
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// A number written with one decimal, without "-0.0".
fn f(x: f64) -> String {
    let s = format!("{x:.1}");
    if s == "-0.0" {
        "0.0".into()
    } else {
        s
    }
}

/// Every `k`-th label is written so that labels of `width` units never
/// touch across a slot of `slot` units.
fn label_stride(slot: f64, width: f64) -> usize {
    if slot <= 0.0 {
        return 1;
    }
    ((width / slot).ceil() as usize).max(1)
}

fn open(out: &mut String, frame: &Frame, height: f64) {
    let id = escape(frame.id);
    let _ = write!(
        out,
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
         viewBox=\"0 0 {w} {h}\" width=\"100%\" font-size=\"{FONT}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}-t\">{t}</title><desc id=\"{id}-d\">{d}</desc>",
        w = f(W),
        h = f(height),
        t = escape(frame.title),
        d = escape(frame.desc),
    );
}

/// The legend under a plot: two columns of coloured squares and names.
fn legend(out: &mut String, names: &[String], top: f64) {
    for (i, name) in names.iter().enumerate() {
        let x = 8.0 + (i % 2) as f64 * (W / 2.0);
        let y = top + (i / 2) as f64 * LEGEND_ROW;
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            f(x),
            f(y),
            PALETTE[i % PALETTE.len()],
            f(x + 14.0),
            f(y + 9.0),
            escape(&clip(name, 30)),
        );
    }
}

fn legend_height(n: usize) -> f64 {
    n.div_ceil(2) as f64 * LEGEND_ROW
}

/// Horizontal grid lines and their values on the left, for a plot from
/// `top` to `bottom` holding 0..=`max` in steps of `step`.
fn y_axis(out: &mut String, lang: Lang, left: f64, top: f64, bottom: f64, max: i64, step: i64) {
    let mut v = 0;
    while v <= max {
        let y = bottom - (bottom - top) * v as f64 / max as f64;
        let _ = write!(
            out,
            "<line x1=\"{l}\" x2=\"{r}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{n}</text>",
            l = f(left),
            r = f(W - 8.0),
            y = f(y),
            tx = f(left - 4.0),
            ty = f(y + 4.0),
            n = num::int(lang, v),
        );
        v += step;
    }
}

/// Category labels under a plot, thinned so they never overlap.
fn x_labels(out: &mut String, labels: &[String], left: f64, slot: f64, y: f64) {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let stride = label_stride(slot, longest as f64 * FONT * 0.6 + 4.0);
    for (i, label) in labels.iter().enumerate() {
        if i % stride != 0 && i + 1 != labels.len() {
            continue;
        }
        if i + 1 == labels.len() && i % stride != 0 && stride > 1 {
            // The last label, unless it would touch the one before.
            if i % stride < stride.div_ceil(2) {
                continue;
            }
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            f(left + slot * (i as f64 + 0.5)),
            f(y),
            escape(label)
        );
    }
}

const TOP: f64 = 8.0;
const PLOT_H: f64 = 150.0;
const LEFT: f64 = 40.0;

/// Bars per category, each stacked from its series (zero segments are not
/// drawn): a mark per non-zero (category, series).
pub fn stacked_bars(frame: &Frame, categories: &[String], series: &[Series]) -> Svg {
    let totals: Vec<i64> = (0..categories.len())
        .map(|i| {
            series
                .iter()
                .map(|s| s.values.get(i).copied().unwrap_or(0).max(0))
                .sum()
        })
        .collect();
    let (max, step) = nice_axis(totals.iter().copied().max().unwrap_or(0));
    let bottom = TOP + PLOT_H;
    let names: Vec<String> = series.iter().map(|s| s.name.clone()).collect();
    let height = bottom + 24.0 + legend_height(names.len());
    let mut out = String::new();
    open(&mut out, frame, height);
    y_axis(&mut out, frame.lang, LEFT, TOP, bottom, max, step);
    let slot = (W - 8.0 - LEFT) / categories.len().max(1) as f64;
    let bar = slot * 0.7;
    for (i, category) in categories.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let mut base = 0i64;
        for (k, s) in series.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0).max(0);
            if v == 0 {
                continue;
            }
            let y_top = bottom - PLOT_H * (base + v) as f64 / max as f64;
            let h = PLOT_H * v as f64 / max as f64;
            let _ = write!(
                out,
                "<rect class=\"mark\" data-value=\"{v}\" data-series=\"{k}\" data-category=\"{c}\" \
                 x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{fill}\"/>",
                c = escape(category),
                x = f(x),
                y = f(y_top),
                w = f(bar),
                h = f(h),
                fill = PALETTE[k % PALETTE.len()],
            );
            base += v;
        }
    }
    let _ = write!(
        out,
        "<line x1=\"{l}\" x2=\"{r}\" y1=\"{b}\" y2=\"{b}\" stroke=\"#555\"/>",
        l = f(LEFT),
        r = f(W - 8.0),
        b = f(bottom)
    );
    x_labels(&mut out, categories, LEFT, slot, bottom + 14.0);
    legend(&mut out, &names, bottom + 22.0);
    out.push_str("</svg>");
    Svg(out)
}

/// A line per series over the categories (points in order, the same
/// spacing), a mark per point.
pub fn lines(frame: &Frame, categories: &[String], series: &[Series]) -> Svg {
    let top_value = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let (max, step) = nice_axis(top_value);
    let bottom = TOP + PLOT_H;
    let names: Vec<String> = series.iter().map(|s| s.name.clone()).collect();
    let height = bottom + 24.0 + legend_height(names.len());
    let mut out = String::new();
    open(&mut out, frame, height);
    y_axis(&mut out, frame.lang, LEFT, TOP, bottom, max, step);
    let slot = (W - 8.0 - LEFT) / categories.len().max(1) as f64;
    for (k, s) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let points: Vec<(f64, f64, i64)> = s
            .values
            .iter()
            .take(categories.len())
            .enumerate()
            .map(|(i, v)| {
                let v = (*v).max(0);
                (
                    LEFT + slot * (i as f64 + 0.5),
                    bottom - PLOT_H * v as f64 / max as f64,
                    v,
                )
            })
            .collect();
        if points.len() > 1 {
            let d: Vec<String> = points
                .iter()
                .enumerate()
                .map(|(i, (x, y, _))| {
                    format!("{}{},{}", if i == 0 { 'M' } else { 'L' }, f(*x), f(*y))
                })
                .collect();
            let _ = write!(
                out,
                "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
                d.join("")
            );
        }
        for (i, (x, y, v)) in points.iter().enumerate() {
            let _ = write!(
                out,
                "<circle class=\"mark\" data-value=\"{v}\" data-series=\"{k}\" data-category=\"{c}\" \
                 cx=\"{x}\" cy=\"{y}\" r=\"2.5\" fill=\"{colour}\"/>",
                c = escape(&categories[i]),
                x = f(*x),
                y = f(*y),
            );
        }
    }
    let _ = write!(
        out,
        "<line x1=\"{l}\" x2=\"{r}\" y1=\"{b}\" y2=\"{b}\" stroke=\"#555\"/>",
        l = f(LEFT),
        r = f(W - 8.0),
        b = f(bottom)
    );
    x_labels(&mut out, categories, LEFT, slot, bottom + 14.0);
    legend(&mut out, &names, bottom + 22.0);
    out.push_str("</svg>");
    Svg(out)
}

/// One horizontal bar per row, 0 to 100 %, the share written after it;
/// a row without a share has no bar (a dash). A mark per bar, its
/// `data-value` the share with one decimal.
pub fn share_bars(frame: &Frame, rows: &[(String, Option<f64>)]) -> Svg {
    const ROW: f64 = 20.0;
    const LABEL: f64 = 140.0;
    const VALUE: f64 = 56.0;
    let span = W - LABEL - VALUE - 8.0;
    let height = TOP + rows.len().max(1) as f64 * ROW + 20.0;
    let mut out = String::new();
    open(&mut out, frame, height);
    let bottom = TOP + rows.len() as f64 * ROW;
    for p in [0, 50, 100] {
        let x = LABEL + span * f64::from(p) / 100.0;
        let _ = write!(
            out,
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{t}\" y2=\"{b}\" stroke=\"#ddd\"/><text x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\">{n}</text>",
            x = f(x),
            t = f(TOP),
            b = f(bottom),
            ty = f(bottom + 14.0),
            n = escape(&num::percent(frame.lang, f64::from(p))),
        );
    }
    for (i, (label, share)) in rows.iter().enumerate() {
        let y = TOP + i as f64 * ROW;
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            f(LABEL - 6.0),
            f(y + 14.0),
            escape(&clip(label, 22))
        );
        let text = match share {
            Some(p) => {
                let p = p.clamp(0.0, 100.0);
                let _ = write!(
                    out,
                    "<rect class=\"mark\" data-value=\"{p:.1}\" data-category=\"{c}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{fill}\"/>",
                    c = escape(label),
                    x = f(LABEL),
                    y = f(y + 3.0),
                    w = f(span * p / 100.0),
                    h = f(ROW - 6.0),
                    fill = PALETTE[0],
                );
                num::percent(frame.lang, p)
            }
            None => "—".to_string(),
        };
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            f(LABEL + span + 4.0),
            f(y + 14.0),
            escape(&text)
        );
    }
    out.push_str("</svg>");
    Svg(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame<'a>(id: &'a str) -> Frame<'a> {
        Frame {
            id,
            title: "Phản ánh <theo> tuần",
            desc: "Số \"phản ánh\" & tuần",
            lang: Lang::Vi,
        }
    }

    fn marks(svg: &Svg) -> Vec<String> {
        svg.0
            .split("class=\"mark\" data-value=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_axis(0), (1, 1));
        assert_eq!(nice_axis(1), (1, 1));
        assert_eq!(nice_axis(4), (4, 1));
        assert_eq!(nice_axis(7), (8, 2));
        assert_eq!(nice_axis(23), (25, 5));
        assert_eq!(nice_axis(1786), (2000, 500));
        assert_eq!(nice_axis(50), (50, 10));
    }

    #[test]
    fn text_is_escaped_everywhere() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        let svg = stacked_bars(
            &frame("c\"1"),
            &["<w>".into()],
            &[Series {
                name: "</text><script>".into(),
                values: vec![3],
            }],
        );
        assert!(!svg.0.contains("<script"), "{}", svg.0);
        assert!(!svg.0.contains("<w>"));
        assert!(svg.0.contains("id=\"c&quot;1\""));
        assert!(svg
            .0
            .contains("<title id=\"c&quot;1-t\">Phản ánh &lt;theo&gt; tuần</title>"));
        assert!(svg
            .0
            .contains("<desc id=\"c&quot;1-d\">Số &quot;phản ánh&quot; &amp; tuần</desc>"));
    }

    #[test]
    fn a_stacked_bar_has_a_mark_per_non_zero_segment() {
        let weeks: Vec<String> = ["01/06", "08/06", "15/06"].map(String::from).to_vec();
        let series = [
            Series {
                name: "Môi trường".into(),
                values: vec![2, 0, 5],
            },
            Series {
                name: "An ninh".into(),
                values: vec![1, 0, 0],
            },
        ];
        let svg = stacked_bars(&frame("w"), &weeks, &series);
        assert_eq!(marks(&svg), ["2", "1", "5"]);
        assert!(svg
            .0
            .starts_with("<svg id=\"w\" class=\"chart\" role=\"img\" aria-labelledby=\"w-t w-d\""));
        assert!(svg.0.contains("viewBox=\"0 0 400.0 "));
        assert!(svg.0.contains("width=\"100%\""));
        assert!(svg.0.ends_with("</svg>"));
        // The legend names every series; the axis tops at 5, in steps of 1.
        assert!(svg.0.contains(">Môi trường</text>") && svg.0.contains(">An ninh</text>"));
        assert!(svg.0.contains(">5</text>"));
        // The tallest bar (5 of 5) fills the plot: from its top to its base.
        assert!(svg.0.contains("data-value=\"5\" data-series=\"0\" data-category=\"15/06\" x=\"292.3\" y=\"8.0\" width=\"82.1\" height=\"150.0\""), "{}", svg.0);
        // Deterministic: the same input, the same bytes.
        assert_eq!(svg, stacked_bars(&frame("w"), &weeks, &series));
    }

    #[test]
    fn lines_have_a_point_per_value_and_numbers_in_the_readers_form() {
        let hours: Vec<String> = (1..=3).map(|h| format!("{h} h")).collect();
        let series = [
            Series {
                name: "SMS".into(),
                values: vec![900, 1500, 1786],
            },
            Series {
                name: "Thăm hộ".into(),
                values: vec![0, 2, 3],
            },
        ];
        let svg = lines(&frame("r"), &hours, &series);
        assert_eq!(marks(&svg), ["900", "1500", "1786", "0", "2", "3"]);
        assert_eq!(svg.0.matches("<path ").count(), 2);
        // The axis tops at 2.000 (vi), not 2000.
        assert!(svg.0.contains(">2.000</text>"), "{}", svg.0);
        let en = lines(
            &Frame {
                lang: Lang::En,
                ..frame("r")
            },
            &hours,
            &series,
        );
        assert!(en.0.contains(">2,000</text>"));
    }

    #[test]
    fn share_bars_draw_only_known_shares() {
        let rows = [
            ("Thôn Mai Hoàng".to_string(), Some(80.5)),
            ("Thôn Đồng Lạc".to_string(), None),
            (
                "Thôn có một cái tên rất dài không vừa".to_string(),
                Some(100.0),
            ),
        ];
        let svg = share_bars(&frame("s"), &rows);
        assert_eq!(marks(&svg), ["80.5", "100.0"]);
        assert!(svg.0.contains(">80,5 %</text>"));
        assert!(svg.0.contains(">—</text>"));
        assert!(
            svg.0.contains(">Thôn có một cái tên r…</text>"),
            "{}",
            svg.0
        );
        // The full name stays in the mark for who reads the data.
        assert!(svg
            .0
            .contains("data-category=\"Thôn có một cái tên rất dài không vừa\""));
    }

    #[test]
    fn labels_are_thinned_so_they_never_touch() {
        assert_eq!(label_stride(30.0, 28.0), 1);
        assert_eq!(label_stride(14.0, 28.0), 2);
        assert_eq!(label_stride(0.0, 28.0), 1);
        let many: Vec<String> = (0..24).map(|h| format!("{h}")).collect();
        let svg = lines(
            &frame("m"),
            &many,
            &[Series {
                name: "a".into(),
                values: vec![1; 24],
            }],
        );
        assert_eq!(marks(&svg).len(), 24);
    }
}
