//! The Executions view: the executions of the workshop's state machines with who, which
//! photo and how each came out (from `ops`, which decides the outcome once), and one opened
//! execution's history (drawn by `detail`).

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};

use super::list::{Column, List, Record, SortKey, col, flex};
use super::{Binding, Cmd, Component, DrawCtx, Drawn, Intent, Key, MOVE, SORT, bind_of};
use crate::tui::app::{DetailView, Effect, ExecutionRow, Loadable, Loaded, STATUS_FILTERS, Tab};
use crate::tui::popups::Question;
use crate::tui::view::status_color;

const COLUMNS: &[Column] = &[
    col("Name", 0),
    col("State machine", 5),
    col("Status", 1),
    col("Started", 6),
    col("Duration", 7),
    col("User", 2),
    col("Photo", 4),
    flex("Outcome", 3).whole_before(6),
];
const STATUS: usize = 2;

const KEYS: &[Binding] = &[
    bind_of(&[Key::of(KeyCode::Enter)], "Enter", "open the execution's history", Cmd::Open),
    bind_of(&[Key::ch('o')], "o", "show the execution in the Graph", Cmd::Graph),
    bind_of(&[Key::ch('l')], "l", "the logs of the execution's user", Cmd::Logs),
    bind_of(&[Key::ch('c')], "c", "copy the execution's ARN", Cmd::Copy),
    bind_of(&[Key::ch('d')], "d", "describe the execution", Cmd::Describe),
    bind_of(&[Key::ch('f')], "f", "cycle the status filter", Cmd::StatusFilter),
    bind_of(&[Key::ch('s')], "s", "start an execution", Cmd::Start),
    bind_of(&[Key::ch('x')], "x", "stop the execution (asks)", Cmd::Stop),
    bind_of(&[Key::ch('r')], "r", "rerun: a new execution with the same input (asks)", Cmd::Rerun),
    bind_of(&[Key::ch('R')], "R", "redrive from the state that failed (asks)", Cmd::Redrive),
];

const DETAIL_KEYS: &[Binding] = &[
    bind_of(
        &[Key::of(KeyCode::Esc), Key::of(KeyCode::Backspace)],
        "Esc",
        "back (from the replay, to the list)",
        Cmd::Back,
    ),
    bind_of(&[Key::of(KeyCode::Left)], "←", "replay: the event before, the graph as it was then", Cmd::ReplayBack),
    bind_of(&[Key::of(KeyCode::Right)], "→", "replay: the event after, the graph as it was then", Cmd::ReplayOn),
    bind_of(&[Key::ch('J')], "J", "scroll the event's JSON down", Cmd::ScrollDown),
    bind_of(&[Key::ch('K')], "K", "scroll the event's JSON up", Cmd::ScrollUp),
    bind_of(&[Key::ch('l')], "l", "the logs of the function the event ran", Cmd::Logs),
    bind_of(&[Key::ch('o')], "o", "show the execution in the Graph", Cmd::Graph),
    bind_of(&[Key::ch('c')], "c", "copy the execution's ARN", Cmd::Copy),
    bind_of(&[Key::ch('d')], "d", "describe the state machine's definition (ASL)", Cmd::Describe),
];

impl Record for ExecutionRow {
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.state_machine.clone(),
            self.status.clone(),
            self.started.clone(),
            self.duration.clone(),
            self.user.clone(),
            self.photo.clone(),
            self.outcome(),
        ]
    }

    fn style(&self, column: usize) -> Style {
        match column {
            STATUS => Style::new().fg(status_color(&self.status)),
            7 => Style::new().fg(outcome_color(self)),
            _ => Style::new(),
        }
    }

    fn sort_key(&self, column: usize) -> SortKey {
        match column {
            4 => SortKey::Num(self.duration.trim_end_matches(" s").parse().unwrap_or(f64::MAX)),
            c => SortKey::Text(self.cells()[c].to_lowercase()),
        }
    }
}

/// Registered green, refused yellow, failed red, unknown and running plain.
fn outcome_color(e: &ExecutionRow) -> Color {
    match &e.verdict {
        Some(crate::ops::Verdict::Succeeded) => Color::Green,
        Some(crate::ops::Verdict::Refused { .. }) => Color::Yellow,
        Some(crate::ops::Verdict::Failed { .. }) => Color::Red,
        _ => Color::Reset,
    }
}

