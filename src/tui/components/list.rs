//! A list of records as the list views share it: the rows a load delivered, the filter over
//! every column, the sort by a column, the cursor, and the table that draws only the rows on
//! screen with columns sized to what those rows hold.
//!
//! The filtered and sorted order is computed when the rows, the filter or the sort change,
//! never per frame: a frame costs the same with 10,000 rows as with 10.

use std::cmp::Ordering;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::{Cmd, Drawn, ListArea};
use crate::tui::app::Loadable;
use crate::tui::view::{draw_message, window};

/// A column of a list view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub header: &'static str,
    /// Which columns go first when the terminal is narrow: 0 always stays, higher numbers
    /// go first.
    pub keep: u8,
    /// Takes the width that is left, and is the one cut when there is not enough.
    pub flex: bool,
    /// For the flexible column: the columns kept less than this come only once it is whole.
    pub whole_before: u8,
}

pub const fn col(header: &'static str, keep: u8) -> Column {
    Column { header, keep, flex: false, whole_before: u8::MAX }
}

pub const fn flex(header: &'static str, keep: u8) -> Column {
    Column { header, keep, flex: true, whole_before: u8::MAX }
}

impl Column {
    /// A flexible column that is given its whole width before the columns from `keep` on.
    pub const fn whole_before(self, keep: u8) -> Column {
        Column { whole_before: keep, ..self }
    }
}

/// What sorting compares: numbers as numbers, the rest as lower-case text.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum SortKey {
    Num(f64),
    Text(String),
}

/// A row of a list view.
pub trait Record: Clone {
    /// The text of each column, in the order of the view's columns.
    fn cells(&self) -> Vec<String>;
    /// How a cell is coloured.
    fn style(&self, _column: usize) -> Style {
        Style::new()
    }
    /// What a sort by this column compares; the cell's text by default.
    fn sort_key(&self, column: usize) -> SortKey {
        SortKey::Text(self.cells().get(column).map(|c| c.to_lowercase()).unwrap_or_default())
    }
}

/// The rows of a list view with its filter, sort and cursor.
#[derive(Debug, Clone)]
pub struct List<R> {
    pub columns: &'static [Column],
    rows: Loadable<Vec<R>>,
    /// Indices into the rows, filtered and sorted.
    order: Vec<usize>,
    /// Each row's cells, joined and lower-cased, for the filter.
    haystack: Vec<String>,
    pub selected: usize,
    filter: String,
    /// The sorted column and whether it is descending.
    sort: Option<(usize, bool)>,
    /// Only rows whose cell in this column is this text (the status filter).
    only: Option<(usize, String)>,
}

impl<R: Record> List<R> {
    pub fn new(columns: &'static [Column]) -> Self {
        Self {
            columns,
            rows: Loadable::NotLoaded,
            order: Vec::new(),
            haystack: Vec::new(),
            selected: 0,
            filter: String::new(),
            sort: None,
            only: None,
        }
    }

    pub fn data(&self) -> &Loadable<Vec<R>> {
        &self.rows
    }

    /// Every row, unfiltered.
    pub fn all(&self) -> &[R] {
        self.rows.rows().map(Vec::as_slice).unwrap_or_default()
    }

    /// What a load delivered; a failed refresh keeps no stale rows.
    pub fn set(&mut self, result: &Result<Vec<R>, String>) {
        self.rows = Loadable::from_result(result);
        self.haystack = self.all().iter().map(|r| r.cells().join(" ").to_lowercase()).collect();
        self.rebuild();
    }

