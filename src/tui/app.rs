//! The dashboard's state and its one `update` function (the Elm architecture): every key,
//! click and finished background load is an [`Action`]; `update` changes the [`App`] and
//! returns the [`Effect`]s (loads to start) — it never waits on anything itself, so it is
//! tested without a terminal or a network.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::components::executions::Executions;
use super::components::faces::Faces;
use super::components::graph::Graph;
use super::components::lab::Lab;
use super::components::logs::Logs;
use super::components::outbox::Outbox;
use super::components::photos::Photos;
use super::components::riders::Riders;
use super::components::{Cmd, Component, Drawn, GLOBAL, Intent, lookup};
pub use super::lab::Step;
use super::popups::{Answer, Confirm, Popup, Prompt, PromptKind, Question, edit_text};

/// The views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    Lab,
    Executions,
    Graph,
    Faces,
    Photos,
    Riders,
    Outbox,
    Logs,
}

impl Tab {
    pub const ALL: [Tab; 8] =
        [Tab::Lab, Tab::Executions, Tab::Graph, Tab::Faces, Tab::Photos, Tab::Riders, Tab::Outbox, Tab::Logs];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Lab => "Lab",
            Tab::Executions => "Executions",
            Tab::Graph => "Graph",
            Tab::Faces => "Faces",
            Tab::Photos => "Photos",
            Tab::Riders => "Riders",
            Tab::Outbox => "Outbox",
            Tab::Logs => "Logs",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// Data that arrives from a background task.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Loadable<T> {
    #[default]
    NotLoaded,
    Loading,
    Loaded(T),
    /// A sentence for the user saying what went wrong.
    Failed(String),
}

impl<T: Clone> Loadable<T> {
    /// What a load delivered: its rows, or its sentence.
    pub fn from_result(result: &Result<T, String>) -> Self {
        match result {
            Ok(rows) => Loadable::Loaded(rows.clone()),
            Err(e) => Loadable::Failed(e.clone()),
        }
    }
}

impl<T> Loadable<T> {
    /// A load starts: rows already shown stay while it runs; only an empty view says
    /// "loading".
    pub fn mark_loading(&mut self) {
        if !matches!(self, Loadable::Loaded(_)) {
            *self = Loadable::Loading;
        }
    }

    pub fn rows(&self) -> Option<&T> {
        match self {
            Loadable::Loaded(rows) => Some(rows),
            _ => None,
        }
    }
}

/// One step of the workshop and whether it is done, as found on the target.
#[derive(Debug, Clone, PartialEq)]
pub struct LabStep {
    pub step: Step,
    pub title: String,
    pub status: StepStatus,
    /// What was found (or why not), shown beside the step.
    pub detail: String,
    /// The execution this step started last, found on the target.
    pub execution: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Done,
    Todo,
    /// Its execution is running on the target.
    Running,
    /// The target cannot do this step (yet): the detail says why.
    Unavailable,
    /// It ran and ended otherwise than the workshop expects: the detail says how.
    Unexpected,
}

/// A Lab step run from this dashboard: its progress while it runs, then how it ended.
#[derive(Debug, Clone, PartialEq)]
pub enum LabRun {
    Running { lines: Vec<String> },
    Finished { result: Result<super::lab::Outcome, String>, lines: Vec<String> },
}

impl LabRun {
    pub fn lines(&self) -> &[String] {
        match self {
            LabRun::Running { lines } | LabRun::Finished { lines, .. } => lines,
        }
    }
}

/// A path typed in the Photos view, to upload.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UploadForm {
    pub path: String,
    pub error: Option<String>,
}

// The rows the views show are the operations layer's domain types.
pub use crate::ops::{ExecutionDetail, ExecutionRow, FaceRow, FunctionLogs, HistoryRow, MailRow, ObjectRow, RiderRow};

/// What the Graph tab shows: a definition and, with an execution, its history.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphData {
    pub title: String,
    pub definition: serde_json::Value,
    pub execution: Option<ExecutionDetail>,
}

/// A small decoded image (RGB), scaled down in the background.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// Everything a background task can deliver.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    Lab(Result<Vec<LabStep>, String>),
    Executions(Result<Vec<ExecutionRow>, String>),
    Faces(Result<Vec<FaceRow>, String>),
    Photos(Result<Vec<ObjectRow>, String>),
    Riders(Result<Vec<RiderRow>, String>),
    Outbox(Result<Vec<MailRow>, String>),
    Logs(Result<Vec<FunctionLogs>, String>),
    Health(Result<(), String>),
    History(String, Result<ExecutionDetail, String>),
    Graph(Result<GraphData, String>),
    /// Pairs of faces above the threshold: (face, face, similarity).
    Duplicates(Result<Vec<crate::ops::Group>, String>),
    Image(String, Result<Thumb, String>),
    /// An action finished: what it did, or why it could not.
    Done(Result<String, String>),
    /// A line of progress of a running Lab step.
    LabProgress(Step, String),
    /// A Lab step ended: what it did, or why it could not.
    LabDone(Step, Result<super::lab::Outcome, String>),
}

// One action at a time goes through the loop; boxing the loads would cost an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Loaded(Loaded),
    /// Periodic refresh of the current view and the connection health.
    Tick,
}

/// What `update` asks the runtime to do (each runs in a background task).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Load(Tab),
    CheckHealth,
    LoadHistory(String),
    /// The graph of this execution's state machine, or of the newest state machine.
    LoadGraph(Option<String>),
    /// The graph of the state machine of this name.
    LoadMachine(String),
    /// Put this text on the terminal's clipboard (OSC 52); done by the loop, not a task.
    Copy(String),
    Start {
        state_machine: String,
        photo: String,
        user: String,
    },
    Stop(String),
    Rerun(String),
    Redrive(String),
    /// (FaceId, user) of each face to delete.
    DeleteFaces(Vec<(String, String)>),
    FindDuplicates(f32),
    /// An S3 object to preview: "bucket/key".
    LoadImage(String),
    /// Run a step of the Lab (deploy, a test photo, clean-up…).
    RunLabStep(Step),
    /// Upload a file from disk into the rider photo bucket.
    Upload(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    Unknown,
    Up,
    Down(String),
}

