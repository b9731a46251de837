//! Drawing the opened execution (history table + JSON pane, or its replay: the graph as it
//! was at one event beside that event) and the Graph tab's canvas. Pure rendering from the
//! Executions and Graph components' state, and the replay's keys.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::app::{DetailView, ExecutionDetail, GraphCursor, GraphData, HistoryRow, Loadable};
use super::graph::{self, EdgeKind, StateRun};
use super::view::{draw_message, status_color, window};
use crate::ops::history::states_at;

/// Pretty-printed JSON with keys, strings, numbers and literals in their own colours.
pub fn json_lines(value: &serde_json::Value) -> Vec<Line<'static>> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.lines().map(json_line).collect()
}

fn json_line(line: &str) -> Line<'static> {
    let mut spans = Vec::new();
    let indent = line.len() - line.trim_start().len();
    spans.push(Span::raw(line[..indent].to_string()));
    let rest = &line[indent..];
    // `"key": value` — the key, then the value.
    let (key, value) = match rest.strip_prefix('"').and_then(|r| find_string_end(r).map(|end| (end, r))) {
        Some((end, r)) if r[end + 1..].starts_with(": ") => (Some(&rest[..end + 2]), &r[end + 3..]),
        _ => (None, rest),
    };
    if let Some(key) = key {
        spans.push(Span::styled(key.to_string(), Style::new().fg(Color::Cyan)));
        spans.push(Span::raw(": "));
    }
    let trimmed = value.trim_end_matches(',');
    let style = if trimmed.starts_with('"') {
        Style::new().fg(Color::Green)
    } else if trimmed.parse::<f64>().is_ok() {
        Style::new().fg(Color::Magenta)
    } else if matches!(trimmed, "true" | "false" | "null") {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new()
    };
    spans.push(Span::styled(value.to_string(), style));
    Line::from(spans)
}

/// The index of the closing quote of a JSON string whose opening quote was just consumed.
fn find_string_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn event_color(e: &HistoryRow) -> Color {
    if e.is_failure() {
        Color::Red
    } else if e.kind.ends_with("Succeeded") {
        Color::Green
    } else if e.kind.ends_with("Entered") || e.kind.ends_with("Exited") {
        Color::Cyan
    } else {
        Color::Reset
    }
}

/// ←/→ in an opened execution: replay it, one event back or on. The first press opens the
/// replay on the event the cursor is on; Esc closes it.
pub fn replay_key(detail: &mut DetailView, forward: bool) {
    let events = detail.data.rows().map_or(0, |d| d.events.len());
    if detail.replay {
        detail.selected = if forward { detail.selected + 1 } else { detail.selected.saturating_sub(1) };
    }
    detail.selected = detail.selected.min(events.saturating_sub(1));
    detail.replay = true;
    detail.scroll = 0;
}

pub fn draw_detail(detail: &DetailView, frame: &mut Frame, area: Rect) {
    let data = match &detail.data {
        Loadable::Loaded(d) => d,
        Loadable::Failed(message) => return draw_message(frame, area, "Execution", message),
        _ => return draw_message(frame, area, "Execution", "Loading the execution's history…"),
    };
    if detail.replay {
        return draw_replay(data, detail, frame, area);
    }
    let wide = area.width >= 120;
    let [list, pane] = if wide {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(area)
    };
    let height = list.height.saturating_sub(3) as usize;
    let start = window(detail.selected, data.events.len(), height);
    let shown = &data.events[start..(start + height).min(data.events.len())];
    // The type as wide as the longest on screen; the state takes the rest, so neither is
    // cut where the row has room.
    let type_width = shown.iter().map(|e| e.kind.chars().count()).max().unwrap_or(4).max(4) as u16;
    let rows: Vec<Row> = shown
        .iter()
        .map(|e| {
            Row::new(vec![
                Cell::from(e.id.to_string()),
                Cell::from(e.kind.clone()).style(Style::new().fg(event_color(e))),
                Cell::from(e.state.clone()),
                Cell::from(e.time.get(11..).unwrap_or_default().to_string()),
                Cell::from(format!("+{} ms", e.elapsed_ms)),
            ])
        })
        .collect();
    let title = format!(
        " {} · {} · {} · {} events — Esc back, ←/→ replay, o graph, l logs, J/K scroll ",
        data.name,
        data.state_machine,
        data.status,
        data.events.len()
    );
    let header = Row::new(["Id", "Type", "State", "Time", "Elapsed"])
        .style(Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan));
    let table = Table::new(
        rows,
        [
            Constraint::Length(4),
            Constraint::Length(type_width),
            Constraint::Fill(1),
            Constraint::Length(8),
            Constraint::Length(10),
        ],
    )
    .header(header)
    .block(Block::new().borders(Borders::ALL).title(title).border_style(Style::new().fg(status_color(&data.status))))
    .row_highlight_style(Style::new().bg(Color::DarkGray).add_modifier(Modifier::BOLD))
    .highlight_symbol("› ");
    let mut state = TableState::default().with_selected(Some(detail.selected - start));
    frame.render_stateful_widget(table, list, &mut state);
    draw_event_json(data, detail, frame, pane);
}

