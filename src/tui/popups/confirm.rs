//! Every question the dashboard asks before it does something that cannot be taken back,
//! with its text in one place. "No" is the default: only `y` says yes (Enter, Esc, `n` and
//! any other key say no), and what cannot be undone at all asks for a word to be typed.

use crossterm::event::{KeyCode, KeyEvent};

use crate::tui::app::{Effect, Step};

/// What is asked, with what it needs to say and to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    Stop {
        name: String,
        machine: String,
        arn: String,
    },
    Rerun {
        name: String,
        machine: String,
        arn: String,
    },
    Redrive {
        name: String,
        machine: String,
        arn: String,
    },
    DeleteFace {
        face_id: String,
        user: String,
    },
    /// The extra faces of duplicate groups: (FaceId, user) each, and the riders table rows
    /// that go with them.
    DeleteDuplicates {
        extras: Vec<(String, String)>,
        riders: Vec<String>,
    },
    Cleanup,
    /// Quitting while these Lab steps run (their executions would fail).
    Quit {
        running: Vec<String>,
    },
}

/// What "yes" does.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Run(Effect),
    Quit,
}

impl Question {
    /// The question as the user reads it.
    pub fn text(&self) -> String {
        match self {
            Question::Stop { name, machine, .. } => format!("Stop the execution {name} of {machine}?"),
            Question::Rerun { name, machine, .. } => {
                format!("Rerun {name} of {machine}: start a new execution with the same input?")
            }
            Question::Redrive { name, machine, .. } => {
                format!("Redrive {name} of {machine} from the state that failed?")
            }
            Question::DeleteFace { face_id, user } => {
                let who = if user.is_empty() { "a face with no user id".to_string() } else { format!("user {user}") };
                format!(
                    "Delete the face of {who} (FaceId {face_id}) from the collection? A riders table row that \
                     points at it is deleted with it."
                )
            }
            Question::DeleteDuplicates { extras, riders } => {
                let mut users: Vec<&str> = extras.iter().map(|(_, u)| u.as_str()).collect();
                users.sort();
                users.dedup();
                let rows = if riders.is_empty() {
                    String::new()
                } else {
                    format!(" and the riders table rows of {}", riders.join(", "))
                };
                let faces = if extras.len() == 1 { "1 face".to_string() } else { format!("{} faces", extras.len()) };
                format!("Delete {faces} of {}{rows}? Each group keeps the face shown as keep.", users.join(", "))
            }
            Question::Cleanup => "Delete every workshop resource: the state machines, the functions, the riders \
                                  table, both buckets with their photos, and the collection with its faces? This \
                                  cannot be undone."
                .to_string(),
            Question::Quit { running } => {
                let (verb, it) = if running.len() == 1 { ("is", "it") } else { ("are", "them") };
                format!(
                    "{} {verb} still running: quitting stops {it}, and an execution a Lab step started fails. \
                     Quit anyway?",
                    running.join(", ")
                )
            }
        }
    }

    /// The word to type instead of `y`, for what cannot be undone.
    pub fn word(&self) -> Option<&'static str> {
        matches!(self, Question::Cleanup).then_some("delete")
    }

    pub fn answer(&self) -> Answer {
        match self {
            Question::Stop { arn, .. } => Answer::Run(Effect::Stop(arn.clone())),
            Question::Rerun { arn, .. } => Answer::Run(Effect::Rerun(arn.clone())),
            Question::Redrive { arn, .. } => Answer::Run(Effect::Redrive(arn.clone())),
            Question::DeleteFace { face_id, user } => {
                Answer::Run(Effect::DeleteFaces(vec![(face_id.clone(), user.clone())]))
            }
            Question::DeleteDuplicates { extras, .. } => Answer::Run(Effect::DeleteFaces(extras.clone())),
            Question::Cleanup => Answer::Run(Effect::RunLabStep(Step::Cleanup)),
            Question::Quit { .. } => Answer::Quit,
        }
    }

    /// How the answer is given, as the popup's last line says it.
    pub fn how_to_answer(&self) -> String {
        match self.word() {
            Some(word) => format!("Type {word} and press Enter to go ahead; Esc cancels."),
            None => "y: yes · n, Esc or Enter: no (the default)".to_string(),
        }
    }
}

/// A question on screen and what has been typed of its word.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub question: Question,
    pub typed: String,
}

impl Confirm {
    pub fn new(question: Question) -> Self {
        Self { question, typed: String::new() }
    }

    /// A key while the question is open: `None` while it is still being answered (a word
    /// being typed), else whether the answer is yes.
    pub fn key(&mut self, key: KeyEvent) -> Option<bool> {
        match (self.question.word(), key.code) {
            (Some(word), KeyCode::Enter) => Some(self.typed == word),
            (Some(_), KeyCode::Esc) => Some(false),
            (Some(_), _) => {
                super::edit_text(&mut self.typed, key);
                None
            }
            (None, KeyCode::Char('y') | KeyCode::Char('Y')) => Some(true),
            // Anything else is no: Enter included, so "No" is the default.
            (None, _) => Some(false),
        }
    }
}
