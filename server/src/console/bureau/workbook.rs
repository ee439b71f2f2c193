//! A bureau report as an XLSX workbook (`rust_xlsxwriter`, ADR 43): a worksheet per table
//! (汇总, 按服务类型), each with the report's title in its first row, the column labels in
//! its second and a row per figure row; counts as numbers, hours and coins as numbers with
//! two decimals shown. Cells are typed: text is written as text, never read as a formula.

use rust_xlsxwriter::{DocProperties, Format, Workbook, Worksheet, XlsxError};

use crate::console::Lang;
use crate::console::bureau::table::{Cell, Table};

/// The row of the column labels (0-based); figure rows follow it.
pub const HEADER_ROW: u32 = 1;

/// The workbook of `tables`, titled `title`, labelled in `lang`.
pub fn workbook(title: &str, tables: &[Table], lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    workbook.set_properties(&DocProperties::new().set_title(title));
    let bold = Format::new().set_bold();
    let decimals = Format::new().set_num_format("0.00");
    for table in tables {
        let sheet = workbook.add_worksheet();
        sheet.set_name(table.name(lang))?;
        sheet.write_string_with_format(0, 0, title, &bold)?;
        write_table(sheet, table, lang, &bold, &decimals)?;
    }
    workbook.save_to_buffer()
}

fn write_table(sheet: &mut Worksheet, table: &Table, lang: Lang, bold: &Format, decimals: &Format) -> Result<(), XlsxError> {
    for (col, column) in (0u16..).zip(table.columns) {
        sheet.write_string_with_format(HEADER_ROW, col, column.label(lang), bold)?;
        sheet.set_column_width(col, if col == 1 { 24 } else { 14 })?;
    }
    for (row, cells) in (HEADER_ROW + 1..).zip(&table.rows) {
        for (col, cell) in (0u16..).zip(&cells.cells) {
            match (cell, cell.number()) {
                (Cell::Text(text), _) => sheet.write_string(row, col, text)?,
                (Cell::Hours(_) | Cell::Coins(_), Some(number)) => sheet.write_number_with_format(row, col, number, decimals)?,
                (_, number) => sheet.write_number(row, col, number.unwrap_or_default())?,
            };
        }
    }
    sheet.set_freeze_panes(HEADER_ROW + 1, 0)?;
    Ok(())
}
