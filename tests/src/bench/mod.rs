//! The `timebank-bench` scenarios and how their results are reported.
//!
//! Every scenario measures our code and plain automerge doing the same job in the same
//! run, so the ratio between them holds even on a shared, noisy machine.

pub mod clock;
pub mod engine;
pub mod heap;
pub mod hostile;
pub mod ledger;
pub mod live;
pub mod load;
pub mod plain_sync;
pub mod presence;
pub mod relay;
pub mod rss;
pub mod stats;
pub mod sync;
pub mod workload;

use std::fmt::Write as _;

use serde_json::{Value, json};

/// Any failure while setting up or running a scenario.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// A bound a figure should stay within (from DESIGN.md, "Targets").
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// The figure should be at most this.
    AtMost(f64),
    /// The figure should be at least this.
    AtLeast(f64),
}

impl Target {
    /// Whether `value` is within the bound.
    pub fn met_by(self, value: f64) -> bool {
        match self {
            Target::AtMost(bound) => value <= bound,
            Target::AtLeast(bound) => value >= bound,
        }
    }

    /// The bound as text: `<= 100`, `>= 1000`.
    pub fn label(self) -> String {
        match self {
            Target::AtMost(bound) => format!("<= {}", number(bound)),
            Target::AtLeast(bound) => format!(">= {}", number(bound)),
        }
    }
}

/// One scenario's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Stable name, with its unit as suffix (`open_2000_visits_ms`).
    pub scenario: String,
    /// Our figure.
    pub ours: f64,
    /// Plain automerge's figure for the same job in the same run, if there is one.
    pub baseline: Option<f64>,
    /// Unit of both figures (`ms`, `ratio`).
    pub unit: &'static str,
    /// The target for `ours`, if DESIGN.md sets one.
    pub target: Option<Target>,
    /// How it was measured, raw figures.
    pub note: Option<String>,
}

impl Measurement {
    /// Whether `ours` meets the target (`None` without a target).
    pub fn met(&self) -> Option<bool> {
        self.target.map(|t| t.met_by(self.ours))
    }

    /// The JSON object printed for `--json`: `scenario`, `ours`, `baseline`, `unit`, and
    /// `target` (as `"<= 100"`) and `note` when there are.
    pub fn to_json(&self) -> Value {
        let mut line = json!({
            "scenario": self.scenario,
            "ours": rounded(self.ours),
            "baseline": self.baseline.map(rounded),
            "unit": self.unit,
        });
        if let Some(object) = line.as_object_mut() {
            if let Some(target) = self.target {
                object.insert("target".into(), target.label().into());
            }
            if let Some(note) = &self.note {
                object.insert("note".into(), note.clone().into());
            }
        }
        line
    }
}

/// One JSON object per line.
pub fn render_json(results: &[Measurement]) -> String {
    results.iter().map(|m| format!("{}\n", m.to_json())).collect()
}

/// A table for people, notes below it.
pub fn render_table(results: &[Measurement]) -> String {
    let header = ["scenario", "ours", "plain automerge", "unit", "target", "met?"].map(String::from);
    let rows: Vec<[String; 6]> = results
        .iter()
        .map(|m| {
            [
                m.scenario.clone(),
                number(m.ours),
                m.baseline.map_or_else(|| "-".into(), number),
                m.unit.to_owned(),
                m.target.map_or_else(|| "-".into(), Target::label),
                match m.met() {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, width))| if i == 0 { format!("{cell:<width$}") } else { format!("{cell:>width$}") })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    for m in results {
        if let Some(note) = &m.note {
            let _ = write!(out, "\n{}:\n  {note}\n", m.scenario);
        }
    }
    out
}

/// A figure with the decimals that matter for it.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

/// Four decimals are plenty in JSON; the rest is noise.
fn rounded(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Measurement {
        Measurement {
            scenario: "open_2000_visits_ms".into(),
            ours: 12.345_678,
            baseline: Some(10.0),
            unit: "ms",
            target: Some(Target::AtMost(100.0)),
            note: Some("median of 15".into()),
        }
    }

    #[test]
    fn json_lines_have_the_agreed_keys() {
        let line = sample().to_json();
        assert_eq!(line["scenario"], "open_2000_visits_ms");
        assert_eq!(line["ours"], 12.3457);
        assert_eq!(line["baseline"], 10.0);
        assert_eq!(line["unit"], "ms");
        assert_eq!(line["target"], "<= 100");
        assert_eq!(line["note"], "median of 15");
        let bare = Measurement { target: None, note: None, baseline: None, ..sample() }.to_json();
        assert!(bare.get("target").is_none() && bare.get("note").is_none());
        assert!(bare["baseline"].is_null());
        assert_eq!(render_json(&[sample(), sample()]).lines().count(), 2);
    }

    #[test]
    fn targets_and_table() {
        assert_eq!(sample().met(), Some(true));
        assert!(!Target::AtMost(5.0).met_by(5.1));
        assert!(Target::AtLeast(1000.0).met_by(1000.0));
        let table = render_table(&[sample()]);
        assert!(table.starts_with("scenario"), "{table}");
        assert!(table.contains("12.3") && table.contains("yes") && table.contains("<= 100"), "{table}");
    }
}
