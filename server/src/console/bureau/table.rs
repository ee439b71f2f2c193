//! A bureau report's tables as one model that the page, the CSV and the XLSX all write
//! (ADR 43): columns with a key (the page's `data-testid`) and Chinese and English labels,
//! rows of text, counts, hours and coins. The CSV is RFC 4180 (CRLF line ends, fields
//! quoted when they hold a comma, quote or line break; text that a spreadsheet would read
//! as a formula is neutralised as in ADR 18).

use crate::console::Lang;
use crate::console::reports::figures::{csv_field, two_decimals};

/// A column: its key and its labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The key: the page's `data-testid` of its cells.
    pub key: &'static str,
    /// Its label in Chinese.
    pub zh: &'static str,
    /// Its label in English.
    pub en: &'static str,
}

impl Column {
    /// Its label in `lang`.
    pub fn label(&self, lang: Lang) -> &'static str {
        lang.pick(self.zh, self.en)
    }
}

/// One cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// Words or an id.
    Text(String),
    /// A number of people or visits.
    Count(usize),
    /// Hours, kept in minutes.
    Hours(i64),
    /// Coins, kept in minutes (60 = one coin).
    Coins(i64),
}

impl Cell {
    /// As a CSV field: text quoted as needed, hours and coins with two decimals.
    pub fn csv(&self) -> String {
        match self {
            Cell::Text(text) => csv_field(text),
            Cell::Count(n) => n.to_string(),
            Cell::Hours(minutes) | Cell::Coins(minutes) => two_decimals(*minutes),
        }
    }

    /// Its value as a spreadsheet number (hours and coins as decimals), or `None` for text.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Text(_) => None,
            #[expect(clippy::cast_precision_loss, reason = "counts of people and visits are far below 2^52")]
            Cell::Count(n) => Some(*n as f64),
            #[expect(clippy::cast_precision_loss, reason = "minutes are far below 2^52")]
            Cell::Hours(minutes) | Cell::Coins(minutes) => Some(*minutes as f64 / 60.0),
        }
    }
}

/// One row: its key (the page's `data-row`: a station's, a district's id, `total`) and cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// What the row is of.
    pub key: String,
    /// One cell per column.
    pub cells: Vec<Cell>,
}

/// A table of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Its key (the page's `data-testid`).
    pub key: &'static str,
    /// Its name in Chinese (the worksheet's name).
    pub zh: &'static str,
    /// Its name in English.
    pub en: &'static str,
    /// Its columns.
    pub columns: &'static [Column],
    /// Its rows, in order.
    pub rows: Vec<Row>,
}

impl Table {
    /// Its name in `lang`.
    pub fn name(&self, lang: Lang) -> &'static str {
        lang.pick(self.zh, self.en)
    }

    /// The table as CSV in `lang`: the header, then a record per row, each ended by CRLF.
    pub fn csv(&self, lang: Lang) -> String {
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| csv_field(c.label(lang))).collect();
        out.push_str(&header.join(","));
        out.push_str("\r\n");
        for row in &self.rows {
            let cells: Vec<String> = row.cells.iter().map(Cell::csv).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[
        Column { key: "name", zh: "名称", en: "Name" },
        Column { key: "visits", zh: "服务次数", en: "Visits" },
        Column { key: "hours", zh: "服务小时", en: "Hours" },
    ];

    #[test]
    fn a_table_is_written_as_rfc_4180_csv() {
        let table = Table {
            key: "t",
            zh: "汇总",
            en: "Summary",
            columns: COLUMNS,
            rows: vec![
                Row { key: "a".into(), cells: vec![Cell::Text("曹杨, \"新村\"".into()), Cell::Count(3), Cell::Hours(90)] },
                Row { key: "b".into(), cells: vec![Cell::Text("=1+1\r\n".into()), Cell::Count(0), Cell::Coins(-20)] },
            ],
        };
        assert_eq!(table.csv(Lang::Zh), "名称,服务次数,服务小时\r\n\"曹杨, \"\"新村\"\"\",3,1.50\r\n\"'=1+1\r\n\",0,-0.33\r\n");
        assert!(table.csv(Lang::En).starts_with("Name,Visits,Hours\r\n"));
        assert_eq!(Cell::Coins(90).number(), Some(1.5));
        assert_eq!(Cell::Text("x".into()).number(), None);
    }
}