pub struct Executions {
    pub list: List<ExecutionRow>,
    /// Index into [`STATUS_FILTERS`].
    pub status_filter: usize,
    /// The execution opened from the list.
    pub detail: Option<DetailView>,
}

impl Default for Executions {
    fn default() -> Self {
        Self { list: List::new(COLUMNS), status_filter: 0, detail: None }
    }
}

impl Executions {
    /// Opens an execution's history; it loads next.
    pub fn open(&mut self, arn: String) -> Vec<Effect> {
        self.detail = Some(DetailView::opening(arn.clone()));
        vec![Effect::LoadHistory(arn)]
    }

    /// The names the `:` command line knows: executions and their state machines.
    pub fn names(&self) -> (Vec<String>, Vec<String>) {
        let mut machines: Vec<String> = self.list.all().iter().map(|e| e.state_machine.clone()).collect();
        machines.sort();
        machines.dedup();
        (self.list.all().iter().map(|e| e.name.clone()).collect(), machines)
    }

    /// The execution named so (or the only one whose name starts so).
    pub fn find(&self, name: &str) -> Option<&ExecutionRow> {
        let all = self.list.all();
        all.iter().find(|e| e.name == name).or_else(|| {
            let mut starting = all.iter().filter(|e| e.name.starts_with(name));
            let first = starting.next();
            if starting.next().is_some() { None } else { first }
        })
    }

    fn ask(&self, cmd: Cmd) -> Vec<Intent> {
        let Some(row) = self.list.selected_row() else { return Vec::new() };
        let (name, machine, arn) = (row.name.clone(), row.state_machine.clone(), row.arn.clone());
        let question = match cmd {
            Cmd::Stop if row.status != "RUNNING" => {
                let message = format!("{} is {}: only a running execution can be stopped.", row.name, row.status);
                return vec![Intent::Notice(message, true)];
            }
            Cmd::Stop => Question::Stop { name, machine, arn },
            Cmd::Rerun => Question::Rerun { name, machine, arn },
            _ => Question::Redrive { name, machine, arn },
        };
        vec![Intent::Ask(question)]
    }

    fn run_detail(&mut self, cmd: Cmd) -> Vec<Intent> {
        let Some(detail) = self.detail.as_mut() else { return Vec::new() };
        let events = detail.data.rows().map_or(0, |d| d.events.len());
        if let Some(to) = super::moved(cmd, detail.selected, events) {
            detail.selected = to;
            detail.scroll = 0;
            return Vec::new();
        }
        match cmd {
            Cmd::ScrollDown => detail.scroll = detail.scroll.saturating_add(1),
            Cmd::ScrollUp => detail.scroll = detail.scroll.saturating_sub(1),
            Cmd::Back if detail.replay => detail.replay = false,
            Cmd::Back => self.detail = None,
            Cmd::ReplayBack | Cmd::ReplayOn => crate::tui::detail::replay_key(detail, cmd == Cmd::ReplayOn),
            Cmd::Graph => return vec![Intent::Graph(Some(detail.arn.clone()))],
            Cmd::Copy => return vec![Intent::Copy(detail.arn.clone())],
            Cmd::Logs => {
                // From a Task event to the logs of the function it ran.
                let event = detail.data.rows().and_then(|d| d.events.get(detail.selected));
                return match event.and_then(|e| e.function.clone()) {
                    Some(function) => vec![Intent::Logs(function)],
                    None => {
                        vec![Intent::Notice("This event ran no Lambda function: pick a Task's event.".into(), true)]
                    }
                };
            }
            Cmd::Describe => {
                let data = detail.data.rows();
                return match data.and_then(|d| d.definition.clone().map(|def| (d.state_machine.clone(), def))) {
                    Some((machine, definition)) => vec![Intent::Describe(format!("{machine} (ASL)"), definition)],
                    None => vec![Intent::Notice(
                        "The definition of this execution's state machine is not loaded.".into(),
                        true,
                    )],
                };
            }
            _ => {}
        }
        Vec::new()
    }
}