/// The execution opened from the Executions list.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailView {
    pub arn: String,
    pub data: Loadable<ExecutionDetail>,
    pub selected: usize,
    /// Scroll of the JSON pane, in lines.
    pub scroll: u16,
    /// Set until the first load placed the cursor (on the failing event, if any).
    pub placed: bool,
    /// The replay (←/→): the graph as it was at the selected event, instead of the table.
    pub replay: bool,
}

impl DetailView {
    /// An execution being opened: its history loads next.
    pub fn opening(arn: String) -> Self {
        Self { arn, data: Loadable::Loading, selected: 0, scroll: 0, placed: false, replay: false }
    }
}

/// The form that starts an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct StartForm {
    /// State machine, photo (a path on disk or a key in the rider photo bucket), user id.
    pub fields: [String; 3],
    pub focus: usize,
    pub error: Option<String>,
}

impl StartForm {
    pub const LABELS: [&'static str; 3] = ["State machine", "Photo (file or key)", "User id"];
}

/// "Find duplicates" in the Faces tab.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicatesView {
    pub threshold: f32,
    pub groups: Loadable<Vec<crate::ops::Group>>,
}

/// The Graph tab's cursor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GraphCursor {
    pub selected: usize,
    pub show_state: bool,
}

/// The statuses the `f` key cycles through in the Executions list.
pub const STATUS_FILTERS: [Option<&str>; 6] =
    [None, Some("RUNNING"), Some("SUCCEEDED"), Some("FAILED"), Some("TIMED_OUT"), Some("ABORTED")];

pub enum ImageSlot {
    Loading,
    Failed(String),
    Ready(Box<ratatui_image::protocol::StatefulProtocol>),
}

/// What the last frame drew, for the mouse: the tab titles' columns and the list's rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Screen {
    /// (tab, first column, last column) of each tab title.
    pub tabs: Vec<(Tab, u16, u16)>,
    pub view: Drawn,
}

pub struct App {
    pub tab: Tab,
    /// The target, as the status bar shows it.
    pub target: String,
    pub health: Health,
    pub lab: Lab,
    pub executions: Executions,
    pub graph: Graph,
    pub faces: Faces,
    pub photos: Photos,
    pub riders: Riders,
    pub outbox: Outbox,
    pub logs: Logs,
    /// What is open over the views; the last one gets the keys.
    pub popups: Vec<Popup>,
    /// The outcome of the last action, as a sentence; `true` when it is an error.
    pub notice: Option<(String, bool)>,
    /// Actions asked for (start, stop, rerun, redrive, delete, upload) whose answer has not
    /// come back yet.
    pub actions_running: usize,
    /// Previews by "bucket/key"; the picker knows the terminal's graphics protocol.
    pub images: HashMap<String, ImageSlot>,
    pub picker: ratatui_image::picker::Picker,
    /// NO_COLOR: draw without colours (bold and reverse still mark things).
    pub no_color: bool,
    pub quit: bool,
    /// What the last frame drew; the loop stores it after each draw.
    pub screen: Screen,
}

