//! The dashboard's state and its one `update` function (the Elm architecture): every key,
//! click and finished background load is an [`Action`]; `update` changes the [`App`] and
//! returns the [`Effect`]s (loads to start) — it never waits on anything itself, so it is
//! tested without a terminal or a network.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

/// The views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Lab,
    Executions,
    Faces,
    Photos,
    Riders,
    Outbox,
}

impl Tab {
    pub const ALL: [Tab; 6] = [Tab::Lab, Tab::Executions, Tab::Faces, Tab::Photos, Tab::Riders, Tab::Outbox];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Lab => "Lab",
            Tab::Executions => "Executions",
            Tab::Faces => "Faces",
            Tab::Photos => "Photos",
            Tab::Riders => "Riders",
            Tab::Outbox => "Outbox",
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
    pub title: String,
    pub status: StepStatus,
    /// What was found (or why not), shown beside the step.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Done,
    Todo,
    /// The target cannot do this step (yet): the detail says why.
    Unavailable,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    pub name: String,
    pub state_machine: String,
    pub status: String,
    pub started: String,
    pub duration: String,
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FaceRow {
    pub face_id: String,
    pub user: String,
    pub confidence: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRow {
    pub bucket: String,
    pub key: String,
    pub size: i64,
    pub modified: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RiderRow {
    pub user: String,
    pub face_id: String,
    pub photo: String,
    pub thumbnail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MailRow {
    pub sent: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub body: String,
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
    Health(Result<(), String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Loaded(Loaded),
    /// Periodic refresh of the current view and the connection health.
    Tick,
}

/// What `update` asks the runtime to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Load(Tab),
    CheckHealth,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    Unknown,
    Up,
    Down(String),
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
    pub selected: usize,
    pub lab: Loadable<Vec<LabStep>>,
    pub executions: Loadable<Vec<ExecutionRow>>,
    pub faces: Loadable<Vec<FaceRow>>,
    pub photos: Loadable<Vec<ObjectRow>>,
    pub riders: Loadable<Vec<RiderRow>>,
    pub outbox: Loadable<Vec<MailRow>>,
    pub quit: bool,
    /// Where the tab titles were drawn, for mouse clicks: (tab, first column, last column).
    pub tab_hitboxes: Vec<(Tab, u16, u16)>,
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
            selected: 0,
            lab: Loadable::NotLoaded,
            executions: Loadable::NotLoaded,
            faces: Loadable::NotLoaded,
            photos: Loadable::NotLoaded,
            riders: Loadable::NotLoaded,
            outbox: Loadable::NotLoaded,
            quit: false,
            tab_hitboxes: Vec::new(),
        }
    }

    /// The effects to run when the dashboard opens.
    pub fn start(&mut self) -> Vec<Effect> {
        self.mark_loading(self.tab);
        vec![Effect::CheckHealth, Effect::Load(self.tab)]
    }

    /// The number of rows the current view shows after filtering.
    pub fn visible_rows(&self) -> usize {
        let f = |text: &str| self.matches_filter(text);
        match self.tab {
            Tab::Lab => self.lab.rows().map_or(0, Vec::len),
            Tab::Executions => self
                .executions
                .rows()
                .map_or(0, |r| r.iter().filter(|e| f(&format!("{} {} {}", e.name, e.state_machine, e.status))).count()),
            Tab::Faces => {
                self.faces.rows().map_or(0, |r| r.iter().filter(|x| f(&format!("{} {}", x.face_id, x.user))).count())
            }
            Tab::Photos => {
                self.photos.rows().map_or(0, |r| r.iter().filter(|x| f(&format!("{} {}", x.bucket, x.key))).count())
            }
            Tab::Riders => {
                self.riders.rows().map_or(0, |r| r.iter().filter(|x| f(&format!("{} {}", x.user, x.face_id))).count())
            }
            Tab::Outbox => self
                .outbox
                .rows()
                .map_or(0, |r| r.iter().filter(|x| f(&format!("{} {} {}", x.to, x.subject, x.body))).count()),
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
            Tab::Faces => mark(&mut self.faces),
            Tab::Photos => mark(&mut self.photos),
            Tab::Riders => mark(&mut self.riders),
            Tab::Outbox => mark(&mut self.outbox),
        }
    }

    fn switch_to(&mut self, tab: Tab) -> Vec<Effect> {
        if self.tab == tab {
            return Vec::new();
        }
        self.tab = tab;
        self.selected = 0;
        self.filter.clear();
        self.editing_filter = false;
        self.mark_loading(tab);
        vec![Effect::Load(tab)]
    }

    fn move_selection(&mut self, delta: isize) {
        let rows = self.visible_rows();
        if rows == 0 {
            self.selected = 0;
            return;
        }
        let max = rows as isize - 1;
        self.selected = (self.selected as isize + delta).clamp(0, max) as usize;
    }
}

/// Applies one action; returns what to load next.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(key) => on_key(app, key),
        Action::Mouse(mouse) => on_mouse(app, mouse),
        Action::Tick => {
            app.mark_loading(app.tab);
            vec![Effect::CheckHealth, Effect::Load(app.tab)]
        }
        Action::Loaded(loaded) => {
            on_loaded(app, loaded);
            // Rows may have shrunk under the cursor.
            app.move_selection(0);
            Vec::new()
        }
    }
}

fn on_loaded(app: &mut App, loaded: Loaded) {
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
        Loaded::Health(Ok(())) => app.health = Health::Up,
        Loaded::Health(Err(e)) => app.health = Health::Down(e),
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        app.quit = true;
        return Vec::new();
    }
    if app.editing_filter {
        match key.code {
            KeyCode::Esc => {
                app.filter.clear();
                app.editing_filter = false;
            }
            KeyCode::Enter => app.editing_filter = false,
            KeyCode::Backspace => {
                app.filter.pop();
            }
            KeyCode::Char(c) => app.filter.push(c),
            _ => {}
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
    match key.code {
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Char('?') => app.show_help = true,
        KeyCode::Esc => {
            app.filter.clear();
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
        KeyCode::Home | KeyCode::Char('g') => app.selected = 0,
        KeyCode::End | KeyCode::Char('G') => app.move_selection(isize::MAX / 2),
        KeyCode::Char('r') => {
            app.mark_loading(app.tab);
            return vec![Effect::CheckHealth, Effect::Load(app.tab)];
        }
        _ => {}
    }
    Vec::new()
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
        MouseEventKind::Down(MouseButton::Left) if mouse.row >= 3 => {
            // Rows start below the tab bar, the table border and its header.
            let row = (mouse.row - 3) as usize;
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
        let effects = update(&mut app, key(KeyCode::Char('4')));
        assert_eq!(app.tab, Tab::Photos);
        assert_eq!(effects, vec![Effect::Load(Tab::Photos)]);
        assert_eq!(app.photos, Loadable::Loading);
    }

    #[test]
    fn tab_wraps_around() {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::BackTab));
        assert_eq!(app.tab, Tab::Outbox);
        update(&mut app, key(KeyCode::Tab));
        assert_eq!(app.tab, Tab::Lab);
    }

    #[test]
    fn selection_stays_within_the_rows() {
        let mut app = App::new("local");
        update(&mut app, key(KeyCode::Char('4')));
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
        update(&mut app, key(KeyCode::Char('4')));
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