fn draw_event_json(data: &ExecutionDetail, detail: &DetailView, frame: &mut Frame, area: Rect) {
    let Some(event) = data.events.get(detail.selected) else {
        return draw_message(frame, area, "Event", "This execution has no events yet.");
    };
    let mut lines = json_lines(&event.json);
    if let Some(function) = &event.function {
        lines.insert(
            0,
            Line::from(Span::styled(format!("function {function} — l shows its logs"), Style::new().fg(Color::Gray))),
        );
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((detail.scroll, 0))
            .block(Block::new().borders(Borders::ALL).title(format!(" Event {} · {} ", event.id, event.kind))),
        area,
    );
}

pub fn run_color(run: Option<StateRun>) -> Color {
    match run {
        None | Some(StateRun::NotReached) => Color::DarkGray,
        Some(StateRun::Entered) => Color::LightBlue,
        Some(StateRun::Running) => Color::Yellow,
        Some(StateRun::Succeeded) => Color::Green,
        Some(StateRun::Failed) => Color::Red,
        Some(StateRun::Caught) => Color::Magenta,
    }
}

pub fn draw_graph(graph: &Loadable<GraphData>, cursor: &GraphCursor, frame: &mut Frame, area: Rect) {
    let data = match graph {
        Loadable::Loaded(d) => d,
        Loadable::Failed(message) => return draw_message(frame, area, "Graph", message),
        _ => return draw_message(frame, area, "Graph", "Loading the state machine…"),
    };
    let runs = data.execution.as_ref().map(|d| states_at(&d.events, usize::MAX));
    let (canvas, side) = if cursor.show_state {
        let [a, b] = beside(area);
        (a, Some(b))
    } else {
        (area, None)
    };
    let hint = if runs.is_some() { "· j/k state, Enter details " } else { " j/k pick a state, Enter shows it " };
    let picture =
        Picture { definition: &data.definition, runs: runs.as_ref(), title: format!(" {} ", data.title), hint };
    let selected = draw_picture(&picture, Pick::Index(cursor.selected), frame, canvas);
    if let (Some(side), Some(name)) = (side, selected) {
        draw_state_pane(data.execution.as_ref(), &name, frame, side);
    }
}

/// Two panes side by side where the terminal is wide, one above the other where not.
fn beside(area: Rect) -> [Rect; 2] {
    if area.width >= 120 {
        Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(area)
    }
}

/// A state machine's graph to draw, coloured by what each state did (`runs`), or plain.
struct Picture<'a> {
    definition: &'a serde_json::Value,
    runs: Option<&'a std::collections::HashMap<String, StateRun>>,
    title: String,
    /// The keys, after the legend.
    hint: &'a str,
}

/// Which state is highlighted (and scrolled into view).
enum Pick<'a> {
    /// The n-th box of the painting (the Graph tab's cursor).
    Index(usize),
    /// A state by name (the replay's current event's state).
    Name(&'a str),
}

