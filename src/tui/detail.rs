//! Drawing the opened execution (history table + JSON pane) and the Graph tab's canvas.
//! Pure rendering from the Executions and Graph components' state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::app::{DetailView, ExecutionDetail, GraphCursor, GraphData, HistoryRow, Loadable};
use super::graph::{self, EdgeKind, RunEvent, StateRun};
use super::view::{draw_message, status_color, window};

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

pub fn draw_detail(detail: &DetailView, frame: &mut Frame, area: Rect) {
    let data = match &detail.data {
        Loadable::Loaded(d) => d,
        Loadable::Failed(message) => return draw_message(frame, area, "Execution", message),
        _ => return draw_message(frame, area, "Execution", "Loading the execution's history…"),
    };
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
        " {} · {} · {} · {} events — Esc back, o graph, l logs, J/K scroll ",
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
    let layout = match graph::layout(&data.definition) {
        Ok(g) => g,
        Err(e) => return draw_message(frame, area, "Graph", &format!("This definition cannot be drawn: {e}.")),
    };
    let painted = graph::paint(&layout);
    let runs = data.execution.as_ref().map(|d| {
        let events: Vec<RunEvent> = d
            .events
            .iter()
            .map(|e| RunEvent {
                kind: e.kind.clone(),
                state: e.json["name"]
                    .as_str()
                    .map(str::to_string)
                    .filter(|_| e.kind.ends_with("StateEntered") || e.kind.ends_with("StateExited")),
            })
            .collect();
        graph::state_runs(&events)
    });
    let selected = painted.boxes.get(cursor.selected).map(|b| b.0.clone());
    let (canvas, side) = if cursor.show_state {
        let [a, b] = if area.width >= 120 {
            Layout::horizontal([Constraint::Percentage(55), Constraint::Fill(1)]).areas(area)
        } else {
            Layout::vertical([Constraint::Percentage(50), Constraint::Fill(1)]).areas(area)
        };
        (a, Some(b))
    } else {
        (area, None)
    };
    let legend = if runs.is_some() {
        let mut spans = vec![Span::raw(" ")];
        for (run, name) in [
            (StateRun::NotReached, "not reached"),
            (StateRun::Running, "running"),
            (StateRun::Succeeded, "succeeded"),
            (StateRun::Failed, "failed"),
            (StateRun::Caught, "caught"),
        ] {
            spans.push(Span::styled(format!("■ {name} "), Style::new().fg(run_color(Some(run)))));
        }
        spans.push(Span::raw("· j/k state, Enter details "));
        Line::from(spans)
    } else {
        Line::from(" j/k pick a state, Enter shows it ")
    };
    let block = Block::new().borders(Borders::ALL).title(format!(" {} ", data.title)).title_bottom(legend);
    let inner = block.inner(canvas);
    frame.render_widget(block, canvas);
    // Scroll so that the selected state is in view.
    let (sx, sy) = painted
        .boxes
        .get(cursor.selected)
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
    if let (Some(side), Some(name)) = (side, selected) {
        draw_state_pane(data.execution.as_ref(), &name, frame, side);
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
