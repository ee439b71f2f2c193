//! Server-rendered SVG bar charts for the reports page: no script, readable without
//! colour (each bar is labelled with its value), labels escaped like every other string.
//! Two drawings of each chart: columns for a wide screen and paper ([`bar_chart`]), rows
//! for a phone ([`bar_rows`]); the stylesheet shows the one that fits, so labels are
//! never drawn smaller than [`LABEL_SIZE`] (about that many pixels at the usual widths).

use maud::{Markup, html};

/// Label size in SVG units; a drawing is sized so that one unit is about a pixel.
pub const LABEL_SIZE: f64 = 14.0;

/// Width and height of a chart, in SVG units (it scales to its box).
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const MARGIN_TOP: f64 = 24.0;
const MARGIN_BOTTOM: f64 = 36.0;
const MARGIN_SIDE: f64 = 12.0;

/// One bar: its label under the axis, its value, and the text shown above it.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// Under the bar.
    pub label: String,
    /// Its height, relative to the tallest.
    pub value: f64,
    /// Above the bar (the value, formatted).
    pub text: String,
}

/// A bar chart titled `title` (also its accessible name). Labels are shown for at most 16
/// bars; with more, every few are.
pub fn bar_chart(title: &str, bars: &[Bar]) -> Markup {
    let max = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let count = bars.len().max(1);
    let slot = (WIDTH - 2.0 * MARGIN_SIDE) / count as f64;
    let plot = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let label_every = count.div_ceil(16);
    html! {
        figure.chart.wide {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
                title { (title) }
                line x1=(MARGIN_SIDE) y1=(HEIGHT - MARGIN_BOTTOM) x2=(WIDTH - MARGIN_SIDE) y2=(HEIGHT - MARGIN_BOTTOM) stroke="#555" {}
                @for (i, bar) in bars.iter().enumerate() {
                    @let height = if max > 0.0 { bar.value.max(0.0) / max * plot } else { 0.0 };
                    @let x = MARGIN_SIDE + slot * i as f64;
                    @let y = HEIGHT - MARGIN_BOTTOM - height;
                    rect x=(fmt(x + slot * 0.15)) y=(fmt(y)) width=(fmt(slot * 0.7)) height=(fmt(height)) fill="#2f6f9f" {
                        title { (bar.label) ": " (bar.text) }
                    }
                    // Every value when the bars leave room for it, else every few.
                    @if bar.value > 0.0 && (count <= 16 || slot >= 18.0 || i % label_every == 0) {
                        text x=(fmt(x + slot / 2.0)) y=(fmt(y - 4.0)) text-anchor="middle" font-size=(LABEL_SIZE) { (bar.text) }
                    }
                    @if i % label_every == 0 {
                        text x=(fmt(x + slot / 2.0)) y=(fmt(HEIGHT - MARGIN_BOTTOM + 16.0)) text-anchor="middle" font-size=(LABEL_SIZE) { (bar.label) }
                    }
                }
            }
            figcaption { (title) }
        }
    }
}

/// Width of a phone's drawing in SVG units (a phone's page is about 340 to 390 px wide).
const ROWS_WIDTH: f64 = 340.0;
/// Height of one row.
const ROW: f64 = 24.0;
/// Room for the labels on the left and the values on the right.
const LABEL_WIDTH: f64 = 72.0;
const VALUE_WIDTH: f64 = 48.0;

/// The chart as horizontal bars, one row per bar with its label and value: for a phone.
pub fn bar_rows(title: &str, bars: &[Bar]) -> Markup {
    let max = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let height = ROW * bars.len().max(1) as f64 + 8.0;
    let room = ROWS_WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    html! {
        figure.chart.narrow {
            svg viewBox=(format!("0 0 {ROWS_WIDTH} {}", fmt(height))) role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
                title { (title) }
                @for (i, bar) in bars.iter().enumerate() {
                    @let y = 4.0 + ROW * i as f64;
                    @let width = if max > 0.0 { bar.value.max(0.0) / max * room } else { 0.0 };
                    text x=(fmt(LABEL_WIDTH - 6.0)) y=(fmt(y + ROW * 0.7)) text-anchor="end" font-size=(LABEL_SIZE) { (bar.label) }
                    rect x=(fmt(LABEL_WIDTH)) y=(fmt(y + 3.0)) width=(fmt(width)) height=(fmt(ROW - 6.0)) fill="#2f6f9f" {
                        title { (bar.label) ": " (bar.text) }
                    }
                    text x=(fmt(LABEL_WIDTH + width + 4.0)) y=(fmt(y + ROW * 0.7)) font-size=(LABEL_SIZE) { (bar.text) }
                }
            }
            figcaption { (title) }
        }
    }
}

fn fmt(value: f64) -> String {
    format!("{value:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_tallest_and_labels_are_escaped() {
        let bars = vec![
            Bar { label: "<b>一</b>".into(), value: 2.0, text: "2".into() },
            Bar { label: "二".into(), value: 4.0, text: "4".into() },
            Bar { label: "三".into(), value: 0.0, text: "0".into() },
        ];
        let svg = bar_chart("访问 & visits", &bars).into_string();
        assert!(svg.contains("&lt;b&gt;一&lt;/b&gt;"), "{svg}");
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("访问 &amp; visits"));
        let plot = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
        assert!(svg.contains(&format!("height=\"{}\"", fmt(plot))), "the tallest bar fills the plot");
        assert!(svg.contains(&format!("height=\"{}\"", fmt(plot / 2.0))));
        assert_eq!(svg.matches("<rect").count(), 3);
    }

    #[test]
    fn a_phones_drawing_has_a_row_per_bar_with_its_label_and_value() {
        let bars =
            vec![Bar { label: "1".into(), value: 3.0, text: "3".into() }, Bar { label: "2".into(), value: 0.0, text: "0".into() }];
        let svg = bar_rows("每日服务次数", &bars).into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!(svg.matches(&format!("font-size=\"{LABEL_SIZE}\"")).count(), 4, "a label and a value per row: {svg}");
        assert!(svg.contains("narrow"));
    }

    #[test]
    fn an_empty_month_draws_an_empty_chart() {
        let svg = bar_chart("nothing", &[]).into_string();
        assert!(svg.contains("<svg") && !svg.contains("<rect"));
    }
}
