//! Drawing the [`App`]: a tab bar, the focused view (drawn by its component), the message
//! line, a status bar with the prompt, and the popups over them. [`render`] only reads the
//! state and returns what the frame drew ([`Screen`]: where the tabs and the list rows are),
//! which the loop keeps for the mouse.

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{App, Health, ImageSlot, STATUS_FILTERS, Screen, Tab};
use super::components::DrawCtx;
use super::popups::{self, PromptKind};

/// Draws the app and keeps what the frame drew in it (the loop's step after a draw).
pub fn view(app: &mut App, frame: &mut Frame) {
    let mut images = std::mem::take(&mut app.images);
    let screen = render(app, &mut images, frame);
    app.images = images;
    app.screen = screen;
}

/// Draws the app; the previews are the only state drawing touches (the image widget keeps
/// its scaled copy in them).
pub fn render(app: &App, images: &mut HashMap<String, ImageSlot>, frame: &mut Frame) -> Screen {
    // A long sentence wraps onto up to three lines rather than being cut.
    let width = frame.area().width.max(1) as usize;
    let notice_rows = app.notice.as_ref().map_or(0, |(m, _)| (m.chars().count() + 20).div_ceil(width).min(3)) as u16;
    let [tabs, body, notice, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(notice_rows),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let tab_hitboxes = draw_tabs(app, frame, tabs);
    // The outcome of the last action, on its own line so it is never cut off by the target.
    if let Some((message, is_error)) = &app.notice {
        let (mark, color) = if *is_error { ("✖ ", Color::Red) } else { ("✔ ", Color::Green) };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(format!("{mark}{message}"), Style::new().fg(color).bold()),
                Span::raw("  (Esc dismisses)").dark_gray(),
            ]))
            .wrap(Wrap { trim: false }),
            notice,
        );
    }
    let drawn = app.focused().draw(frame, body, &mut DrawCtx { images });
    draw_status(app, frame, status);
    for popup in &app.popups {
        popups::draw(popup, frame, body);
    }
    if app.no_color {
        strip_colors(frame);
    }
    Screen { tabs: tab_hitboxes, view: drawn }
}

/// NO_COLOR: every colour goes; what a background marked (the selected row) is reversed.
fn strip_colors(frame: &mut Frame) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            if let Some(cell) = buf.cell_mut((x, y)) {
                if cell.bg != Color::Reset {
                    cell.modifier.insert(Modifier::REVERSED);
                }
                cell.fg = Color::Reset;
                cell.bg = Color::Reset;
            }
        }
    }
}

/// The first row to draw so that `selected` is visible in `height` rows: lists render only
/// what fits, however many rows they have.
pub fn window(selected: usize, total: usize, height: usize) -> usize {
    if height == 0 || total <= height {
        return 0;
    }
    selected.saturating_sub(height - 1).min(total - height)
}

/// The tab titles; returns where each was drawn, for mouse clicks.
fn draw_tabs(app: &App, frame: &mut Frame, area: Rect) -> Vec<(Tab, u16, u16)> {
    let mut spans = Vec::new();
    let mut hitboxes = Vec::new();
    let mut column = area.x;
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, tab.title());
        let width = label.chars().count() as u16;
        hitboxes.push((*tab, column, column + width.saturating_sub(1)));
        column += width;
        let style = if *tab == app.tab {
            Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(Color::Gray)
        };
        spans.push(Span::styled(label, style));
    }
    spans.push(Span::raw("  ? help  : go to  q quit").dark_gray());
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    hitboxes
}

fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let style = Style::new().bg(Color::Rgb(30, 30, 40));
    if let Some(prompt) = app.prompt() {
        let (mark, hint) = match prompt.kind {
            PromptKind::Filter => ("/", "  Enter keeps the filter · Esc clears it"),
            PromptKind::Command => (":", "  Tab completes · Enter goes · Esc cancels"),
        };
        let line = Line::from(vec![
            Span::raw(format!(" {mark}")).bold(),
            Span::raw(format!("{}▏", prompt.text)),
            Span::raw(hint).dark_gray(),
        ]);
        frame.render_widget(Paragraph::new(line).style(style), area);
        return;
    }
    let (health, color) = match &app.health {
        Health::Unknown => ("connecting…".to_string(), Color::Yellow),
        Health::Up => ("connected".to_string(), Color::Green),
        Health::Down(e) => (format!("unreachable: {e}"), Color::Red),
    };
    let mut spans = vec![
        Span::styled(" ● ", Style::new().fg(color)),
        Span::raw(format!("{}  ", app.target)),
        Span::styled(health, Style::new().fg(color)),
    ];
    if let Some(status) = STATUS_FILTERS.get(app.executions.status_filter).copied().flatten()
        && app.tab == Tab::Executions
    {
        spans.push(Span::raw(format!("   status: {status}")).bold());
    }
    if !app.filter().is_empty() {
        spans.push(Span::raw("   filter on: ").bold());
        spans.push(Span::raw(app.filter().to_string()));
        spans.push(Span::raw(" (Esc clears it)").dark_gray());
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(style), area);
}

pub fn draw_message(frame: &mut Frame, area: Rect, title: &str, message: &str) {
    let block = Block::new().borders(Borders::ALL).title(format!(" {title} "));
    frame.render_widget(Paragraph::new(message.to_string()).wrap(Wrap { trim: true }).block(block), area);
}

pub fn status_color(status: &str) -> Color {
    match status {
        "SUCCEEDED" => Color::Green,
        "RUNNING" | "PENDING_REDRIVE" => Color::Yellow,
        "FAILED" | "TIMED_OUT" | "ABORTED" => Color::Red,
        _ => Color::Gray,
    }
}