impl App {
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            tab: Tab::Lab,
            target: target.into(),
            health: Health::Unknown,
            lab: Lab::default(),
            executions: Executions::default(),
            graph: Graph::default(),
            faces: Faces::default(),
            photos: Photos::default(),
            riders: Riders::default(),
            outbox: Outbox::default(),
            logs: Logs::default(),
            popups: Vec::new(),
            notice: None,
            actions_running: 0,
            images: HashMap::new(),
            picker: ratatui_image::picker::Picker::halfblocks(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            quit: false,
            screen: Screen::default(),
        }
    }

    /// The effects to run when the dashboard opens.
    pub fn start(&mut self) -> Vec<Effect> {
        self.focused_mut().loading();
        vec![Effect::CheckHealth, Effect::Load(self.tab)]
    }

    pub fn component(&self, tab: Tab) -> &dyn Component {
        match tab {
            Tab::Lab => &self.lab,
            Tab::Executions => &self.executions,
            Tab::Graph => &self.graph,
            Tab::Faces => &self.faces,
            Tab::Photos => &self.photos,
            Tab::Riders => &self.riders,
            Tab::Outbox => &self.outbox,
            Tab::Logs => &self.logs,
        }
    }

    pub fn component_mut(&mut self, tab: Tab) -> &mut dyn Component {
        match tab {
            Tab::Lab => &mut self.lab,
            Tab::Executions => &mut self.executions,
            Tab::Graph => &mut self.graph,
            Tab::Faces => &mut self.faces,
            Tab::Photos => &mut self.photos,
            Tab::Riders => &mut self.riders,
            Tab::Outbox => &mut self.outbox,
            Tab::Logs => &mut self.logs,
        }
    }

    /// The view on screen.
    pub fn focused(&self) -> &dyn Component {
        self.component(self.tab)
    }

    fn focused_mut(&mut self) -> &mut dyn Component {
        self.component_mut(self.tab)
    }

    /// The number of rows the current view shows after filtering.
    pub fn visible_rows(&self) -> usize {
        self.focused().len()
    }

    /// The row under the cursor in the current view.
    pub fn selected(&self) -> usize {
        self.focused().selected()
    }

    /// The current view's filter.
    pub fn filter(&self) -> &str {
        self.focused().filter()
    }

    /// The question on screen, if one is.
    pub fn question(&self) -> Option<&Question> {
        match self.popups.last() {
            Some(Popup::Confirm(confirm)) => Some(&confirm.question),
            _ => None,
        }
    }

    /// The prompt being typed (`/` or `:`), if one is.
    pub fn prompt(&self) -> Option<&Prompt> {
        match self.popups.last() {
            Some(Popup::Prompt(prompt)) => Some(prompt),
            _ => None,
        }
    }

    /// What refreshing the current view means.
    fn refresh(&mut self) -> Vec<Effect> {
        let mut effects = vec![Effect::CheckHealth];
        effects.extend(self.focused().refresh());
        effects
    }

    /// `q`: quits at once, unless something this dashboard started is still running, which
    /// quitting would cut off (a Lab step's execution would fail): then it asks first.
    fn ask_to_quit(&mut self) {
        let mut running = self.lab.running();
        if self.actions_running > 0 {
            running.push("an action you asked for".into());
        }
        if running.is_empty() {
            self.quit = true;
        } else {
            self.popups.push(Popup::Confirm(Confirm::new(Question::Quit { running })));
        }
    }

    fn switch_to(&mut self, tab: Tab) -> Vec<Effect> {
        if self.tab == tab {
            return Vec::new();
        }
        // Each view keeps its cursor and its filter: coming back to the Lab, Enter runs the
        // step it was on.
        self.tab = tab;
        self.focused_mut().loading();
        self.refresh()
    }

    /// Carries out what a component asked for.
    fn apply(&mut self, intents: Vec<Intent>) -> Vec<Effect> {
        let mut effects = Vec::new();
        for intent in intents {
            match intent {
                Intent::Effect(effect) => effects.push(effect),
                Intent::Ask(question) => self.popups.push(Popup::Confirm(Confirm::new(question))),
                Intent::Notice(message, error) => self.notice = Some((message, error)),
                Intent::OpenExecution(arn) => {
                    self.graph.show(Some(arn.clone()));
                    let load = self.executions.open(arn);
                    if self.tab == Tab::Executions {
                        effects.extend(load);
                    } else {
                        effects.extend(self.switch_to(Tab::Executions));
                    }
                }
                Intent::Graph(execution) => {
                    self.graph.show(execution);
                    if self.tab == Tab::Graph {
                        effects.extend(self.refresh());
                    } else {
                        effects.extend(self.switch_to(Tab::Graph));
                    }
                }
                Intent::Logs(filter) => {
                    effects.extend(self.switch_to(Tab::Logs));
                    self.logs.set_filter(filter);
                }
                Intent::Copy(text) => {
                    self.notice = Some((format!("Copied {text} (through the terminal's clipboard, OSC 52)."), false));
                    effects.push(Effect::Copy(text));
                }
                Intent::Describe(title, value) => self.popups.push(Popup::Describe { title, value, scroll: 0 }),
                Intent::StartForm(machine) => self.popups.push(Popup::Start(StartForm {
                    fields: [machine, String::new(), String::new()],
                    focus: 1,
                    error: None,
                })),
                Intent::UploadForm => self.popups.push(Popup::Upload(UploadForm::default())),
                Intent::Go(tab) => effects.extend(self.switch_to(tab)),
            }
        }
        effects
    }

    /// The previews the current view shows that are not loaded yet.
    fn preview_effects(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        for key in self.focused().images() {
            if !self.images.contains_key(&key) {
                self.images.insert(key.clone(), ImageSlot::Loading);
                effects.push(Effect::LoadImage(key));
            }
        }
        effects
    }

    /// The names `:` knows: the views, the state machines, the executions.
    fn command_names(&self) -> Vec<String> {
        let (executions, mut machines) = self.executions.names();
        machines.extend((1..=4).map(crate::workshop::WorkshopNames::state_machine));
        machines.sort();
        machines.dedup();
        let mut names: Vec<String> = Tab::ALL.iter().map(|t| t.title().to_lowercase()).collect();
        names.extend(machines);
        names.extend(executions);
        names
    }

    /// `:name` and Enter: a view, a state machine's graph, or an execution's history.
    fn command(&mut self, text: &str) -> Vec<Effect> {
        let name = text.trim();
        if name.is_empty() {
            return Vec::new();
        }
        let lower = name.to_lowercase();
        if let Some(tab) = Tab::ALL.iter().find(|t| {
            let title = t.title().to_lowercase();
            title == lower || (lower.len() >= 2 && title.starts_with(&lower))
        }) {
            return self.switch_to(*tab);
        }
        let (_, mut machines) = self.executions.names();
        machines.extend((1..=4).map(crate::workshop::WorkshopNames::state_machine));
        if let Some(machine) = machines.into_iter().find(|m| m.to_lowercase() == lower) {
            self.graph.show_machine(machine);
            if self.tab == Tab::Graph {
                return self.refresh();
            }
            return self.switch_to(Tab::Graph);
        }
        if let Some(execution) = self.executions.find(name) {
            let arn = execution.arn.clone();
            return self.apply(vec![Intent::OpenExecution(arn)]);
        }
        self.notice = Some((
            format!(
                "No view, state machine or execution is named “{name}”: try :executions, :faces, \
                 :RiderPhotoProcessing-4 or an execution's name (Tab completes)."
            ),
            true,
        ));
        Vec::new()
    }

    /// Tab on the command line: completes what is typed as far as the names that start so
    /// agree, and lists them when there are several.
    fn complete(&mut self, text: &mut String) {
        let lower = text.to_lowercase();
        let matching: Vec<String> =
            self.command_names().into_iter().filter(|n| n.to_lowercase().starts_with(&lower)).collect();
        match matching.as_slice() {
            [] => self.notice = Some((format!("No view, state machine or execution starts with “{text}”."), true)),
            [one] => *text = one.clone(),
            many => {
                let mut common = many[0].clone();
                for m in &many[1..] {
                    let same = common.chars().zip(m.chars()).take_while(|(a, b)| a == b).count();
                    common = common.chars().take(same).collect();
                }
                if common.chars().count() > text.chars().count() {
                    *text = common;
                }
                let shown: Vec<&str> = many.iter().take(6).map(String::as_str).collect();
                let more = if many.len() > 6 { format!(" and {} more", many.len() - 6) } else { String::new() };
                self.notice = Some((format!("Matches: {}{more}.", shown.join(", ")), false));
            }
        }
    }
}

/// Applies one action; returns what to run next.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let mut effects = match action {
        Action::Key(key) => on_key(app, key),
        Action::Mouse(mouse) => on_mouse(app, mouse),
        Action::Tick => app.refresh(),
        Action::Loaded(loaded) => on_loaded(app, loaded),
    };
    effects.extend(app.preview_effects());
    for effect in &effects {
        match effect {
            // A Lab step shows as running from the moment it is asked for, confirmed or not.
            Effect::RunLabStep(step) => app.lab.started(*step),
            Effect::Start { .. }
            | Effect::Stop(_)
            | Effect::Rerun(_)
            | Effect::Redrive(_)
            | Effect::DeleteFaces(_)
            | Effect::Upload(_) => app.actions_running += 1,
            _ => {}
        }
    }
    effects
}

