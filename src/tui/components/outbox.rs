//! The Outbox view: the mail the notification function sent through the local cloud's SES,
//! with whom it went to and which rider and photo it is about, and the selected message.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::list::{Column, List, Record, col, flex};
use super::{Binding, Cmd, Component, DrawCtx, Drawn, Intent, Key, MOVE, SORT, bind_of};
use crate::tui::app::{Effect, Loaded, MailRow, Tab};

const COLUMNS: &[Column] = &[col("Sent", 2), col("To", 1), col("Rider", 0), col("Photo", 3), flex("Subject", 4)];

const KEYS: &[Binding] = &[
    bind_of(&[Key::ch('c')], "c", "copy the recipient", Cmd::Copy),
    bind_of(&[Key::ch('d')], "d", "describe the message", Cmd::Describe),
    bind_of(&[Key::ch('l')], "l", "the logs of the rider", Cmd::Logs),
];

impl Record for MailRow {
    fn cells(&self) -> Vec<String> {
        // The photo's key: the bucket is the rider photo bucket (the message has it in full).
        let key = self.photo.rsplit('/').next().unwrap_or_default().to_string();
        vec![self.sent.clone(), self.to.clone(), self.rider.clone(), key, self.subject.clone()]
    }
}

pub struct Outbox {
    pub list: List<MailRow>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self { list: List::new(COLUMNS) }
    }
}

impl Component for Outbox {
    fn bindings(&self) -> Vec<&'static [Binding]> {
        vec![KEYS, MOVE, SORT]
    }

    fn run(&mut self, cmd: Cmd) -> Vec<Intent> {
        if self.list.nav(cmd) {
            return Vec::new();
        }
        let Some(m) = self.list.selected_row() else { return Vec::new() };
        match cmd {
            Cmd::Copy => vec![Intent::Copy(m.to.clone())],
            Cmd::Logs if m.rider.is_empty() => {
                vec![Intent::Notice("This message names no rider.".into(), true)]
            }
            Cmd::Logs => vec![Intent::Logs(m.rider.clone())],
            Cmd::Describe => vec![Intent::Describe(
                format!("Message to {}", m.to),
                serde_json::json!({
                    "Timestamp": m.sent, "From": m.from, "To": m.to, "Subject": m.subject,
                    "Rider": m.rider, "Photo": m.photo, "Text": m.body,
                }),
            )],
            _ => Vec::new(),
        }
    }

    fn loaded(&mut self, loaded: &Loaded) -> bool {
        let Loaded::Outbox(result) = loaded else { return false };
        self.list.set(result);
        true
    }

    fn refresh(&self) -> Vec<Effect> {
        vec![Effect::Load(Tab::Outbox)]
    }

    super::list_basics!(list);

    fn select(&mut self, row: usize) {
        if row < self.list.len() {
            self.list.selected = row;
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, _ctx: &mut DrawCtx) -> Drawn {
        let [list, message] = Layout::vertical([Constraint::Percentage(55), Constraint::Fill(1)]).areas(area);
        let drawn = self.list.draw(
            frame,
            list,
            "Outbox",
            &format!("Outbox ({}) — mail the notification function sent", self.list.len()),
            "the outbox",
            "No mail sent yet.",
        );
        if let Some(mail) = self.list.selected_row() {
            let text = format!("From: {}\nTo: {}\nSubject: {}\n\n{}", mail.from, mail.to, mail.subject, mail.body);
            frame.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: false })
                    .block(Block::new().borders(Borders::ALL).title(" Message ")),
                message,
            );
        }
        drawn
    }
}