impl Component for Executions {
    fn bindings(&self) -> Vec<&'static [Binding]> {
        if self.detail.is_some() { vec![DETAIL_KEYS, MOVE] } else { vec![KEYS, MOVE, SORT] }
    }

    fn run(&mut self, cmd: Cmd) -> Vec<Intent> {
        if self.detail.is_some() {
            return self.run_detail(cmd);
        }
        if self.list.nav(cmd) {
            return Vec::new();
        }
        let row = self.list.selected_row().cloned();
        match (cmd, row) {
            (Cmd::StatusFilter, _) => {
                self.status_filter = (self.status_filter + 1) % STATUS_FILTERS.len();
                let only = STATUS_FILTERS[self.status_filter].map(|s| (STATUS, s.to_string()));
                self.list.set_only(only);
                Vec::new()
            }
            (Cmd::Start, row) => {
                let machine =
                    row.map(|e| e.state_machine).unwrap_or_else(|| crate::workshop::WorkshopNames::state_machine(4));
                vec![Intent::StartForm(machine)]
            }
            (Cmd::Stop | Cmd::Rerun | Cmd::Redrive, Some(_)) => self.ask(cmd),
            (Cmd::Open, Some(row)) => vec![Intent::OpenExecution(row.arn)],
            (Cmd::Graph, Some(row)) => vec![Intent::Graph(Some(row.arn))],
            (Cmd::Copy, Some(row)) => vec![Intent::Copy(row.arn)],
            (Cmd::Logs, Some(row)) if row.user.is_empty() => {
                vec![Intent::Notice(format!("{} names no user: its input is not the workshop's.", row.name), true)]
            }
            (Cmd::Logs, Some(row)) => vec![Intent::Logs(row.user)],
            (Cmd::Describe, Some(row)) => vec![Intent::Describe(
                format!("Execution {}", row.name),
                serde_json::json!({
                    "name": row.name,
                    "executionArn": row.arn,
                    "stateMachine": row.state_machine,
                    "status": row.status,
                    "started": row.started,
                    "duration": row.duration,
                    "userId": row.user,
                    "photo": row.photo,
                    "outcome": row.outcome(),
                }),
            )],
            _ => Vec::new(),
        }
    }

    fn loaded(&mut self, loaded: &Loaded) -> bool {
        match loaded {
            Loaded::Executions(result) => self.list.set(result),
            Loaded::History(arn, result) => {
                let Some(detail) = self.detail.as_mut().filter(|d| &d.arn == arn) else { return true };
                match result {
                    Ok(data) => {
                        if !detail.placed {
                            // A failed execution opens on its failing event.
                            detail.selected = crate::ops::failure::failing_event(&data.events).unwrap_or(0);
                            detail.placed = true;
                        }
                        detail.selected = detail.selected.min(data.events.len().saturating_sub(1));
                        detail.data = Loadable::Loaded(data.clone());
                    }
                    // Keep the history already shown when a refresh fails.
                    Err(e) if !matches!(detail.data, Loadable::Loaded(_)) => detail.data = Loadable::Failed(e.clone()),
                    Err(_) => {}
                }
            }
            _ => return false,
        }
        true
    }

    fn refresh(&self) -> Vec<Effect> {
        let mut effects = vec![Effect::Load(Tab::Executions)];
        if let Some(detail) = &self.detail {
            effects.push(Effect::LoadHistory(detail.arn.clone()));
        }
        effects
    }

    super::list_basics!(list);

    fn select(&mut self, row: usize) {
        if self.detail.is_none() && row < self.list.len() {
            self.list.selected = row;
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, _ctx: &mut DrawCtx) -> Drawn {
        if let Some(detail) = &self.detail {
            crate::tui::detail::draw_detail(detail, frame, area);
            return Drawn::default();
        }
        let status = STATUS_FILTERS.get(self.status_filter).copied().flatten().unwrap_or("any status");
        self.list.draw(
            frame,
            area,
            "Executions",
            &format!("Executions ({}, {status}) — Enter open · s start · ? all keys", self.list.len()),
            "executions",
            "No executions here. Start one with s, or from the Lab view; f changes the status filter.",
        )
    }
}