fn on_loaded(app: &mut App, loaded: Loaded) -> Vec<Effect> {
    match loaded {
        Loaded::Health(Ok(())) => app.health = Health::Up,
        Loaded::Health(Err(e)) => app.health = Health::Down(e),
        Loaded::Image(key, result) => {
            let slot = match result {
                Ok(thumb) => match image::RgbImage::from_raw(thumb.width, thumb.height, thumb.rgb) {
                    Some(img) => {
                        ImageSlot::Ready(Box::new(app.picker.new_resize_protocol(image::DynamicImage::ImageRgb8(img))))
                    }
                    None => ImageSlot::Failed("the preview's pixels do not match its size".into()),
                },
                Err(e) => ImageSlot::Failed(e),
            };
            app.images.insert(key, slot);
        }
        Loaded::LabDone(step, ref result) => {
            // The whole story is in the Lab's pane; the notice only says which step ended.
            app.notice = Some(match result {
                Ok(outcome) if outcome.as_expected => {
                    (format!("“{}” finished: its outcome is in the Lab.", step.title()), false)
                }
                Ok(_) => (format!("“{}” ended otherwise than the workshop expects: see the Lab.", step.title()), true),
                Err(_) => (format!("“{}” failed: the reason is in the Lab.", step.title()), true),
            });
            app.lab.loaded(&loaded);
            return app.refresh();
        }
        Loaded::Done(result) => {
            app.actions_running = app.actions_running.saturating_sub(1);
            let ok = result.is_ok();
            app.notice = Some(match result {
                Ok(message) => (message, false),
                Err(message) => (message, true),
            });
            if ok {
                let mut effects = app.refresh();
                if let Some(view) = &app.faces.duplicates {
                    // Deleted faces: look again with the same threshold.
                    effects.push(Effect::FindDuplicates(view.threshold));
                }
                return effects;
            }
        }
        Loaded::History(_, Err(ref e)) if app.executions.detail.as_ref().is_some_and(|d| d.data.rows().is_some()) => {
            // A failed refresh keeps the history shown and says why.
            app.notice = Some((e.clone(), true));
        }
        loaded => {
            // Every view that shows this data takes it (riders are the Faces view's too).
            for tab in Tab::ALL {
                app.component_mut(tab).loaded(&loaded);
            }
        }
    }
    Vec::new()
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        app.quit = true;
        return Vec::new();
    }
    if let Some(popup) = app.popups.pop() {
        return on_popup_key(app, popup, key);
    }
    let groups = app.focused().bindings();
    if let Some(cmd) = lookup(&groups, &key) {
        let intents = app.focused_mut().run(cmd);
        return app.apply(intents);
    }
    let Some(cmd) = lookup(&[GLOBAL], &key) else { return Vec::new() };
    match cmd {
        Cmd::NextView => return app.switch_to(Tab::ALL[(app.tab.index() + 1) % Tab::ALL.len()]),
        Cmd::PrevView => return app.switch_to(Tab::ALL[(app.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]),
        Cmd::GoView => {
            if let KeyCode::Char(c @ '1'..='8') = key.code {
                return app.switch_to(Tab::ALL[c as usize - '1' as usize]);
            }
        }
        Cmd::CommandLine => app.popups.push(Popup::Prompt(Prompt {
            kind: PromptKind::Command,
            text: String::new(),
            before: String::new(),
        })),
        Cmd::Filter if app.focused().filters() => {
            let before = app.filter().to_string();
            app.popups.push(Popup::Prompt(Prompt { kind: PromptKind::Filter, text: before.clone(), before }));
        }
        Cmd::Filter => {
            app.notice = Some((format!("The {} view has no rows to filter.", app.tab.title()), true));
        }
        Cmd::Refresh => return app.refresh(),
        Cmd::Dismiss => {
            app.focused_mut().set_filter(String::new());
            app.notice = None;
        }
        Cmd::Help => {
            let popup = Popup::Help { view: app.tab.title(), groups: app.focused().bindings(), scroll: 0 };
            app.popups.push(popup);
        }
        Cmd::Quit => app.ask_to_quit(),
        Cmd::QuitNow => app.quit = true,
        _ => {}
    }
    Vec::new()
}

/// A key for the popup on top (taken off the stack; put back while it stays open).
fn on_popup_key(app: &mut App, popup: Popup, key: KeyEvent) -> Vec<Effect> {
    let scrolled = |scroll: u16| match key.code {
        KeyCode::Down | KeyCode::Char('j') => Some(scroll.saturating_add(1)),
        KeyCode::Up | KeyCode::Char('k') => Some(scroll.saturating_sub(1)),
        KeyCode::PageDown => Some(scroll.saturating_add(10)),
        KeyCode::PageUp => Some(scroll.saturating_sub(10)),
        KeyCode::Home => Some(0),
        _ => None,
    };
    match popup {
        // Scrolling keys scroll; any other key closes it.
        Popup::Help { view, groups, scroll } => {
            if let Some(scroll) = scrolled(scroll) {
                app.popups.push(Popup::Help { view, groups, scroll });
            }
        }
        Popup::Describe { title, value, scroll } => {
            if let Some(scroll) = scrolled(scroll) {
                app.popups.push(Popup::Describe { title, value, scroll });
            }
        }
        Popup::Confirm(mut confirm) => match confirm.key(key) {
            None => app.popups.push(Popup::Confirm(confirm)),
            Some(false) => {}
            Some(true) => match confirm.question.answer() {
                Answer::Run(effect) => return vec![effect],
                Answer::Quit => app.quit = true,
            },
        },
        Popup::Start(mut form) => match key.code {
            KeyCode::Esc => {}
            KeyCode::Tab | KeyCode::Down => {
                form.focus = (form.focus + 1) % 3;
                app.popups.push(Popup::Start(form));
            }
            KeyCode::BackTab | KeyCode::Up => {
                form.focus = (form.focus + 2) % 3;
                app.popups.push(Popup::Start(form));
            }
            KeyCode::Enter => {
                let [machine, photo, user] = form.fields.clone().map(|f| f.trim().to_string());
                if let Some(missing) =
                    [&machine, &photo, &user].iter().position(|f| f.is_empty()).map(|i| StartForm::LABELS[i])
                {
                    form.error = Some(format!("{missing} is required."));
                    app.popups.push(Popup::Start(form));
                    return Vec::new();
                }
                return vec![Effect::Start { state_machine: machine, photo, user }];
            }
            _ => {
                edit_text(&mut form.fields[form.focus], key);
                app.popups.push(Popup::Start(form));
            }
        },
        Popup::Upload(mut form) => match key.code {
            KeyCode::Esc => {}
            KeyCode::Enter => {
                let path = form.path.trim().to_string();
                if path.is_empty() {
                    form.error = Some("Type the path of a photo on this machine (JPEG or PNG).".into());
                    app.popups.push(Popup::Upload(form));
                    return Vec::new();
                }
                return vec![Effect::Upload(path)];
            }
            _ => {
                edit_text(&mut form.path, key);
                app.popups.push(Popup::Upload(form));
            }
        },
        Popup::Prompt(mut prompt) => match (prompt.kind, key.code) {
            (PromptKind::Filter, KeyCode::Esc) => app.focused_mut().set_filter(String::new()),
            (PromptKind::Filter, KeyCode::Enter) => {}
            (PromptKind::Command, KeyCode::Esc) => {}
            (PromptKind::Command, KeyCode::Enter) => return app.command(&prompt.text),
            (PromptKind::Command, KeyCode::Tab) => {
                app.complete(&mut prompt.text);
                app.popups.push(Popup::Prompt(prompt));
            }
            (kind, _) => {
                edit_text(&mut prompt.text, key);
                if kind == PromptKind::Filter {
                    app.focused_mut().set_filter(prompt.text.clone());
                }
                app.popups.push(Popup::Prompt(prompt));
            }
        },
    }
    Vec::new()
}