    pub fn loading(&mut self) {
        // Keep showing old rows while a refresh runs; only an empty view says "loading".
        self.rows.mark_loading();
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn set_filter(&mut self, filter: String) {
        if filter != self.filter {
            self.filter = filter;
            self.selected = 0;
            self.rebuild();
        }
    }

    pub fn only(&self) -> Option<&str> {
        self.only.as_ref().map(|(_, v)| v.as_str())
    }

    pub fn set_only(&mut self, only: Option<(usize, String)>) {
        self.only = only;
        self.selected = 0;
        self.rebuild();
    }

    pub fn sort(&self) -> Option<(usize, bool)> {
        self.sort
    }

    pub fn set_sort(&mut self, sort: Option<(usize, bool)>) {
        self.sort = sort;
        self.rebuild();
    }

    /// The rows after the filter.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The `i`-th row after the filter and sort.
    pub fn get(&self, i: usize) -> Option<&R> {
        self.all().get(*self.order.get(i)?)
    }

    pub fn selected_row(&self) -> Option<&R> {
        self.get(self.selected)
    }

    /// The rows in the order shown.
    pub fn shown(&self) -> impl Iterator<Item = &R> {
        self.order.iter().filter_map(|&i| self.all().get(i))
    }

    fn rebuild(&mut self) {
        let needle = self.filter.to_lowercase();
        let rows = self.all();
        let mut order: Vec<usize> = (0..rows.len())
            .filter(|&i| needle.is_empty() || self.haystack.get(i).is_some_and(|h| h.contains(&needle)))
            .filter(|&i| match &self.only {
                Some((column, value)) => rows[i].cells().get(*column) == Some(value),
                None => true,
            })
            .collect();
        if let Some((column, descending)) = self.sort {
            let mut keyed: Vec<(SortKey, usize)> = order.iter().map(|&i| (rows[i].sort_key(column), i)).collect();
            keyed.sort_by(|a, b| {
                let o = a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal);
                if descending { o.reverse() } else { o }
            });
            order = keyed.into_iter().map(|(_, i)| i).collect();
        }
        self.order = order;
        self.clamp();
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.order.len().saturating_sub(1));
    }

    /// Runs a moving or sorting command; `false` when `cmd` is neither.
    pub fn nav(&mut self, cmd: Cmd) -> bool {
        if let Some(to) = super::moved(cmd, self.selected, self.order.len()) {
            self.selected = to;
            return true;
        }
        match cmd {
            Cmd::SortNext | Cmd::SortPrev => {
                let n = self.columns.len();
                let step = if cmd == Cmd::SortNext { 1 } else { n - 1 };
                let column = match self.sort {
                    Some((c, _)) => (c + step) % n,
                    None if cmd == Cmd::SortNext => 0,
                    None => n - 1,
                };
                self.set_sort(Some((column, false)));
            }
            Cmd::SortReverse => {
                let (column, descending) = self.sort.unwrap_or((0, false));
                self.set_sort(Some((column, !descending)));
            }
            _ => return false,
        }
        true
    }

    /// The header of a column with the sort's mark.
    fn header(&self, column: usize) -> String {
        let name = self.columns[column].header;
        match self.sort {
            Some((c, false)) if c == column => format!("{name} ▲"),
            Some((c, true)) if c == column => format!("{name} ▼"),
            _ => name.to_string(),
        }
    }

    /// Draws the list as a table: the loading or failure sentence, the empty sentence (or
    /// that the filter hides every row), or the rows on screen.
    /// `name` titles the loading and failure sentences, `title` the table.
    pub fn draw(&self, frame: &mut Frame, area: Rect, name: &str, title: &str, what: &str, empty: &str) -> Drawn {
        match &self.rows {
            Loadable::NotLoaded | Loadable::Loading => {
                draw_message(frame, area, name, &format!("Loading {what}…"));
                return Drawn::default();
            }
            Loadable::Failed(message) => {
                draw_message(frame, area, name, message);
                return Drawn::default();
            }
            Loadable::Loaded(_) => {}
        }
        let block = Block::new().borders(Borders::ALL).title(format!(" {title} "));
        if self.is_empty() {
            let text = if !self.filter.is_empty() {
                format!("Nothing here matches the filter “{}”: Esc clears it.", self.filter)
            } else if let Some(only) = self.only() {
                format!("No {only} rows here: f changes the status filter.")
            } else {
                empty.to_string()
            };
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), area);
            return Drawn::default();
        }
        let height = area.height.saturating_sub(3) as usize;
        let first = window(self.selected, self.len(), height);
        let visible: Vec<&R> = (first..(first + height).min(self.len())).filter_map(|i| self.get(i)).collect();
        let cells: Vec<Vec<String>> = visible.iter().map(|r| r.cells()).collect();
        let headers: Vec<String> = (0..self.columns.len()).map(|c| self.header(c)).collect();
        let natural: Vec<u16> = (0..self.columns.len())
            .map(|c| {
                let widest = cells.iter().map(|row| row.get(c).map_or(0, |t| t.chars().count())).max().unwrap_or(0);
                widest.max(headers[c].chars().count()) as u16
            })
            .collect();
        // Borders and the selection mark take four columns.
        let widths = fit(self.columns, &natural, area.width.saturating_sub(4));
        let shown: Vec<usize> = (0..self.columns.len()).filter(|&c| widths[c].is_some()).collect();
        let header = Row::new(shown.iter().map(|&c| Cell::from(headers[c].clone())))
            .style(Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan));
        let rows: Vec<Row> = visible
            .iter()
            .zip(&cells)
            .map(|(record, row)| {
                Row::new(
                    shown.iter().map(|&c| Cell::from(row.get(c).cloned().unwrap_or_default()).style(record.style(c))),
                )
            })
            .collect();
        let above = first;
        let below = self.len().saturating_sub(first + visible.len());
        let mut block = block;
        if above > 0 || below > 0 {
            block = block
                .title_bottom(Line::from(format!(" ↑ {above} above · ↓ {below} more ")).alignment(Alignment::Right));
        }
        let constraints: Vec<Constraint> = shown.iter().map(|&c| Constraint::Length(widths[c].unwrap_or(0))).collect();
        let table = Table::new(rows, constraints)
            .header(header)
            .block(block)
            .row_highlight_style(Style::new().bg(Color::DarkGray).add_modifier(Modifier::BOLD))
            .highlight_symbol("› ");
        let mut state = TableState::default().with_selected(Some(self.selected.saturating_sub(first)));
        frame.render_stateful_widget(table, area, &mut state);
        Drawn { list: Some(ListArea { top: area.y + 2, first, rows: visible.len() }) }
    }
}

