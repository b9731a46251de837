//! The Logs view: the newest lines each of the workshop's functions wrote. The filter keeps
//! the functions whose name or lines match and, of a function whose name does not match,
//! the lines that do (a user id, a request id).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState};

use super::{Binding, Cmd, Component, DrawCtx, Drawn, Intent, Key, ListArea, MOVE, bind_of, moved};
use crate::tui::app::{Effect, FunctionLogs, Loadable, Loaded, Tab};
use crate::tui::view::{draw_message, window};

const KEYS: &[Binding] = &[bind_of(&[Key::ch('c')], "c", "copy the function's name", Cmd::Copy)];

#[derive(Debug, Default)]
pub struct Logs {
    pub logs: Loadable<Vec<FunctionLogs>>,
    pub selected: usize,
    filter: String,
}

impl Logs {
    /// The functions shown, each with the lines shown of it.
    fn shown(&self) -> Vec<(&FunctionLogs, Vec<&String>)> {
        let needle = self.filter.to_lowercase();
        self.logs
            .rows()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                if needle.is_empty() || f.function.to_lowercase().contains(&needle) {
                    return Some((f, f.lines.iter().collect()));
                }
                let lines: Vec<&String> = f.lines.iter().filter(|l| l.to_lowercase().contains(&needle)).collect();
                (!lines.is_empty()).then_some((f, lines))
            })
            .collect()
    }
}

impl Logs {
    /// A filter naming a function (the link from a Task event) selects it.
    fn select_named(&mut self) {
        let named = self.shown().iter().position(|(f, _)| f.function == self.filter);
        if let Some(i) = named {
            self.selected = i;
        }
    }
}

impl Component for Logs {
    fn bindings(&self) -> Vec<&'static [Binding]> {
        vec![KEYS, MOVE]
    }

    fn run(&mut self, cmd: Cmd) -> Vec<Intent> {
        if let Some(to) = moved(cmd, self.selected, self.shown().len()) {
            self.selected = to;
            return Vec::new();
        }
        if cmd != Cmd::Copy {
            return Vec::new();
        }
        let shown = self.shown();
        shown.get(self.selected).map(|(f, _)| Intent::Copy(f.function.clone())).into_iter().collect()
    }

    fn loaded(&mut self, loaded: &Loaded) -> bool {
        let Loaded::Logs(result) = loaded else { return false };
        self.logs = Loadable::from_result(result);
        let shown = self.shown().len();
        self.selected = self.selected.min(shown.saturating_sub(1));
        // The logs often arrive after the filter that names a function.
        self.select_named();
        true
    }

    fn loading(&mut self) {
        self.logs.mark_loading();
    }

    fn refresh(&self) -> Vec<Effect> {
        vec![Effect::Load(Tab::Logs)]
    }

    fn filter(&self) -> &str {
        &self.filter
    }

    fn set_filter(&mut self, filter: String) {
        self.selected = 0;
        self.filter = filter;
        self.select_named();
    }

    fn len(&self) -> usize {
        self.shown().len()
    }

    fn selected(&self) -> usize {
        self.selected
    }

    fn select(&mut self, row: usize) {
        self.selected = row.min(self.len().saturating_sub(1));
    }

    fn draw(&self, frame: &mut Frame, area: Rect, _ctx: &mut DrawCtx) -> Drawn {
        let logs = match &self.logs {
            Loadable::Loaded(l) => l,
            Loadable::Failed(message) => {
                draw_message(frame, area, "Logs", message);
                return Drawn::default();
            }
            _ => {
                draw_message(frame, area, "Logs", "Loading the functions' logs…");
                return Drawn::default();
            }
        };
        if logs.is_empty() {
            draw_message(frame, area, "Logs", "No functions yet: deploy the workshop (Lab) first.");
            return Drawn::default();
        }
        let shown = self.shown();
        if shown.is_empty() {
            let message = format!("Nothing here matches the filter “{}”: Esc clears it.", self.filter);
            draw_message(frame, area, "Logs", &message);
            return Drawn::default();
        }
        let widest =
            shown.iter().map(|(f, lines)| f.function.chars().count() + lines.len().to_string().len() + 3).max();
        let list_width = (widest.unwrap_or(20) as u16 + 4).min(area.width / 2);
        let [list, text] = Layout::horizontal([Constraint::Length(list_width), Constraint::Fill(1)]).areas(area);
        let height = list.height.saturating_sub(2) as usize;
        let first = window(self.selected, shown.len(), height);
        let rows: Vec<Row> = shown
            .iter()
            .skip(first)
            .take(height)
            .map(|(f, lines)| Row::new(vec![format!("{} ({})", f.function, lines.len())]))
            .collect();
        let drawn = Drawn { list: Some(ListArea { top: list.y + 1, first, rows: rows.len() }) };
        let table = Table::new(rows, [Constraint::Fill(1)])
            .block(Block::new().borders(Borders::ALL).title(" Functions "))
            .row_highlight_style(Style::new().bg(Color::DarkGray).add_modifier(Modifier::BOLD))
            .highlight_symbol("› ");
        let selected = self.selected.min(shown.len() - 1);
        frame.render_stateful_widget(table, list, &mut TableState::default().with_selected(Some(selected - first)));
        let (function, lines) = &shown[selected];
        let height = text.height.saturating_sub(2) as usize;
        // The newest lines, at the bottom, like a terminal.
        let body: Vec<Line> =
            lines.iter().skip(lines.len().saturating_sub(height)).map(|l| Line::from(l.to_string())).collect();
        let body = if body.is_empty() { vec![Line::from("No output yet.")] } else { body };
        let title = if self.filter.is_empty() {
            format!(" {} ", function.function)
        } else {
            format!(" {} — lines matching “{}” ", function.function, self.filter)
        };
        frame.render_widget(Paragraph::new(body).block(Block::new().borders(Borders::ALL).title(title)), text);
        drawn
    }
}