/// Draws the graph in `area`; returns the name of the highlighted state.
fn draw_picture(picture: &Picture, pick: Pick, frame: &mut Frame, area: Rect) -> Option<String> {
    let layout = match graph::layout(picture.definition) {
        Ok(g) => g,
        Err(e) => {
            draw_message(frame, area, "Graph", &format!("This definition cannot be drawn: {e}."));
            return None;
        }
    };
    let painted = graph::paint(&layout);
    let runs = picture.runs;
    let index = match pick {
        Pick::Index(i) => Some(i),
        Pick::Name(name) => painted.boxes.iter().position(|b| b.0 == name),
    };
    let selected = index.and_then(|i| painted.boxes.get(i)).map(|b| b.0.clone());
    let legend = if runs.is_some() {
        let mut spans = vec![Span::raw(" ")];
        for (run, name) in [
            (StateRun::NotReached, "not reached"),
            (StateRun::Entered, "entered"),
            (StateRun::Running, "running"),
            (StateRun::Succeeded, "succeeded"),
            (StateRun::Failed, "failed"),
            (StateRun::Caught, "caught"),
        ] {
            spans.push(Span::styled(format!("■ {name} "), Style::new().fg(run_color(Some(run)))));
        }
        spans.push(Span::raw(picture.hint.to_string()));
        Line::from(spans)
    } else {
        Line::from(picture.hint.to_string())
    };
    let block = Block::new().borders(Borders::ALL).title(picture.title.clone()).title_bottom(legend);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Scroll so that the selected state is in view.
    let (sx, sy) = index
        .and_then(|i| painted.boxes.get(i))
        .map(|&(_, x, y, w, h)| {
            let fit = |pos: u16, size: u16, view: u16| (pos + size).saturating_sub(view).min(pos);
            (fit(x, w, inner.width), fit(y, h, inner.height))
        })
        .unwrap_or((0, 0));
    let buf = frame.buffer_mut();
    for (row, line) in painted.lines.iter().enumerate().skip(sy as usize).take(inner.height as usize) {
        for (col, ch) in line.iter().enumerate().skip(sx as usize).take(inner.width as usize) {
            let (x, y) = (inner.x + (col as u16 - sx), inner.y + (row as u16 - sy));
            if *ch != ' '
                && let Some(cell) = buf.cell_mut((x, y))
            {
                cell.set_char(*ch);
                cell.set_style(Style::new().fg(Color::Gray));
            }
        }
    }
    let visible = |x: u16, y: u16| -> Option<(u16, u16)> {
        let (cx, cy) = (x.checked_sub(sx)?, y.checked_sub(sy)?);
        (cx < inner.width && cy < inner.height).then_some((inner.x + cx, inner.y + cy))
    };
    for &(x, y, len, kind) in &painted.labels {
        let color = match kind {
            EdgeKind::Catch => Color::Red,
            EdgeKind::Choice | EdgeKind::Default => Color::Blue,
            EdgeKind::Next => Color::Gray,
        };
        for i in 0..len {
            if let Some(pos) = visible(x + i, y)
                && let Some(cell) = buf.cell_mut(pos)
            {
                cell.set_fg(color);
            }
        }
    }
    for (name, x, y, w, h) in &painted.boxes {
        let run = runs.as_ref().map(|r| r.get(name).copied().unwrap_or(StateRun::NotReached));
        let color = match run {
            Some(run) => run_color(Some(run)),
            None => Color::Cyan,
        };
        let is_selected = selected.as_deref() == Some(name.as_str());
        for yy in *y..y + h {
            for xx in *x..x + w {
                let on_border = yy == *y || yy == y + h - 1 || xx == *x || xx == x + w - 1;
                let on_name = yy == y + 1 && xx > *x && xx < x + w - 1;
                if let Some(pos) = visible(xx, yy)
                    && let Some(cell) = buf.cell_mut(pos)
                    && (on_border || on_name)
                {
                    cell.set_fg(color);
                    if is_selected {
                        cell.modifier.insert(Modifier::BOLD | Modifier::REVERSED);
                    }
                }
            }
        }
    }
    selected
}

