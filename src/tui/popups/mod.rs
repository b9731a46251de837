//! What opens over the views, in a stack (the top one gets the keys): the help, a question,
//! the start and upload forms, the describe popup, and the prompt of the `/` filter or the
//! `:` command line. Each is drawn here from its own state.
//!
//! May use `app`'s forms and effects, the components' bindings (for the help) and
//! `detail`'s JSON colouring; what a popup's answer does is carried out by `app`.

pub mod confirm;

pub use confirm::{Answer, Confirm, Question};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{StartForm, UploadForm};
use super::components::Binding;

/// What the prompt at the bottom is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// `/`: the focused view's filter, applied as it is typed.
    Filter,
    /// `:`: a view, a state machine or an execution by name.
    Command,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
    /// The filter before `/`, back on Esc.
    pub before: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    /// The keys of the focused view and of every view.
    Help {
        view: &'static str,
        groups: Vec<&'static [Binding]>,
        scroll: u16,
    },
    Confirm(Confirm),
    Start(StartForm),
    Upload(UploadForm),
    /// A record in full, as highlighted JSON.
    Describe {
        title: String,
        value: serde_json::Value,
        scroll: u16,
    },
    Prompt(Prompt),
}

/// Typing into a text field: characters go in, Backspace (Ctrl-H on many terminals) takes
/// the last one out; other control keys type nothing.
pub fn edit_text(text: &mut String, key: KeyEvent) {
    match key.code {
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char('h') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            text.pop();
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
        _ => {}
    }
}

/// One line of the help: a heading, or a binding's keys and what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelpLine {
    Heading(String),
    Key(&'static str, &'static str),
}

/// The help's lines: the view's bindings, then those of every view.
pub fn help_lines(view: &str, groups: &[&'static [Binding]]) -> Vec<HelpLine> {
    let mut lines = vec![HelpLine::Heading(view.to_string())];
    lines.extend(groups.iter().flat_map(|g| g.iter()).map(|b| HelpLine::Key(b.shown, b.help)));
    lines.push(HelpLine::Heading("Every view".into()));
    lines.extend(super::components::GLOBAL.iter().map(|b| HelpLine::Key(b.shown, b.help)));
    lines
}

/// A binding's line as the help shows it.
pub fn help_text(shown: &str, help: &str) -> String {
    format!("{shown:>12}  {help}")
}

pub fn draw(popup: &Popup, frame: &mut Frame, area: Rect) {
    match popup {
        Popup::Help { view, groups, scroll } => {
            let lines: Vec<Line> = help_lines(view, groups)
                .into_iter()
                .map(|l| match l {
                    HelpLine::Heading(h) => Line::from(h).bold().underlined(),
                    HelpLine::Key(shown, help) => Line::from(vec![
                        Span::styled(format!("{shown:>12}"), Style::new().fg(Color::Cyan).bold()),
                        Span::raw(format!("  {help}")),
                    ]),
                })
                .collect();
            // The whole width: no line is cut where the terminal has room; it scrolls.
            let below = (lines.len() as u16).saturating_sub(area.height.saturating_sub(2) + *scroll);
            let mut block = Block::new().borders(Borders::ALL).title(" Keys — ↑/↓ scroll, any other key closes ");
            if below > 0 {
                block = block.title_bottom(Line::from(format!(" ↓ {below} more lines ")).right_aligned());
            }
            frame.render_widget(Clear, area);
            frame.render_widget(
                Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((*scroll, 0)).block(block),
                area,
            );
        }
        Popup::Confirm(confirm) => {
            let mut lines = vec![Line::from(confirm.question.text()), Line::from("")];
            lines.push(Line::from(confirm.question.how_to_answer()).bold());
            if confirm.question.word().is_some() {
                lines.push(Line::from(format!("> {}▏", confirm.typed)));
            }
            draw_box(frame, area, " Confirm ", lines);
        }
        Popup::Start(form) => draw_form(form, frame, area),
        Popup::Upload(upload) => draw_upload(upload, frame, area),
        Popup::Describe { title, value, scroll } => {
            frame.render_widget(Clear, area);
            frame.render_widget(
                Paragraph::new(super::detail::json_lines(value))
                    .scroll((*scroll, 0))
                    .block(Block::new().borders(Borders::ALL).title(format!(" {title} — ↑/↓ scroll, Esc closes "))),
                area,
            );
        }
        // Drawn in the status line.
        Popup::Prompt(_) => {}
    }
}

/// A box in the middle of `area`, as wide as its text up to 72 columns.
fn draw_box(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'static>>) {
    let width = area.width.min(72);
    let inner_w = width.saturating_sub(2).max(1) as usize;
    let wrapped: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner_w)).sum();
    let height = (wrapped as u16 + 2).min(area.height);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(title.to_string())),
        popup,
    );
}

fn draw_form(form: &StartForm, frame: &mut Frame, area: Rect) {
    let mut lines =
        vec![Line::from("Input: {\"userId\", \"s3Bucket\": rider photo bucket, \"s3Key\"}"), Line::from("")];
    for (i, label) in StartForm::LABELS.iter().enumerate() {
        let focused = i == form.focus;
        let value = format!("{}{}", form.fields[i], if focused { "▏" } else { "" });
        lines.push(Line::from(vec![
            Span::styled(
                format!("{label:>20}: "),
                if focused { Style::new().bold().fg(Color::Cyan) } else { Style::new() },
            ),
            Span::styled(value, if focused { Style::new().add_modifier(Modifier::UNDERLINED) } else { Style::new() }),
        ]));
    }
    lines.push(Line::from(""));
    if let Some(error) = &form.error {
        lines.push(Line::from(Span::styled(error.clone(), Style::new().fg(Color::Red))));
    }
    lines.push(
        Line::from("A photo path on disk is uploaded for you. Tab next field, Enter start, Esc cancel.").dark_gray(),
    );
    draw_box(frame, area, " Start an execution ", lines);
}

fn draw_upload(upload: &UploadForm, frame: &mut Frame, area: Rect) {
    let mut lines = vec![
        Line::from("A JPEG or PNG on this machine goes to the rider photo bucket under its file name."),
        Line::from(""),
        Line::from(vec![
            Span::styled("Path: ", Style::new().bold().fg(Color::Cyan)),
            Span::styled(format!("{}▏", upload.path), Style::new().add_modifier(Modifier::UNDERLINED)),
        ]),
        Line::from(""),
    ];
    if let Some(error) = &upload.error {
        lines.push(Line::from(Span::styled(error.clone(), Style::new().fg(Color::Red))));
    }
    lines.push(Line::from("Enter upload, Esc cancel.").dark_gray());
    draw_box(frame, area, " Upload a photo ", lines);
}