fn on_mouse(app: &mut App, mouse: MouseEvent) -> Vec<Effect> {
    match mouse.kind {
        MouseEventKind::ScrollDown if app.popups.is_empty() => {
            let intents = app.focused_mut().run(Cmd::Down);
            return app.apply(intents);
        }
        MouseEventKind::ScrollUp if app.popups.is_empty() => {
            let intents = app.focused_mut().run(Cmd::Up);
            return app.apply(intents);
        }
        MouseEventKind::Down(MouseButton::Left) if mouse.row == 0 => {
            let hit = app.screen.tabs.iter().find(|(_, from, to)| (*from..=*to).contains(&mouse.column)).map(|t| t.0);
            if let Some(tab) = hit {
                app.popups.clear();
                return app.switch_to(tab);
            }
        }
        MouseEventKind::Down(MouseButton::Left) if app.popups.is_empty() => {
            if let Some(list) = app.screen.view.list
                && mouse.row >= list.top
                && ((mouse.row - list.top) as usize) < list.rows
            {
                let row = list.first + (mouse.row - list.top) as usize;
                app.focused_mut().select(row);
            }
        }
        _ => {}
    }
    Vec::new()
}
#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> Action {
        Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn ctrl(c: char) -> Action {
        Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
    }

    fn photos(n: usize) -> Loaded {
        Loaded::Photos(Ok((0..n)
            .map(|i| ObjectRow { bucket: "b".into(), key: format!("photo-{i}.jpg"), size: 1, modified: String::new() })
            .collect()))
    }

    #[test]
    fn number_keys_switch_tabs_and_load_the_view() {
        let mut app = App::new("local");
        let effects = update(&mut app, key(KeyCode::Char('5')));
        assert_eq!(app.tab, Tab::Photos);
        assert_eq!(effects, vec![Effect::CheckHealth, Effect::Load(Tab::Photos)]);
        assert_eq!(app.photos.list.data(), &Loadable::Loading);
    }

    #[test]
    fn tab_wraps_around() {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::BackTab));
        assert_eq!(app.tab, Tab::Logs);
        update(&mut app, key(KeyCode::Tab));
        assert_eq!(app.tab, Tab::Lab);
    }

    #[test]
    fn selection_stays_within_the_rows() {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::Char('5')));
        update(&mut app, Action::Loaded(photos(3)));
        update(&mut app, key(KeyCode::End));
        assert_eq!(app.selected(), 2);
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.selected(), 2);
        update(&mut app, key(KeyCode::PageUp));
        assert_eq!(app.selected(), 0);
        update(&mut app, Action::Loaded(photos(0)));
        assert_eq!(app.selected(), 0);
    }

    #[test]
    fn filter_narrows_rows_and_esc_clears_it() {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::Char('5')));
        update(&mut app, Action::Loaded(photos(12)));
        update(&mut app, key(KeyCode::Char('/')));
        for c in "PHOTO-1".chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        assert_eq!(app.visible_rows(), 3, "photo-1, photo-10, photo-11");
        update(&mut app, key(KeyCode::Esc));
        assert_eq!(app.visible_rows(), 12);
        assert!(app.prompt().is_none());
    }

    #[test]
    fn a_failed_load_is_kept_as_a_message() {
        let mut app = App::new("local");
        update(&mut app, Action::Loaded(Loaded::Riders(Err("The riders table does not exist yet.".into()))));
        assert_eq!(app.riders.list.data(), &Loadable::Failed("The riders table does not exist yet.".into()));
    }

    #[test]
    fn help_opens_with_question_mark_and_any_key_closes_it() {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::Char('?')));
        assert!(matches!(app.popups.last(), Some(Popup::Help { .. })));
        update(&mut app, key(KeyCode::Char('x')));
        assert!(app.popups.is_empty());
        assert!(!app.quit);
    }

    #[test]
    fn q_and_ctrl_c_quit() {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::Char('q')));
        assert!(app.quit);
        let mut app = App::new("local");
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(app.quit);
    }

    #[test]
    fn q_asks_first_while_a_lab_step_runs_and_no_is_the_default() {
        let mut app = on_lab();
        assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![Effect::RunLabStep(Step::Collection)]);
        update(&mut app, key(KeyCode::Char('q')));
        assert!(!app.quit);
        let asked = app.question().map(Question::text).unwrap_or_default();
        assert!(asked.contains("still running") && asked.contains("Create the collection"), "{asked}");
        update(&mut app, key(KeyCode::Enter));
        assert!(!app.quit, "Enter is No");
        update(&mut app, key(KeyCode::Char('q')));
        assert!(update(&mut app, key(KeyCode::Char('y'))).is_empty());
        assert!(app.quit);
    }

    #[test]
    fn r_never_refreshes_f5_and_ctrl_r_do_and_each_view_keeps_its_cursor() {
        let mut app = on_lab();
        assert!(update(&mut app, key(KeyCode::Char('r'))).is_empty());
        assert!(update(&mut app, key(KeyCode::F(5))).contains(&Effect::Load(Tab::Lab)));
        let ctrl_r = Action::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL));
        assert!(update(&mut app, ctrl_r).contains(&Effect::Load(Tab::Lab)));
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Char('2')));
        update(&mut app, key(KeyCode::Char('1')));
        assert_eq!(app.selected(), 2, "back on the Lab, the cursor is where it was");
    }

    fn execution(name: &str, status: &str) -> ExecutionRow {
        ExecutionRow {
            name: name.into(),
            state_machine: "RiderPhotoProcessing-4".into(),
            status: status.into(),
            started: "2026-11-25 05:00:00".into(),
            duration: "1.0 s".into(),
            arn: format!("arn:aws:states:us-east-1:000000000000:execution:RiderPhotoProcessing-4:{name}"),
            user: format!("user_{name}"),
            photo: "1_happy_face.jpg".into(),
            verdict: Some(crate::ops::failure::sample(status)),
        }
    }

    fn event(id: i64, kind: &str, state: &str) -> HistoryRow {
        HistoryRow {
            id,
            previous: id - 1,
            kind: kind.into(),
            state: state.into(),
            time: "2026-11-25 05:00:00".into(),
            elapsed_ms: 5,
            json: serde_json::json!({"name": state}),
            function: kind.starts_with("LambdaFunction").then(|| "wildrydes-face-detection".to_string()),
        }
    }

    fn on_executions(rows: Vec<ExecutionRow>) -> App {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::Char('2')));
        update(&mut app, Action::Loaded(Loaded::Executions(Ok(rows))));
        app
    }

    #[test]
    fn enter_opens_the_execution_and_a_failed_one_opens_on_its_failing_event() {
        let mut app = on_executions(vec![execution("bad", "FAILED")]);
        let effects = update(&mut app, key(KeyCode::Enter));
        let arn = execution("bad", "FAILED").arn;
        assert_eq!(effects, vec![Effect::LoadHistory(arn.clone())]);
        let detail = ExecutionDetail {
            arn: arn.clone(),
            name: "bad".into(),
            status: "FAILED".into(),
            state_machine: "RiderPhotoProcessing-4".into(),
            events: vec![
                event(1, "ExecutionStarted", ""),
                event(2, "TaskStateEntered", "FaceDetection"),
                event(3, "LambdaFunctionFailed", "FaceDetection"),
                event(4, "TaskStateEntered", "PhotoDoesNotMeetRequirement"),
                event(5, "TaskStateExited", "PhotoDoesNotMeetRequirement"),
                event(6, "ExecutionSucceeded", ""),
            ],
            definition: None,
        };
        update(&mut app, Action::Loaded(Loaded::History(arn.clone(), Ok(detail.clone()))));
        assert_eq!(app.executions.detail.as_ref().map(|d| d.selected), Some(2), "the LambdaFunctionFailed event");
        // A refresh keeps the cursor where the user moved it.
        update(&mut app, key(KeyCode::Char('j')));
        update(&mut app, Action::Loaded(Loaded::History(arn, Ok(detail))));
        assert_eq!(app.executions.detail.as_ref().map(|d| d.selected), Some(3));
        update(&mut app, key(KeyCode::Char('l')));
        assert_eq!(app.notice.as_ref().map(|n| n.1), Some(true), "event 4 ran no function");
        update(&mut app, key(KeyCode::Up));
        let effects = update(&mut app, key(KeyCode::Char('l')));
        assert_eq!(app.tab, Tab::Logs);
        assert_eq!(app.filter(), "wildrydes-face-detection");
        assert!(effects.contains(&Effect::Load(Tab::Logs)));
    }

    #[test]
    fn esc_closes_the_execution() {
        let mut app = on_executions(vec![execution("a", "SUCCEEDED")]);
        update(&mut app, key(KeyCode::Enter));
        assert!(app.executions.detail.is_some());
        update(&mut app, key(KeyCode::Esc));
        assert!(app.executions.detail.is_none());
        assert_eq!(app.tab, Tab::Executions);
    }

    #[test]
    fn f_cycles_the_status_filter() {
        let mut app =
            on_executions(vec![execution("a", "SUCCEEDED"), execution("b", "FAILED"), execution("c", "RUNNING")]);
        assert_eq!(app.visible_rows(), 3);
        update(&mut app, key(KeyCode::Char('f')));
        assert_eq!(app.executions.list.shown().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["c"]);
        update(&mut app, key(KeyCode::Char('f')));
        update(&mut app, key(KeyCode::Char('f')));
        assert_eq!(app.executions.list.shown().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["b"]);
        for _ in 0..3 {
            update(&mut app, key(KeyCode::Char('f')));
        }
        assert_eq!(app.visible_rows(), 3, "back to any status");
    }

    #[test]
    fn the_text_filter_also_matches_the_failing_state() {
        let mut app = on_executions(vec![execution("a", "SUCCEEDED"), execution("b", "FAILED")]);
        app.executions.set_filter("photodoesnot".into());
        assert_eq!(app.visible_rows(), 1);
    }

    #[test]
    fn stop_asks_first_and_only_for_running_executions() {
        let mut app = on_executions(vec![execution("done", "SUCCEEDED"), execution("busy", "RUNNING")]);
        assert!(update(&mut app, key(KeyCode::Char('x'))).is_empty());
        assert!(app.question().is_none());
        assert_eq!(app.notice.as_ref().map(|n| n.1), Some(true));
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Char('x')));
        assert!(app.question().is_some_and(|q| q.text().contains("busy")));
        assert!(update(&mut app, key(KeyCode::Char('n'))).is_empty(), "n cancels");
        update(&mut app, key(KeyCode::Char('x')));
        assert_eq!(update(&mut app, key(KeyCode::Char('y'))), vec![Effect::Stop(execution("busy", "RUNNING").arn)]);
    }

    #[test]
    fn rerun_and_redrive_ask_first_with_no_as_the_default_then_act_on_the_selected_execution() {
        let mut app = on_executions(vec![execution("bad", "FAILED")]);
        let arn = execution("bad", "FAILED").arn;
        for (k, effect) in [('r', Effect::Rerun(arn.clone())), ('R', Effect::Redrive(arn.clone()))] {
            assert!(update(&mut app, key(KeyCode::Char(k))).is_empty(), "{k} asks first");
            assert!(app.question().is_some_and(|q| q.text().contains("bad")));
            assert!(update(&mut app, key(KeyCode::Enter)).is_empty(), "Enter is No");
            update(&mut app, key(KeyCode::Char(k)));
            assert_eq!(update(&mut app, key(KeyCode::Char('y'))), vec![effect]);
        }
    }

    #[test]
    fn the_start_form_needs_every_field_and_sends_them() {
        let mut app = on_executions(vec![]);
        update(&mut app, key(KeyCode::Char('s')));
        let Some(Popup::Start(form)) = app.popups.last().cloned() else { panic!("no form") };
        assert_eq!(form.fields[0], "RiderPhotoProcessing-4");
        assert_eq!(form.focus, 1, "the cursor starts on the photo");
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
        assert!(
            matches!(app.popups.last(), Some(Popup::Start(f)) if f.error.as_ref().is_some_and(|e| e.contains("Photo")))
        );
        for c in "1_happy_face.jpg".chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        update(&mut app, key(KeyCode::Tab));
        for c in "user_a".chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        // Typing q in the form types, it does not quit.
        assert!(!app.quit);
        let effects = update(&mut app, key(KeyCode::Enter));
        assert_eq!(
            effects,
            vec![Effect::Start {
                state_machine: "RiderPhotoProcessing-4".into(),
                photo: "1_happy_face.jpg".into(),
                user: "user_a".into()
            }]
        );
        assert!(app.popups.is_empty());
    }

    fn on_faces() -> App {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::Char('4')));
        let faces = vec![
            FaceRow { face_id: "f1".into(), user: "user_a".into(), confidence: 99.9, ..Default::default() },
            FaceRow { face_id: "f2".into(), user: "user_b".into(), confidence: 99.8, ..Default::default() },
        ];
        update(&mut app, Action::Loaded(Loaded::Faces(Ok(faces))));
        app
    }

    #[test]
    fn deleting_a_face_names_the_user_in_the_confirmation() {
        let mut app = on_faces();
        update(&mut app, key(KeyCode::Down));
        update(&mut app, ctrl('d'));
        let asked = app.question().map(Question::text).unwrap_or_else(|| panic!("no confirmation"));
        assert!(asked.contains("user user_b"), "{asked}");
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty(), "Enter is the default: No");
        assert!(app.question().is_none());
        update(&mut app, key(KeyCode::Delete));
        assert_eq!(
            update(&mut app, key(KeyCode::Char('y'))),
            vec![Effect::DeleteFaces(vec![("f2".into(), "user_b".into())])]
        );
    }

    #[test]
    fn find_duplicates_groups_adjusts_its_threshold_and_deletes_the_extras_once_confirmed() {
        let mut app = on_faces();
        assert_eq!(update(&mut app, key(KeyCode::Char('D'))), vec![Effect::FindDuplicates(80.0)]);
        assert_eq!(update(&mut app, key(KeyCode::Char('+'))), vec![Effect::FindDuplicates(81.0)]);
        let faces = app.faces.list.all().to_vec();
        let groups = crate::ops::faces::group(&faces, &[("f1".into(), "f2".into(), 93.0)], &[]);
        update(&mut app, Action::Loaded(Loaded::Duplicates(Ok(groups))));
        let groups = app.faces.duplicates.as_ref().and_then(|d| d.groups.rows().cloned()).unwrap_or_default();
        assert_eq!(groups.len(), 1);
        update(&mut app, key(KeyCode::Enter));
        let asked = app.question().map(Question::text).unwrap_or_else(|| panic!("no confirmation"));
        assert!(asked.contains("user_b"), "{asked}");
        assert_eq!(
            update(&mut app, key(KeyCode::Char('y'))),
            vec![Effect::DeleteFaces(vec![("f2".into(), "user_b".into())])]
        );
        let after = update(&mut app, Action::Loaded(Loaded::Done(Ok("Deleted 1 face(s) of user_b.".into()))));
        assert!(after.contains(&Effect::FindDuplicates(81.0)), "looks again after deleting: {after:?}");
        update(&mut app, key(KeyCode::Esc));
        assert!(app.faces.duplicates.is_none());
    }

    #[test]
    fn a_failed_action_is_a_sentence_in_place_and_changes_nothing_else() {
        let mut app = on_faces();
        let effects =
            update(&mut app, Action::Loaded(Loaded::Done(Err("Redriving x failed: UnknownOperationException".into()))));
        assert!(effects.is_empty());
        assert_eq!(app.notice, Some(("Redriving x failed: UnknownOperationException".into(), true)));
        assert_eq!(app.visible_rows(), 2);
    }

    #[test]
    fn the_graph_tab_loads_the_focused_execution_and_refreshes_it_on_each_tick() {
        let mut app = on_executions(vec![execution("a", "RUNNING")]);
        let arn = execution("a", "RUNNING").arn;
        let effects = update(&mut app, key(KeyCode::Char('o')));
        assert_eq!(app.tab, Tab::Graph);
        assert!(effects.contains(&Effect::LoadGraph(Some(arn.clone()))));
        assert!(update(&mut app, Action::Tick).contains(&Effect::LoadGraph(Some(arn))));
    }

    #[test]
    fn selecting_a_photo_loads_its_preview_once() {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::Char('5')));
        let effects = update(&mut app, Action::Loaded(photos(2)));
        assert_eq!(effects, vec![Effect::LoadImage("b/photo-0.jpg".into())]);
        assert!(update(&mut app, Action::Tick).iter().all(|e| !matches!(e, Effect::LoadImage(_))), "not again");
        let thumb = Thumb { width: 2, height: 2, rgb: vec![255; 12] };
        update(&mut app, Action::Loaded(Loaded::Image("b/photo-0.jpg".into(), Ok(thumb))));
        assert!(matches!(app.images.get("b/photo-0.jpg"), Some(ImageSlot::Ready(_))));
    }

    fn on_lab() -> App {
        let mut app = App::new("local");
        let steps = Step::ALL
            .into_iter()
            .map(|step| LabStep {
                step,
                title: step.title(),
                status: StepStatus::Todo,
                detail: String::new(),
                execution: None,
            })
            .collect();
        update(&mut app, Action::Loaded(Loaded::Lab(Ok(steps))));
        app
    }

    #[test]
    fn enter_runs_a_lab_step_once_shows_its_progress_and_e_opens_its_execution() {
        let mut app = on_lab();
        for _ in 0..3 {
            update(&mut app, key(KeyCode::Down));
        }
        assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![Effect::RunLabStep(Step::Photo(0))]);
        assert!(matches!(app.lab.runs.get(&Step::Photo(0)), Some(LabRun::Running { .. })));
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty(), "not twice at once");
        assert!(app.notice.as_ref().is_some_and(|(m, error)| *error && m.contains("still running")));
        update(&mut app, Action::Loaded(Loaded::LabProgress(Step::Photo(0), "→ FaceDetection".into())));
        assert_eq!(app.lab.runs.get(&Step::Photo(0)).map(|r| r.lines().to_vec()), Some(vec!["→ FaceDetection".into()]));
        let arn = execution("happy", "SUCCEEDED").arn;
        let outcome =
            super::super::lab::Outcome { message: "SUCCEEDED".into(), execution: Some(arn.clone()), as_expected: true };
        let effects = update(&mut app, Action::Loaded(Loaded::LabDone(Step::Photo(0), Ok(outcome))));
        assert!(effects.contains(&Effect::Load(Tab::Lab)), "the Lab reads the target again: {effects:?}");
        assert!(matches!(app.lab.runs.get(&Step::Photo(0)), Some(LabRun::Finished { result: Ok(_), .. })));
        let effects = update(&mut app, key(KeyCode::Char('e')));
        assert_eq!(app.tab, Tab::Executions);
        assert_eq!(app.executions.detail.as_ref().map(|d| d.arn.clone()), Some(arn.clone()));
        assert!(effects.contains(&Effect::LoadHistory(arn)));
    }

    #[test]
    fn a_lab_step_without_an_execution_says_so_and_a_failure_stays_on_the_step() {
        let mut app = on_lab();
        update(&mut app, key(KeyCode::Char('e')));
        assert!(app.notice.as_ref().is_some_and(|(m, error)| *error && m.contains("no execution")));
        assert_eq!(app.tab, Tab::Lab);
        update(&mut app, key(KeyCode::Enter));
        update(&mut app, Action::Loaded(Loaded::LabDone(Step::Collection, Err("Cannot reach the endpoint.".into()))));
        assert!(matches!(
            app.lab.runs.get(&Step::Collection),
            Some(LabRun::Finished { result: Err(e), .. }) if e == "Cannot reach the endpoint."
        ));
        assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![Effect::RunLabStep(Step::Collection)], "runs again");
    }

    #[test]
    fn clean_up_runs_only_once_confirmed_and_the_results_step_opens_faces() {
        let mut app = on_lab();
        update(&mut app, key(KeyCode::End));
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
        assert!(app.question().is_some_and(|q| q.text().contains("Delete every workshop resource")));
        assert!(update(&mut app, key(KeyCode::Esc)).is_empty());
        assert!(app.question().is_none() && !app.lab.runs.contains_key(&Step::Cleanup), "Esc: nothing ran");
        update(&mut app, key(KeyCode::Enter));
        assert!(update(&mut app, key(KeyCode::Char('y'))).is_empty(), "y is not enough: the word is typed");
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty(), "y then Enter is not the word");
        assert!(app.question().is_none() && !app.lab.runs.contains_key(&Step::Cleanup));
        update(&mut app, key(KeyCode::Enter));
        for c in "delete".chars() {
            assert!(update(&mut app, key(KeyCode::Char(c))).is_empty());
        }
        assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![Effect::RunLabStep(Step::Cleanup)]);
        assert!(matches!(app.lab.runs.get(&Step::Cleanup), Some(LabRun::Running { .. })));
        update(&mut app, key(KeyCode::Up));
        let effects = update(&mut app, key(KeyCode::Enter));
        assert_eq!(app.tab, Tab::Faces);
        assert!(effects.contains(&Effect::Load(Tab::Faces)));
    }

    #[test]
    fn the_upload_form_needs_a_path_and_sends_it() {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::Char('5')));
        update(&mut app, key(KeyCode::Char('u')));
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
        assert!(
            matches!(app.popups.last(), Some(Popup::Upload(u)) if u.error.as_ref().is_some_and(|e| e.contains("path")))
        );
        for c in "/tmp/q.jpg".chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        assert!(!app.quit, "q types into the form");
        assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![Effect::Upload("/tmp/q.jpg".into())]);
        assert!(app.popups.is_empty());
    }

    #[test]
    fn enter_on_a_face_loads_it_cut_from_its_source_photo_and_esc_goes_back() {
        let mut app = on_faces();
        let mut faces = app.faces.list.all().to_vec();
        faces[0].bounding_box = Some([0.25, 0.5, 0.25, 0.25]);
        update(&mut app, Action::Loaded(Loaded::Faces(Ok(faces))));
        let rider =
            RiderRow { user: "user_a".into(), face_id: "f1".into(), photo: "p/1.jpg".into(), thumbnail: String::new() };
        update(&mut app, Action::Loaded(Loaded::Riders(Ok(vec![rider]))));
        let effects = update(&mut app, key(KeyCode::Enter));
        assert_eq!(
            effects,
            vec![Effect::LoadImage("p/1.jpg#face=0.25,0.5,0.25,0.25".into()), Effect::LoadImage("p/1.jpg".into())]
        );
        assert!(app.faces.opened().is_some_and(|(f, photo)| f.face_id == "f1" && photo.as_deref() == Some("p/1.jpg")));
        update(&mut app, key(KeyCode::Esc));
        assert!(app.faces.open.is_none());
        assert_eq!(app.tab, Tab::Faces);
    }

    #[test]
    fn clicking_a_tab_title_switches_to_it() {
        let mut app = App::new("local");
        app.screen.tabs = vec![(Tab::Lab, 0, 5), (Tab::Executions, 6, 18)];
        let click = MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 10,
            row: 0,
            modifiers: KeyModifiers::NONE,
        };
        update(&mut app, Action::Mouse(click));
        assert_eq!(app.tab, Tab::Executions);
    }
}
