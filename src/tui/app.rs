//! The dashboard's state and its one `update` function (the Elm architecture): every key,
//! click and finished background load is an [`Action`]; `update` changes the [`App`] and
//! returns the [`Effect`]s (loads to start) — it never waits on anything itself, so it is
//! tested without a terminal or a network.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

pub use super::lab::Step;

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

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// Data that arrives from a background task.
#[derive(Debug, Clone, PartialEq)]
pub enum Loadable<T> {
    NotLoaded,
    Loading,
    Loaded(T),
    /// A sentence for the user saying what went wrong.
    Failed(String),
}

impl<T> Loadable<T> {
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

/// A question that must be answered before an action runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub message: String,
    /// What "yes" does: an effect, or `None` to quit the dashboard.
    pub effect: Option<Effect>,
    /// A word the user must type (and Enter) instead of `y`, for what cannot be undone.
    pub word: Option<&'static str>,
    /// What has been typed of `word` so far.
    pub typed: String,
}

impl Confirm {
    /// A question answered with `y`; any other key, Enter included, is "No".
    pub fn ask(message: impl Into<String>, effect: Effect) -> Self {
        Self { message: message.into(), effect: Some(effect), word: None, typed: String::new() }
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

pub struct App {
    pub tab: Tab,
    /// The target, as the status bar shows it.
    pub target: String,
    pub health: Health,
    pub show_help: bool,
    /// The text filter of the current list, and whether it is being typed.
    pub filter: String,
    pub editing_filter: bool,
    pub status_filter: usize,
    pub selected: usize,
    pub lab: Loadable<Vec<LabStep>>,
    pub executions: Loadable<Vec<ExecutionRow>>,
    pub faces: Loadable<Vec<FaceRow>>,
    pub photos: Loadable<Vec<ObjectRow>>,
    pub riders: Loadable<Vec<RiderRow>>,
    pub outbox: Loadable<Vec<MailRow>>,
    pub logs: Loadable<Vec<FunctionLogs>>,
    pub graph: Loadable<GraphData>,
    pub graph_cursor: GraphCursor,
    /// The execution the Graph shows (the last one opened or selected).
    pub focus_execution: Option<String>,
    pub detail: Option<DetailView>,
    pub confirm: Option<Confirm>,
    /// Where the cursor was in each view left, by view.
    pub cursors: std::collections::HashMap<Tab, usize>,
    pub form: Option<StartForm>,
    pub duplicates: Option<DuplicatesView>,
    /// Lab steps run from this dashboard, by step.
    pub lab_runs: std::collections::HashMap<Step, LabRun>,
    /// The face shown large in Faces (its FaceId).
    pub face_open: Option<String>,
    pub upload: Option<UploadForm>,
    /// The outcome of the last action, as a sentence; `true` when it is an error.
    pub notice: Option<(String, bool)>,
    /// Previews by "bucket/key"; the picker knows the terminal's graphics protocol.
    pub images: std::collections::HashMap<String, ImageSlot>,
    pub picker: ratatui_image::picker::Picker,
    /// NO_COLOR: draw without colours (bold and reverse still mark things).
    pub no_color: bool,
    pub quit: bool,
    /// Where the tab titles were drawn, for mouse clicks: (tab, first column, last column).
    pub tab_hitboxes: Vec<(Tab, u16, u16)>,
    /// The index of the first list row on screen (lists show a window of their rows).
    pub list_first: usize,
}

impl App {
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            tab: Tab::Lab,
            target: target.into(),
            health: Health::Unknown,
            show_help: false,
            filter: String::new(),
            editing_filter: false,
            status_filter: 0,
            selected: 0,
            lab: Loadable::NotLoaded,
            executions: Loadable::NotLoaded,
            faces: Loadable::NotLoaded,
            photos: Loadable::NotLoaded,
            riders: Loadable::NotLoaded,
            outbox: Loadable::NotLoaded,
            logs: Loadable::NotLoaded,
            graph: Loadable::NotLoaded,
            graph_cursor: GraphCursor::default(),
            focus_execution: None,
            detail: None,
            confirm: None,
            cursors: Default::default(),
            form: None,
            duplicates: None,
            lab_runs: std::collections::HashMap::new(),
            face_open: None,
            upload: None,
            notice: None,
            images: std::collections::HashMap::new(),
            picker: ratatui_image::picker::Picker::halfblocks(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            quit: false,
            tab_hitboxes: Vec::new(),
            list_first: 0,
        }
    }

    /// The effects to run when the dashboard opens.
    pub fn start(&mut self) -> Vec<Effect> {
        self.mark_loading(self.tab);
        vec![Effect::CheckHealth, Effect::Load(self.tab)]
    }

    /// The executions the list shows: status filter, then text filter.
    pub fn filtered_executions(&self) -> Vec<&ExecutionRow> {
        let status = STATUS_FILTERS.get(self.status_filter).copied().flatten();
        self.executions
            .rows()
            .into_iter()
            .flatten()
            .filter(|e| status.is_none_or(|s| e.status == s))
            .filter(|e| {
                self.matches_filter(&format!(
                    "{} {} {} {} {} {}",
                    e.name,
                    e.state_machine,
                    e.status,
                    e.user,
                    e.photo,
                    e.outcome()
                ))
            })
            .collect()
    }

    pub fn filtered_faces(&self) -> Vec<&FaceRow> {
        self.faces
            .rows()
            .into_iter()
            .flatten()
            .filter(|x| self.matches_filter(&format!("{} {}", x.face_id, x.user)))
            .collect()
    }

    pub fn filtered_photos(&self) -> Vec<&ObjectRow> {
        self.photos
            .rows()
            .into_iter()
            .flatten()
            .filter(|x| self.matches_filter(&format!("{} {}", x.bucket, x.key)))
            .collect()
    }

    /// The number of rows the current view shows after filtering.
    pub fn visible_rows(&self) -> usize {
        let f = |text: &str| self.matches_filter(text);
        match self.tab {
            Tab::Lab => self.lab.rows().map_or(0, Vec::len),
            Tab::Executions => self.filtered_executions().len(),
            Tab::Graph => self.graph_states().len(),
            Tab::Faces => self.filtered_faces().len(),
            Tab::Photos => self.filtered_photos().len(),
            Tab::Riders => {
                self.riders.rows().map_or(0, |r| r.iter().filter(|x| f(&format!("{} {}", x.user, x.face_id))).count())
            }
            Tab::Outbox => self
                .outbox
                .rows()
                .map_or(0, |r| r.iter().filter(|x| f(&format!("{} {} {}", x.to, x.subject, x.body))).count()),
            Tab::Logs => self.logs.rows().map_or(0, Vec::len),
        }
    }

    /// The states of the graph, in the order the cursor walks them.
    pub fn graph_states(&self) -> Vec<String> {
        let Some(data) = self.graph.rows() else { return Vec::new() };
        match super::graph::layout(&data.definition) {
            Ok(g) => g.all_boxes().into_iter().map(|(n, _, _)| n.name.clone()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Case-insensitive substring match against the filter.
    pub fn matches_filter(&self, text: &str) -> bool {
        self.filter.is_empty() || text.to_lowercase().contains(&self.filter.to_lowercase())
    }

    fn mark_loading(&mut self, tab: Tab) {
        fn mark<T>(l: &mut Loadable<T>) {
            // Keep showing old rows while a refresh runs; only an empty view says "loading".
            if !matches!(l, Loadable::Loaded(_)) {
                *l = Loadable::Loading;
            }
        }
        match tab {
            Tab::Lab => mark(&mut self.lab),
            Tab::Executions => mark(&mut self.executions),
            Tab::Graph => mark(&mut self.graph),
            Tab::Faces => mark(&mut self.faces),
            Tab::Photos => mark(&mut self.photos),
            Tab::Riders => mark(&mut self.riders),
            Tab::Outbox => mark(&mut self.outbox),
            Tab::Logs => mark(&mut self.logs),
        }
    }

    /// What refreshing the current view means.
    fn refresh(&mut self) -> Vec<Effect> {
        self.mark_loading(self.tab);
        let mut effects = vec![Effect::CheckHealth];
        match self.tab {
            Tab::Graph => effects.push(Effect::LoadGraph(self.focus_execution.clone())),
            // Faces show the rider's thumbnail, found through the riders table.
            Tab::Faces => effects.extend([Effect::Load(Tab::Faces), Effect::Load(Tab::Riders)]),
            tab => effects.push(Effect::Load(tab)),
        }
        if let Some(detail) = &self.detail
            && self.tab == Tab::Executions
        {
            effects.push(Effect::LoadHistory(detail.arn.clone()));
        }
        effects.extend(self.preview_effect());
        effects
    }

    /// `q`: quits at once, unless something this dashboard started is still running, which
    /// quitting would cut off (a Lab step's execution would fail): then it asks first.
    fn ask_to_quit(&mut self) {
        let running: Vec<String> = self
            .lab_runs
            .iter()
            .filter(|(_, run)| matches!(run, LabRun::Running { .. }))
            .map(|(step, _)| format!("“{}”", step.title()))
            .collect();
        if running.is_empty() {
            self.quit = true;
            return;
        }
        self.confirm = Some(Confirm {
            effect: None,
            ..Confirm::ask(
                format!(
                    "{} is still running: quitting stops it, and the execution it started fails. Quit anyway?",
                    running.join(", ")
                ),
                Effect::CheckHealth,
            )
        });
    }

    fn switch_to(&mut self, tab: Tab) -> Vec<Effect> {
        if self.tab == tab {
            return Vec::new();
        }
        // Each view keeps its cursor: coming back to the Lab, Enter runs the step it was on.
        self.cursors.insert(self.tab, self.selected);
        self.tab = tab;
        self.selected = self.cursors.get(&tab).copied().unwrap_or(0);
        self.filter.clear();
        self.editing_filter = false;
        self.face_open = None;
        if tab == Tab::Graph {
            self.graph_cursor = GraphCursor::default();
        }
        self.refresh()
    }

    fn move_selection(&mut self, delta: isize) {
        let rows = self.visible_rows();
        if rows == 0 {
            self.selected = 0;
            return;
        }
        let max = rows as isize - 1;
        self.selected = (self.selected as isize + delta).clamp(0, max) as usize;
        if self.tab == Tab::Graph {
            self.graph_cursor.selected = self.selected;
        }
    }

    fn selected_execution(&self) -> Option<ExecutionRow> {
        self.filtered_executions().get(self.selected).map(|e| (*e).clone())
    }

    /// The Lab step under the cursor.
    pub fn selected_lab_step(&self) -> Option<&LabStep> {
        self.lab.rows()?.get(self.selected)
    }

    /// The execution a Lab step started: the one this dashboard just ran, else the newest
    /// one found on the target.
    pub fn lab_execution(&self, step: &LabStep) -> Option<String> {
        let ran = match self.lab_runs.get(&step.step) {
            Some(LabRun::Finished { result: Ok(outcome), .. }) => outcome.execution.clone(),
            _ => None,
        };
        ran.or_else(|| step.execution.clone())
    }

    /// Enter on a Lab step: run it in the background (clean-up asks first); the results
    /// step opens the Faces view.
    fn run_lab_step(&mut self, step: Step) -> Vec<Effect> {
        if matches!(self.lab_runs.get(&step), Some(LabRun::Running { .. })) {
            self.notice = Some((format!("“{}” is still running: its progress is below the list.", step.title()), true));
            return Vec::new();
        }
        match step {
            Step::Results => self.switch_to(Tab::Faces),
            Step::Cleanup => {
                self.confirm = Some(Confirm {
                    word: Some("delete"),
                    ..Confirm::ask(
                        "Delete every workshop resource: the state machines, the functions, the riders table, both \
                         buckets with their photos, and the collection with its faces? This cannot be undone.",
                        Effect::RunLabStep(Step::Cleanup),
                    )
                });
                Vec::new()
            }
            step => vec![Effect::RunLabStep(step)],
        }
    }

    /// Opens an execution's history in the Executions view.
    fn open_execution(&mut self, arn: String) -> Vec<Effect> {
        self.focus_execution = Some(arn.clone());
        self.detail = Some(DetailView::opening(arn.clone()));
        if self.tab == Tab::Executions {
            return vec![Effect::LoadHistory(arn)];
        }
        self.switch_to(Tab::Executions)
    }

    fn selected_face(&self) -> Option<FaceRow> {
        self.filtered_faces().get(self.selected).map(|f| (*f).clone())
    }

    /// The S3 object ("bucket/key") the current row previews, if any.
    pub fn preview_key(&self) -> Option<String> {
        match self.tab {
            Tab::Photos => self.filtered_photos().get(self.selected).map(|o| format!("{}/{}", o.bucket, o.key)),
            Tab::Faces => {
                let face = self.selected_face()?;
                let rider = self.riders.rows()?.iter().find(|r| r.user == face.user)?;
                (!rider.thumbnail.is_empty()).then(|| rider.thumbnail.clone())
            }
            _ => None,
        }
    }

    /// The face opened with Enter in Faces, and its source photo ("bucket/key") from the
    /// rider's item that names it.
    pub fn opened_face(&self) -> Option<(FaceRow, Option<String>)> {
        let id = self.face_open.as_ref()?;
        let face = self.faces.rows()?.iter().find(|f| &f.face_id == id)?.clone();
        let riders = self.riders.rows().map(Vec::as_slice).unwrap_or_default();
        let rider =
            riders.iter().find(|r| r.face_id == face.face_id).or_else(|| riders.iter().find(|r| r.user == face.user));
        let photo = rider.map(|r| r.photo.clone()).filter(|p| p.len() > 1);
        Some((face, photo))
    }

    /// The image key of the face cut out of its photo: the photo's key and the box.
    pub fn face_crop_key(photo: &str, face: &FaceRow) -> Option<String> {
        let [l, t, w, h] = face.bounding_box?;
        Some(format!("{photo}#face={l},{t},{w},{h}"))
    }

    fn preview_effect(&mut self) -> Vec<Effect> {
        let mut keys: Vec<String> = self.preview_key().into_iter().collect();
        if self.tab == Tab::Faces
            && let Some((face, Some(photo))) = self.opened_face()
        {
            keys.extend(Self::face_crop_key(&photo, &face));
            keys.push(photo);
        }
        let mut effects = Vec::new();
        for key in keys {
            if !self.images.contains_key(&key) {
                self.images.insert(key.clone(), ImageSlot::Loading);
                effects.push(Effect::LoadImage(key));
            }
        }
        effects
    }
}

/// Applies one action; returns what to run next.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let mut effects = match action {
        Action::Key(key) => on_key(app, key),
        Action::Mouse(mouse) => on_mouse(app, mouse),
        Action::Tick => app.refresh(),
        Action::Loaded(loaded) => {
            let effects = on_loaded(app, loaded);
            // Rows may have shrunk under the cursor.
            app.move_selection(0);
            effects
        }
    };
    effects.extend(app.preview_effect());
    // A Lab step shows as running from the moment it is asked for, confirmed or not.
    for effect in &effects {
        if let Effect::RunLabStep(step) = effect {
            app.lab_runs.insert(*step, LabRun::Running { lines: Vec::new() });
        }
    }
    effects
}

fn on_loaded(app: &mut App, loaded: Loaded) -> Vec<Effect> {
    fn set<T>(slot: &mut Loadable<T>, result: Result<T, String>) {
        *slot = match result {
            Ok(rows) => Loadable::Loaded(rows),
            Err(message) => Loadable::Failed(message),
        };
    }
    match loaded {
        Loaded::Lab(r) => set(&mut app.lab, r),
        Loaded::Executions(r) => set(&mut app.executions, r),
        Loaded::Faces(r) => set(&mut app.faces, r),
        Loaded::Photos(r) => set(&mut app.photos, r),
        Loaded::Riders(r) => set(&mut app.riders, r),
        Loaded::Outbox(r) => set(&mut app.outbox, r),
        Loaded::Logs(r) => set(&mut app.logs, r),
        Loaded::Graph(r) => set(&mut app.graph, r),
        Loaded::Health(Ok(())) => app.health = Health::Up,
        Loaded::Health(Err(e)) => app.health = Health::Down(e),
        Loaded::History(arn, result) => {
            if let Some(detail) = app.detail.as_mut().filter(|d| d.arn == arn) {
                match result {
                    Ok(data) => {
                        if !detail.placed {
                            // A failed execution opens on its failing event.
                            detail.selected = crate::ops::failure::failing_event(&data.events).unwrap_or(0);
                            detail.placed = true;
                        }
                        detail.selected = detail.selected.min(data.events.len().saturating_sub(1));
                        detail.data = Loadable::Loaded(data);
                    }
                    // Keep the history already shown when a refresh fails.
                    Err(e) if !matches!(detail.data, Loadable::Loaded(_)) => detail.data = Loadable::Failed(e),
                    Err(e) => app.notice = Some((e, true)),
                }
            }
        }
        Loaded::Duplicates(result) => {
            if let Some(view) = app.duplicates.as_mut() {
                view.groups = match result {
                    Ok(groups) => Loadable::Loaded(groups),
                    Err(e) => Loadable::Failed(e),
                };
            }
        }
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
        Loaded::LabProgress(step, line) => {
            if let Some(LabRun::Running { lines }) = app.lab_runs.get_mut(&step) {
                lines.push(line);
                // The pane shows the last lines; a long deploy need not keep them all.
                if lines.len() > 200 {
                    lines.remove(0);
                }
            }
        }
        Loaded::LabDone(step, result) => {
            let lines = app.lab_runs.remove(&step).map(|run| run.lines().to_vec()).unwrap_or_default();
            // The whole story is in the Lab's pane; the notice only says which step ended.
            app.notice = Some(match &result {
                Ok(_) => (format!("“{}” finished: its outcome is in the Lab.", step.title()), false),
                Err(_) => (format!("“{}” failed: the reason is in the Lab.", step.title()), true),
            });
            app.lab_runs.insert(step, LabRun::Finished { result, lines });
            return app.refresh();
        }
        Loaded::Done(result) => {
            let ok = result.is_ok();
            app.notice = Some(match result {
                Ok(message) => (message, false),
                Err(message) => (message, true),
            });
            if ok {
                if app.duplicates.is_some() {
                    // Deleted faces: look again with the same threshold.
                    let threshold = app.duplicates.as_ref().map_or(80.0, |d| d.threshold);
                    let mut effects = app.refresh();
                    effects.push(Effect::FindDuplicates(threshold));
                    return effects;
                }
                return app.refresh();
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
    if app.form.is_some() {
        return on_form_key(app, key);
    }
    if app.upload.is_some() {
        return on_upload_key(app, key);
    }
    if let Some(mut confirm) = app.confirm.take() {
        let yes = match (confirm.word, key.code) {
            // A word to type: typing it and Enter is yes; Esc or Enter on anything else is no.
            (Some(word), KeyCode::Enter) => confirm.typed == word,
            (Some(_), KeyCode::Esc) => false,
            (Some(_), _) => {
                edit_text(&mut confirm.typed, key);
                app.confirm = Some(confirm);
                return Vec::new();
            }
            (None, KeyCode::Char('y') | KeyCode::Char('Y')) => true,
            // Anything else cancels: Enter included, so "No" is the default.
            (None, _) => false,
        };
        return match (yes, confirm.effect) {
            (true, Some(effect)) => vec![effect],
            (true, None) => {
                app.quit = true;
                Vec::new()
            }
            (false, _) => Vec::new(),
        };
    }
    if app.editing_filter {
        match key.code {
            KeyCode::Esc => {
                app.filter.clear();
                app.editing_filter = false;
            }
            KeyCode::Enter => app.editing_filter = false,
            _ => edit_text(&mut app.filter, key),
        }
        app.move_selection(0);
        return Vec::new();
    }
    if app.show_help {
        // Any key closes the help; `q` still quits.
        app.show_help = false;
        if key.code == KeyCode::Char('q') {
            app.quit = true;
        }
        return Vec::new();
    }
    if app.tab == Tab::Executions
        && app.detail.is_some()
        && let Some(effects) = on_detail_key(app, key)
    {
        return effects;
    }
    if app.tab == Tab::Faces
        && app.duplicates.is_some()
        && let Some(effects) = on_duplicates_key(app, key)
    {
        return effects;
    }
    if let Some(effects) = on_tab_key(app, key) {
        return effects;
    }
    match key.code {
        KeyCode::Char('q') => app.ask_to_quit(),
        KeyCode::Char('?') => app.show_help = true,
        KeyCode::Esc => {
            app.filter.clear();
            app.notice = None;
        }
        KeyCode::Char('/') => {
            app.editing_filter = true;
            app.selected = 0;
        }
        KeyCode::Tab | KeyCode::Right | KeyCode::Char('l') => {
            let next = Tab::ALL[(app.tab.index() + 1) % Tab::ALL.len()];
            return app.switch_to(next);
        }
        KeyCode::BackTab | KeyCode::Left | KeyCode::Char('h') => {
            let prev = Tab::ALL[(app.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()];
            return app.switch_to(prev);
        }
        KeyCode::Char(c @ '1'..='9') => {
            let index = c as usize - '1' as usize;
            if let Some(tab) = Tab::ALL.get(index) {
                return app.switch_to(*tab);
            }
        }
        KeyCode::Down | KeyCode::Char('j') => app.move_selection(1),
        KeyCode::Up | KeyCode::Char('k') => app.move_selection(-1),
        KeyCode::PageDown => app.move_selection(10),
        KeyCode::PageUp => app.move_selection(-10),
        KeyCode::Home | KeyCode::Char('g') => app.move_selection(-(isize::MAX / 2)),
        KeyCode::End | KeyCode::Char('G') => app.move_selection(isize::MAX / 2),
        // Not `r`: on Executions it reruns, and one key must not mean both.
        KeyCode::F(5) => return app.refresh(),
        KeyCode::Char('r') if key.modifiers.contains(KeyModifiers::CONTROL) => return app.refresh(),
        _ => {}
    }
    Vec::new()
}

/// Keys that mean something only in the current tab; `None` lets the global keys run.
fn on_tab_key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    match (app.tab, key.code) {
        (Tab::Lab, KeyCode::Enter) => {
            let step = app.selected_lab_step()?.step;
            Some(app.run_lab_step(step))
        }
        (Tab::Lab, KeyCode::Char('a')) => Some(super::lab::start_everything(app)),
        (Tab::Lab, KeyCode::Char('e')) => {
            let step = app.selected_lab_step()?.clone();
            match app.lab_execution(&step) {
                Some(arn) => Some(app.open_execution(arn)),
                None => {
                    app.notice = Some((format!("“{}” has started no execution yet: Enter runs it.", step.title), true));
                    Some(Vec::new())
                }
            }
        }
        (Tab::Executions, KeyCode::Enter) => {
            let row = app.selected_execution()?;
            Some(app.open_execution(row.arn))
        }
        (Tab::Photos, KeyCode::Char('u')) => {
            app.upload = Some(UploadForm::default());
            Some(Vec::new())
        }
        (Tab::Executions, KeyCode::Char('f')) => {
            app.status_filter = (app.status_filter + 1) % STATUS_FILTERS.len();
            app.selected = 0;
            Some(Vec::new())
        }
        (Tab::Executions, KeyCode::Char('s')) => {
            let machine = app
                .selected_execution()
                .map(|e| e.state_machine)
                .unwrap_or_else(|| crate::workshop::WorkshopNames::state_machine(4));
            app.form = Some(StartForm { fields: [machine, String::new(), String::new()], focus: 1, error: None });
            Some(Vec::new())
        }
        (Tab::Executions, KeyCode::Char(c @ ('x' | 'r' | 'R'))) => {
            let row = app.selected_execution()?;
            match c {
                'x' if row.status != "RUNNING" => {
                    app.notice = Some((
                        format!("{} is {}: only a running execution can be stopped.", row.name, row.status),
                        true,
                    ));
                }
                'x' => {
                    app.confirm = Some(Confirm::ask(
                        format!("Stop the execution {} of {}?", row.name, row.state_machine),
                        Effect::Stop(row.arn),
                    ))
                }
                'r' => {
                    app.confirm = Some(Confirm::ask(
                        format!(
                            "Rerun {} of {}: start a new execution with the same input?",
                            row.name, row.state_machine
                        ),
                        Effect::Rerun(row.arn),
                    ))
                }
                _ => {
                    app.confirm = Some(Confirm::ask(
                        format!("Redrive {} of {} from the state that failed?", row.name, row.state_machine),
                        Effect::Redrive(row.arn),
                    ))
                }
            }
            Some(Vec::new())
        }
        (Tab::Executions, KeyCode::Char('o')) => {
            // Open the selected execution in the Graph.
            let row = app.selected_execution()?;
            app.focus_execution = Some(row.arn);
            Some(app.switch_to(Tab::Graph))
        }
        (Tab::Graph, KeyCode::Enter) => {
            app.graph_cursor.show_state = !app.graph_cursor.show_state;
            Some(Vec::new())
        }
        (Tab::Graph, KeyCode::Esc) if app.graph_cursor.show_state => {
            app.graph_cursor.show_state = false;
            Some(Vec::new())
        }
        (Tab::Faces, KeyCode::Enter) => {
            let face = app.selected_face()?;
            app.face_open = Some(face.face_id);
            Some(Vec::new())
        }
        (Tab::Faces, KeyCode::Esc | KeyCode::Backspace) if app.face_open.is_some() => {
            app.face_open = None;
            Some(Vec::new())
        }
        (Tab::Faces, KeyCode::Char('d')) => {
            let face = app.selected_face()?;
            let who =
                if face.user.is_empty() { "a face with no user id".to_string() } else { format!("user {}", face.user) };
            app.confirm = Some(Confirm::ask(
                format!(
                    "Delete the face of {who} (FaceId {}) from the collection? A riders table row that points at it \
                     is deleted with it.",
                    face.face_id
                ),
                Effect::DeleteFaces(vec![(face.face_id, face.user)]),
            ));
            Some(Vec::new())
        }
        (Tab::Faces, KeyCode::Char('D')) => {
            let threshold = 80.0;
            app.duplicates = Some(DuplicatesView { threshold, groups: Loadable::Loading });
            Some(vec![Effect::FindDuplicates(threshold)])
        }
        _ => None,
    }
}

fn on_detail_key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    let detail = app.detail.as_mut()?;
    let events = detail.data.rows().map_or(0, |d| d.events.len());
    let select = |d: &mut DetailView, to: isize| {
        d.selected = to.clamp(0, events.saturating_sub(1) as isize) as usize;
        d.scroll = 0;
    };
    let at = detail.selected as isize;
    match key.code {
        KeyCode::Esc | KeyCode::Backspace if detail.replay => detail.replay = false,
        KeyCode::Left | KeyCode::Right => super::detail::replay_key(detail, key.code == KeyCode::Right),
        KeyCode::Esc | KeyCode::Backspace => app.detail = None,
        KeyCode::Down | KeyCode::Char('j') => select(detail, at + 1),
        KeyCode::Up | KeyCode::Char('k') => select(detail, at - 1),
        KeyCode::PageDown => select(detail, at + 10),
        KeyCode::PageUp => select(detail, at - 10),
        KeyCode::Home | KeyCode::Char('g') => select(detail, 0),
        KeyCode::End | KeyCode::Char('G') => select(detail, isize::MAX / 2),
        KeyCode::Char('J') => detail.scroll = detail.scroll.saturating_add(1),
        KeyCode::Char('K') => detail.scroll = detail.scroll.saturating_sub(1),
        KeyCode::Char('L') => {
            // From a Task event to the logs of the function it ran.
            let function =
                detail.data.rows().and_then(|d| d.events.get(detail.selected)).and_then(|e| e.function.clone());
            let Some(function) = function else {
                app.notice = Some(("This event ran no Lambda function: pick a Task's event.".into(), true));
                return Some(Vec::new());
            };
            let effects = app.switch_to(Tab::Logs);
            app.filter = function;
            return Some(effects);
        }
        KeyCode::Char('o') => {
            app.focus_execution = Some(detail.arn.clone());
            return Some(app.switch_to(Tab::Graph));
        }
        _ => return None,
    }
    Some(Vec::new())
}

fn on_duplicates_key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    let view = app.duplicates.as_mut()?;
    match key.code {
        KeyCode::Esc => app.duplicates = None,
        KeyCode::Char('+') | KeyCode::Char('=') => {
            view.threshold = (view.threshold + 1.0).min(100.0);
            return Some(vec![Effect::FindDuplicates(view.threshold)]);
        }
        KeyCode::Char('-') => {
            view.threshold = (view.threshold - 1.0).max(0.0);
            return Some(vec![Effect::FindDuplicates(view.threshold)]);
        }
        KeyCode::Enter | KeyCode::Char('d') => {
            let extras: Vec<(String, String)> = view
                .groups
                .rows()
                .into_iter()
                .flatten()
                .flat_map(|g| g.extra.iter().map(|f| (f.face_id.clone(), f.user.clone())))
                .collect();
            if extras.is_empty() {
                app.notice = Some(("No duplicate accounts above this threshold: nothing to delete.".into(), false));
            } else {
                let mut users: Vec<&str> = extras.iter().map(|(_, u)| u.as_str()).collect();
                users.sort();
                users.dedup();
                let riders: Vec<&str> = view
                    .groups
                    .rows()
                    .into_iter()
                    .flatten()
                    .flat_map(|g| g.rider_rows.iter().map(String::as_str))
                    .collect();
                let rows = if riders.is_empty() {
                    String::new()
                } else {
                    format!(" and the riders table rows of {}", riders.join(", "))
                };
                app.confirm = Some(Confirm::ask(
                    format!(
                        "Delete {} face(s) of {}{rows}? Each group keeps the face shown as keep.",
                        extras.len(),
                        users.join(", ")
                    ),
                    Effect::DeleteFaces(extras),
                ));
            }
        }
        _ => return None,
    }
    Some(Vec::new())
}

fn on_form_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(form) = app.form.as_mut() else { return Vec::new() };
    match key.code {
        KeyCode::Esc => app.form = None,
        KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % 3,
        KeyCode::BackTab | KeyCode::Up => form.focus = (form.focus + 2) % 3,
        KeyCode::Enter => {
            let [machine, photo, user] = form.fields.clone().map(|f| f.trim().to_string());
            if let Some(missing) =
                [&machine, &photo, &user].iter().position(|f| f.is_empty()).map(|i| StartForm::LABELS[i])
            {
                form.error = Some(format!("{missing} is required."));
                return Vec::new();
            }
            app.form = None;
            return vec![Effect::Start { state_machine: machine, photo, user }];
        }
        _ => edit_text(&mut form.fields[form.focus], key),
    }
    Vec::new()
}

fn on_upload_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(form) = app.upload.as_mut() else { return Vec::new() };
    match key.code {
        KeyCode::Esc => app.upload = None,
        KeyCode::Enter => {
            let path = form.path.trim().to_string();
            if path.is_empty() {
                form.error = Some("Type the path of a photo on this machine (JPEG or PNG).".into());
                return Vec::new();
            }
            app.upload = None;
            return vec![Effect::Upload(path)];
        }
        _ => edit_text(&mut form.path, key),
    }
    Vec::new()
}

/// Typing into a text field: characters go in, Backspace (Ctrl-H on many terminals) takes
/// the last one out; other control keys type nothing.
fn edit_text(text: &mut String, key: KeyEvent) {
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

fn on_mouse(app: &mut App, mouse: MouseEvent) -> Vec<Effect> {
    match mouse.kind {
        MouseEventKind::ScrollDown => app.move_selection(1),
        MouseEventKind::ScrollUp => app.move_selection(-1),
        MouseEventKind::Down(MouseButton::Left) if mouse.row == 0 => {
            let hit =
                app.tab_hitboxes.iter().find(|(_, from, to)| (*from..=*to).contains(&mouse.column)).map(|(t, _, _)| *t);
            if let Some(tab) = hit {
                return app.switch_to(tab);
            }
        }
        MouseEventKind::Down(MouseButton::Left) if mouse.row >= 3 && app.detail.is_none() => {
            // Rows start below the tab bar, the table border and its header.
            let row = app.list_first + (mouse.row - 3) as usize;
            if row < app.visible_rows() {
                app.selected = row;
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
        assert_eq!(app.photos, Loadable::Loading);
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
        assert_eq!(app.selected, 2);
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.selected, 2);
        update(&mut app, key(KeyCode::PageUp));
        assert_eq!(app.selected, 0);
        update(&mut app, Action::Loaded(photos(0)));
        assert_eq!(app.selected, 0);
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
        assert!(!app.editing_filter);
    }

    #[test]
    fn a_failed_load_is_kept_as_a_message() {
        let mut app = App::new("local");
        update(&mut app, Action::Loaded(Loaded::Riders(Err("The riders table does not exist yet.".into()))));
        assert_eq!(app.riders, Loadable::Failed("The riders table does not exist yet.".into()));
    }

    #[test]
    fn help_opens_with_question_mark_and_any_key_closes_it() {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::Char('?')));
        assert!(app.show_help);
        update(&mut app, key(KeyCode::Char('x')));
        assert!(!app.show_help);
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
        let asked = app.confirm.as_ref().map(|c| c.message.clone()).unwrap_or_default();
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
        assert_eq!(app.selected, 2, "back on the Lab, the cursor is where it was");
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
        assert_eq!(app.detail.as_ref().map(|d| d.selected), Some(2), "the LambdaFunctionFailed event");
        // A refresh keeps the cursor where the user moved it.
        update(&mut app, key(KeyCode::Char('j')));
        update(&mut app, Action::Loaded(Loaded::History(arn, Ok(detail))));
        assert_eq!(app.detail.as_ref().map(|d| d.selected), Some(3));
        update(&mut app, key(KeyCode::Char('L')));
        assert_eq!(app.notice.as_ref().map(|n| n.1), Some(true), "event 4 ran no function");
        update(&mut app, key(KeyCode::Up));
        let effects = update(&mut app, key(KeyCode::Char('L')));
        assert_eq!(app.tab, Tab::Logs);
        assert_eq!(app.filter, "wildrydes-face-detection");
        assert!(effects.contains(&Effect::Load(Tab::Logs)));
    }

    #[test]
    fn esc_closes_the_execution() {
        let mut app = on_executions(vec![execution("a", "SUCCEEDED")]);
        update(&mut app, key(KeyCode::Enter));
        assert!(app.detail.is_some());
        update(&mut app, key(KeyCode::Esc));
        assert!(app.detail.is_none());
        assert_eq!(app.tab, Tab::Executions);
    }

    #[test]
    fn f_cycles_the_status_filter() {
        let mut app =
            on_executions(vec![execution("a", "SUCCEEDED"), execution("b", "FAILED"), execution("c", "RUNNING")]);
        assert_eq!(app.visible_rows(), 3);
        update(&mut app, key(KeyCode::Char('f')));
        assert_eq!(app.filtered_executions().iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["c"]);
        update(&mut app, key(KeyCode::Char('f')));
        update(&mut app, key(KeyCode::Char('f')));
        assert_eq!(app.filtered_executions().iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["b"]);
        for _ in 0..3 {
            update(&mut app, key(KeyCode::Char('f')));
        }
        assert_eq!(app.visible_rows(), 3, "back to any status");
    }

    #[test]
    fn the_text_filter_also_matches_the_failing_state() {
        let mut app = on_executions(vec![execution("a", "SUCCEEDED"), execution("b", "FAILED")]);
        app.filter = "photodoesnot".into();
        assert_eq!(app.visible_rows(), 1);
    }

    #[test]
    fn stop_asks_first_and_only_for_running_executions() {
        let mut app = on_executions(vec![execution("done", "SUCCEEDED"), execution("busy", "RUNNING")]);
        assert!(update(&mut app, key(KeyCode::Char('x'))).is_empty());
        assert!(app.confirm.is_none());
        assert_eq!(app.notice.as_ref().map(|n| n.1), Some(true));
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Char('x')));
        assert!(app.confirm.as_ref().is_some_and(|c| c.message.contains("busy")));
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
            assert!(app.confirm.as_ref().is_some_and(|c| c.message.contains("bad")));
            assert!(update(&mut app, key(KeyCode::Enter)).is_empty(), "Enter is No");
            update(&mut app, key(KeyCode::Char(k)));
            assert_eq!(update(&mut app, key(KeyCode::Char('y'))), vec![effect]);
        }
    }

    #[test]
    fn the_start_form_needs_every_field_and_sends_them() {
        let mut app = on_executions(vec![]);
        update(&mut app, key(KeyCode::Char('s')));
        let form = app.form.clone().unwrap_or_else(|| panic!("no form"));
        assert_eq!(form.fields[0], "RiderPhotoProcessing-4");
        assert_eq!(form.focus, 1, "the cursor starts on the photo");
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
        assert!(app.form.as_ref().and_then(|f| f.error.clone()).is_some_and(|e| e.contains("Photo")));
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
        assert!(app.form.is_none());
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
        update(&mut app, key(KeyCode::Char('d')));
        let confirm = app.confirm.clone().unwrap_or_else(|| panic!("no confirmation"));
        assert!(confirm.message.contains("user user_b"), "{}", confirm.message);
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty(), "Enter is the default: No");
        assert!(app.confirm.is_none());
        update(&mut app, key(KeyCode::Char('d')));
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
        let faces = app.faces.rows().cloned().unwrap_or_default();
        let groups = crate::ops::faces::group(&faces, &[("f1".into(), "f2".into(), 93.0)], &[]);
        update(&mut app, Action::Loaded(Loaded::Duplicates(Ok(groups))));
        let groups = app.duplicates.as_ref().and_then(|d| d.groups.rows().cloned()).unwrap_or_default();
        assert_eq!(groups.len(), 1);
        update(&mut app, key(KeyCode::Enter));
        let confirm = app.confirm.clone().unwrap_or_else(|| panic!("no confirmation"));
        assert!(confirm.message.contains("user_b"), "{}", confirm.message);
        assert_eq!(
            update(&mut app, key(KeyCode::Char('y'))),
            vec![Effect::DeleteFaces(vec![("f2".into(), "user_b".into())])]
        );
        let after = update(&mut app, Action::Loaded(Loaded::Done(Ok("Deleted 1 face(s) of user_b.".into()))));
        assert!(after.contains(&Effect::FindDuplicates(81.0)), "looks again after deleting: {after:?}");
        update(&mut app, key(KeyCode::Esc));
        assert!(app.duplicates.is_none());
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
        assert!(matches!(app.lab_runs.get(&Step::Photo(0)), Some(LabRun::Running { .. })));
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty(), "not twice at once");
        assert!(app.notice.as_ref().is_some_and(|(m, error)| *error && m.contains("still running")));
        update(&mut app, Action::Loaded(Loaded::LabProgress(Step::Photo(0), "→ FaceDetection".into())));
        assert_eq!(app.lab_runs.get(&Step::Photo(0)).map(|r| r.lines().to_vec()), Some(vec!["→ FaceDetection".into()]));
        let arn = execution("happy", "SUCCEEDED").arn;
        let outcome =
            super::super::lab::Outcome { message: "SUCCEEDED".into(), execution: Some(arn.clone()), as_expected: true };
        let effects = update(&mut app, Action::Loaded(Loaded::LabDone(Step::Photo(0), Ok(outcome))));
        assert!(effects.contains(&Effect::Load(Tab::Lab)), "the Lab reads the target again: {effects:?}");
        assert!(matches!(app.lab_runs.get(&Step::Photo(0)), Some(LabRun::Finished { result: Ok(_), .. })));
        let effects = update(&mut app, key(KeyCode::Char('e')));
        assert_eq!(app.tab, Tab::Executions);
        assert_eq!(app.detail.as_ref().map(|d| d.arn.clone()), Some(arn.clone()));
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
            app.lab_runs.get(&Step::Collection),
            Some(LabRun::Finished { result: Err(e), .. }) if e == "Cannot reach the endpoint."
        ));
        assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![Effect::RunLabStep(Step::Collection)], "runs again");
    }

    #[test]
    fn clean_up_runs_only_once_confirmed_and_the_results_step_opens_faces() {
        let mut app = on_lab();
        update(&mut app, key(KeyCode::End));
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
        assert!(app.confirm.as_ref().is_some_and(|c| c.message.contains("Delete every workshop resource")));
        assert!(update(&mut app, key(KeyCode::Esc)).is_empty());
        assert!(app.confirm.is_none() && !app.lab_runs.contains_key(&Step::Cleanup), "Esc: nothing ran");
        update(&mut app, key(KeyCode::Enter));
        assert!(update(&mut app, key(KeyCode::Char('y'))).is_empty(), "y is not enough: the word is typed");
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty(), "y then Enter is not the word");
        assert!(app.confirm.is_none() && !app.lab_runs.contains_key(&Step::Cleanup));
        update(&mut app, key(KeyCode::Enter));
        for c in "delete".chars() {
            assert!(update(&mut app, key(KeyCode::Char(c))).is_empty());
        }
        assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![Effect::RunLabStep(Step::Cleanup)]);
        assert!(matches!(app.lab_runs.get(&Step::Cleanup), Some(LabRun::Running { .. })));
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
        assert!(app.upload.as_ref().and_then(|u| u.error.clone()).is_some_and(|e| e.contains("path")));
        for c in "/tmp/q.jpg".chars() {
            update(&mut app, key(KeyCode::Char(c)));
        }
        assert!(!app.quit, "q types into the form");
        assert_eq!(update(&mut app, key(KeyCode::Enter)), vec![Effect::Upload("/tmp/q.jpg".into())]);
        assert!(app.upload.is_none());
    }

    #[test]
    fn enter_on_a_face_loads_it_cut_from_its_source_photo_and_esc_goes_back() {
        let mut app = on_faces();
        if let Loadable::Loaded(faces) = &mut app.faces {
            faces[0].bounding_box = Some([0.25, 0.5, 0.25, 0.25]);
        }
        let rider =
            RiderRow { user: "user_a".into(), face_id: "f1".into(), photo: "p/1.jpg".into(), thumbnail: String::new() };
        update(&mut app, Action::Loaded(Loaded::Riders(Ok(vec![rider]))));
        let effects = update(&mut app, key(KeyCode::Enter));
        assert_eq!(
            effects,
            vec![Effect::LoadImage("p/1.jpg#face=0.25,0.5,0.25,0.25".into()), Effect::LoadImage("p/1.jpg".into())]
        );
        assert!(app.opened_face().is_some_and(|(f, photo)| f.face_id == "f1" && photo.as_deref() == Some("p/1.jpg")));
        update(&mut app, key(KeyCode::Esc));
        assert!(app.face_open.is_none());
        assert_eq!(app.tab, Tab::Faces);
    }

    #[test]
    fn clicking_a_tab_title_switches_to_it() {
        let mut app = App::new("local");
        app.tab_hitboxes = vec![(Tab::Lab, 0, 5), (Tab::Executions, 6, 18)];
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
