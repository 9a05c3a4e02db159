//! The suite's comparison table: one row per headline figure of each scenario, one column per server, printed
//! for the terminal and written as Markdown with the relay's ratio to each baseline.

use std::fmt::Write;

/// One figure of one scenario across the servers.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// The scenario as the suite ran it (`fanout 300/s × 1000`).
    pub scenario: String,
    /// The figure (`p99 latency (µs)`).
    pub figure: &'static str,
    /// Whether more is better.
    pub higher_is_better: bool,
    /// One value per column; `None` where the server did not run it or it could not be measured.
    pub values: Vec<Option<f64>>,
}

/// The suite's comparison: a column per server, the relay first, and a row per figure.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    /// Server names, in column order; the first is the relay, the one the ratios are of.
    pub columns: Vec<String>,
    /// The rows, in the order scenarios ran.
    pub rows: Vec<Row>,
}

impl Table {
    /// A table of `columns` and no rows.
    pub(crate) fn new(columns: Vec<String>) -> Table {
        Table { columns, rows: Vec::new() }
    }

    /// Sets `scenario`'s `figure` for column `column`, adding the row if it is new.
    pub(crate) fn set(
        &mut self,
        scenario: &str,
        figure: &'static str,
        higher_is_better: bool,
        column: usize,
        value: Option<f64>,
    ) {
        let position = self.rows.iter().position(|row| row.scenario == scenario && row.figure == figure);
        let row = match position {
            Some(position) => &mut self.rows[position],
            None => {
                let values = vec![None; self.columns.len()];
                self.rows.push(Row { scenario: scenario.to_owned(), figure, higher_is_better, values });
                self.rows.last_mut().expect("just pushed")
            }
        };
        row.values[column] = value;
    }

    /// Aligned plain text.
    pub(crate) fn text(&self) -> String {
        let mut lines = vec![
            std::iter::once("scenario".to_owned())
                .chain(std::iter::once("figure".to_owned()))
                .chain(self.columns.iter().cloned())
                .collect::<Vec<_>>(),
        ];
        for row in &self.rows {
            let mut cells = vec![row.scenario.clone(), row.figure.to_owned()];
            cells.extend(row.values.iter().map(|value| format_value(*value)));
            lines.push(cells);
        }
        let widths: Vec<usize> = (0..lines[0].len())
            .map(|column| lines.iter().map(|cells| cells[column].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for cells in &lines {
            for (column, cell) in cells.iter().enumerate() {
                let pad = widths[column] - cell.chars().count();
                if column < 2 {
                    let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
                } else {
                    let _ = write!(out, "{}{cell}  ", " ".repeat(pad));
                }
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
        }
        out
    }

    /// A Markdown table with, after the values, the first column's ratio to each other column.
    pub(crate) fn markdown(&self) -> String {
        let ratios: Vec<String> =
            self.columns.iter().skip(1).map(|other| format!("{}/{other}", self.columns[0])).collect();
        let mut out = String::new();
        let header: Vec<&str> = ["scenario", "figure"]
            .into_iter()
            .chain(self.columns.iter().map(String::as_str))
            .chain(ratios.iter().map(String::as_str))
            .collect();
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let alignments: Vec<&str> =
            header.iter().enumerate().map(|(n, _)| if n < 2 { "---" } else { "---:" }).collect();
        let _ = writeln!(out, "| {} |", alignments.join(" | "));
        for row in &self.rows {
            let better = if row.higher_is_better { "↑" } else { "↓" };
            let mut cells = vec![row.scenario.clone(), format!("{} {better}", row.figure)];
            cells.extend(row.values.iter().map(|value| format_value(*value)));
            for other in row.values.iter().skip(1) {
                cells.push(match (row.values[0], *other) {
                    (Some(ours), Some(theirs)) if theirs != 0.0 => format_ratio(ours / theirs),
                    _ => "–".to_owned(),
                });
            }
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }
}

/// A value with as many decimals as it needs to read.
fn format_value(value: Option<f64>) -> String {
    match value {
        None => "–".to_owned(),
        Some(value) if value.abs() >= 100.0 || value.fract() == 0.0 => format!("{value:.0}"),
        Some(value) if value.abs() >= 10.0 => format!("{value:.1}"),
        Some(value) => format!("{value:.2}"),
    }
}

/// A ratio with two significant digits, however small (0.0042), and no more than one decimal when large.
fn format_ratio(ratio: f64) -> String {
    if ratio == 0.0 || ratio >= 10.0 {
        return format!("{ratio:.1}");
    }
    let decimals = (1 - ratio.abs().log10().floor() as i32).max(2) as usize;
    format!("{ratio:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_fill_by_column_and_ratios_are_of_the_first() {
        let mut table = Table::new(vec!["relay".into(), "minimal".into()]);
        table.set("fanout", "deliveries/s", true, 0, Some(300_000.0));
        table.set("fanout", "deliveries/s", true, 1, Some(150_000.0));
        table.set("fanout", "p99 latency (µs)", false, 1, Some(1.5));
        assert_eq!(table.rows.len(), 2);
        let markdown = table.markdown();
        assert!(markdown.contains("| fanout | deliveries/s ↑ | 300000 | 150000 | 2.00 |"), "{markdown}");
        assert!(markdown.contains("| fanout | p99 latency (µs) ↓ | – | 1.50 | – |"), "{markdown}");
        assert!(table.text().lines().count() == 3);
        assert_eq!(format_ratio(2.0), "2.00");
        assert_eq!(format_ratio(0.0042), "0.0042");
        assert_eq!(format_ratio(0.35), "0.35");
        assert_eq!(format_ratio(15.23), "15.2");
        assert_eq!(format_ratio(0.0), "0.0");
    }
}