/// The width of each column (`None`: left out) in `room` cells. Columns are taken in the
/// order of what they keep, each at its natural width while it fits — the flexible column
/// at no more than [`FLEX_RESERVE`] at first, so one long outcome does not push out the
/// columns after it — and it takes what is left when that is less than it needs (at least
/// a few cells). What room is left at the end goes to the flexible column, up to its natural
/// width. So nothing is cut that the row has room for, and what is cut is the flexible
/// column's end, never a name.
pub fn fit(columns: &[Column], natural: &[u16], room: u16) -> Vec<Option<u16>> {
    const FLEX_MIN: u16 = 16;
    let mut by_keep: Vec<usize> = (0..columns.len()).collect();
    by_keep.sort_by_key(|&c| columns[c].keep);
    let mut widths = vec![None; columns.len()];
    let mut used: u16 = 0;
    // The room still free goes to the flexible columns, up to what they need: before the
    // columns they are to be whole before, and at the end.
    let grow = |widths: &mut Vec<Option<u16>>, used: &mut u16, before: Option<u8>| {
        for (c, w) in widths.iter_mut().enumerate() {
            if let Some(w) = w.as_mut()
                && columns[c].flex
                && before.is_none_or(|keep| columns[c].whole_before == keep)
            {
                let more = natural[c].saturating_sub(*w).min(room.saturating_sub(*used));
                *w += more;
                *used += more;
            }
        }
    };
    for c in by_keep {
        grow(&mut widths, &mut used, Some(columns[c].keep));
        // One space between columns.
        let gap = u16::from(used > 0);
        let left = room.saturating_sub(used + gap);
        let wanted = if columns[c].flex { natural[c].min(FLEX_RESERVE) } else { natural[c] };
        let width = if wanted <= left || columns[c].keep == 0 {
            wanted
        } else if columns[c].flex && left >= FLEX_MIN.min(natural[c]) {
            left
        } else {
            continue;
        };
        widths[c] = Some(width);
        used += gap + width;
    }
    grow(&mut widths, &mut used, None);
    // Not even the columns that always stay fit: the flexible ones give up their room.
    if used > room {
        let mut over = used - room;
        for (c, w) in widths.iter_mut().enumerate() {
            if let Some(w) = w.as_mut()
                && columns[c].flex
            {
                let less = over.min(w.saturating_sub(4));
                *w -= less;
                over -= less;
            }
        }
    }
    widths
}

/// What a flexible column (the outcome) may take before the columns kept less than it
/// are placed; it grows into the room they leave.
const FLEX_RESERVE: u16 = 48;

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[col("Name", 0), col("Machine", 3), col("Status", 1), flex("Outcome", 2)];

    #[test]
    fn columns_fit_their_content_and_the_least_kept_go_first() {
        assert_eq!(fit(COLUMNS, &[36, 22, 9, 40], 200), vec![Some(36), Some(22), Some(9), Some(40)]);
        // 76 cells: the outcome whole, then no room for the machine.
        assert_eq!(fit(COLUMNS, &[36, 22, 9, 20], 76), vec![Some(36), None, Some(9), Some(20)]);
        // Less room than the outcome needs: it takes what is left, the machine goes.
        assert_eq!(fit(COLUMNS, &[36, 22, 9, 40], 76), vec![Some(36), None, Some(9), Some(29)]);
        assert_eq!(fit(COLUMNS, &[36, 22, 9, 40], 50), vec![Some(36), None, Some(9), None]);
        // What always stays is drawn even where it does not fit.
        assert_eq!(fit(COLUMNS, &[36, 22, 9, 40], 30), vec![Some(36), None, None, None]);
        // A long outcome leaves room for the machine, and takes the rest.
        assert_eq!(fit(COLUMNS, &[36, 22, 9, 77], 154), vec![Some(36), Some(22), Some(9), Some(77)]);
        assert_eq!(fit(COLUMNS, &[36, 22, 9, 77], 130), vec![Some(36), Some(22), Some(9), Some(60)]);
    }
}