/// The replay: the graph as it was at the selected event, and that event beside it.
fn draw_replay(data: &ExecutionDetail, detail: &DetailView, frame: &mut Frame, area: Rect) {
    let Some(definition) = &data.definition else {
        return draw_message(
            frame,
            area,
            "Replay",
            "The definition of this execution's state machine could not be read.",
        );
    };
    let at = detail.selected.min(data.events.len().saturating_sub(1));
    let runs = states_at(&data.events, at);
    let event = data.events.get(at);
    let [canvas, side] = beside(area);
    let title = format!(" Replay {} · event {} of {} ", data.name, at + 1, data.events.len());
    let picture = Picture { definition, runs: Some(&runs), title, hint: "· ←/→ step, Esc back " };
    let state = event.map(|e| e.state.as_str()).unwrap_or_default();
    draw_picture(&picture, Pick::Name(state), frame, canvas);
    let Some(event) = event else {
        return draw_message(frame, side, "Event", "This execution has no events yet.");
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(event.kind.clone(), Style::new().fg(event_color(event)).bold()),
        Span::raw(format!("  {}  +{} ms", event.time.get(11..).unwrap_or_default(), event.elapsed_ms)),
    ])];
    if !event.state.is_empty() {
        let run = runs.get(&event.state).copied();
        lines.push(Line::from(vec![
            Span::raw("state "),
            Span::styled(event.state.clone(), Style::new().fg(run_color(run)).bold()),
            Span::raw(format!(" — {}", run_word(run))),
        ]));
    }
    // Every state reached so far in words too, in the order they were first entered: the
    // colours are not for everyone.
    let mut reached: Vec<&str> = Vec::new();
    for e in data.events.iter().take(at + 1).filter(|e| e.kind.ends_with("StateEntered")) {
        if !reached.contains(&e.state.as_str()) {
            reached.push(&e.state);
        }
    }
    let mut so_far = vec![Span::raw("so far: ")];
    for (i, name) in reached.iter().enumerate() {
        let run = runs.get(*name).copied();
        let sep = if i + 1 < reached.len() { ", " } else { "" };
        so_far.push(Span::styled(format!("{name} {}", run_word(run)), Style::new().fg(run_color(run))));
        so_far.push(Span::raw(sep));
    }
    lines.push(Line::from(so_far));
    lines.extend(json_lines(&event.json));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((detail.scroll, 0))
            .block(Block::new().borders(Borders::ALL).title(format!(" Event {} ", event.id))),
        side,
    );
}

fn run_word(run: Option<StateRun>) -> &'static str {
    match run {
        None | Some(StateRun::NotReached) => "not reached",
        Some(StateRun::Entered) => "entered",
        Some(StateRun::Running) => "running",
        Some(StateRun::Succeeded) => "succeeded",
        Some(StateRun::Failed) => "failed",
        Some(StateRun::Caught) => "caught",
    }
}

/// The selected state's input, output, error and cause in the execution.
fn draw_state_pane(execution: Option<&ExecutionDetail>, name: &str, frame: &mut Frame, area: Rect) {
    let Some(execution) = execution else {
        return draw_message(frame, area, name, "Open an execution (Executions, then o) to see what this state did.");
    };
    let entered = execution.events.iter().rev().find(|e| e.kind.ends_with("StateEntered") && e.json["name"] == name);
    let exited = execution.events.iter().rev().find(|e| e.kind.ends_with("StateExited") && e.json["name"] == name);
    let failure = crate::ops::failure::failures(&execution.events).into_iter().rev().find(|f| f.state == name);
    let mut lines = Vec::new();
    let mut section = |title: &str, value: Option<&serde_json::Value>| {
        lines.push(Line::from(Span::styled(title.to_string(), Style::new().add_modifier(Modifier::BOLD))));
        match value {
            Some(v) if !v.is_null() => lines.extend(json_lines(v)),
            _ => lines.push(Line::from("  —")),
        }
    };
    if entered.is_none() {
        section("Not reached in this execution.", None);
    } else {
        section("Input", entered.map(|e| &e.json["input"]));
        section("Output", exited.map(|e| &e.json["output"]));
        let error = failure.as_ref().map(|f| serde_json::Value::String(f.error.clone()));
        section("Error", error.as_ref());
        section("Cause", failure.as_ref().map(|f| &f.cause));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(format!(" {name} (Esc closes) "))),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_open_the_replay_where_the_cursor_is_then_step_within_the_history() {
        let row = |id: i64, kind: &str| HistoryRow {
            id,
            previous: id - 1,
            kind: kind.into(),
            state: String::new(),
            time: String::new(),
            elapsed_ms: 0,
            json: serde_json::Value::Null,
            function: None,
        };
        let mut detail = DetailView::opening("arn".into());
        detail.data = Loadable::Loaded(ExecutionDetail {
            arn: "arn".into(),
            name: "e".into(),
            status: "SUCCEEDED".into(),
            state_machine: "M".into(),
            events: vec![row(1, "ExecutionStarted"), row(2, "PassStateEntered"), row(3, "ExecutionSucceeded")],
            definition: None,
        });
        detail.selected = 1;
        replay_key(&mut detail, true);
        assert!(detail.replay);
        assert_eq!(detail.selected, 1, "the first press shows the event the cursor is on");
        replay_key(&mut detail, true);
        replay_key(&mut detail, true);
        assert_eq!(detail.selected, 2, "not past the last event");
        for _ in 0..5 {
            replay_key(&mut detail, false);
        }
        assert_eq!(detail.selected, 0, "nor before the first");
    }
}
