//! Server-rendered SVG bar charts for the reports page: no script, readable without
//! colour (each bar is labelled with its value), labels escaped like every other string.

use maud::{Markup, html};

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
        figure.chart {
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
                    @if bar.value > 0.0 && (count <= 16 || i % label_every == 0) {
                        text x=(fmt(x + slot / 2.0)) y=(fmt(y - 4.0)) text-anchor="middle" font-size="13" { (bar.text) }
                    }
                    @if i % label_every == 0 {
                        text x=(fmt(x + slot / 2.0)) y=(fmt(HEIGHT - MARGIN_BOTTOM + 16.0)) text-anchor="middle" font-size="13" { (bar.label) }
                    }
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
    fn an_empty_month_draws_an_empty_chart() {
        let svg = bar_chart("nothing", &[]).into_string();
        assert!(svg.contains("<svg") && !svg.contains("<rect"));
    }
}
