//! The dashboard's views, one component each (Lab, Executions with its detail, Graph, Faces
//! with duplicates, Photos, Riders, Outbox, Logs). A component owns its state, its key
//! bindings (each key with its help text, so `?` is generated from the same table the keys
//! are looked up in), what its commands do, and how it draws. Commands never reach outside
//! the component: what needs the rest of the dashboard (a background load, a question, a
//! jump to another view, the clipboard) is returned as an [`Intent`] for `app` to carry out.
//! Drawing reads the component and returns what the loop keeps for the mouse ([`Drawn`]).
//!
//! May use `app`'s message types, `ops` rows, `detail`, `graph` and `lab`; knows nothing of
//! the terminal loop.

pub mod executions;
pub mod faces;
pub mod graph;
pub mod lab;
pub mod list;
pub mod logs;
pub mod outbox;
pub mod photos;
pub mod riders;

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::app::{Effect, ImageSlot, Loaded, Tab};
use super::popups::Question;

/// A key as a binding names it. Letters match with or without Shift (an upper-case letter
/// arrives with Shift); Ctrl and Alt must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub const fn of(code: KeyCode) -> Self {
        Self { code, mods: KeyModifiers::NONE }
    }

    pub const fn ch(c: char) -> Self {
        Self::of(KeyCode::Char(c))
    }

    pub const fn ctrl(c: char) -> Self {
        Self { code: KeyCode::Char(c), mods: KeyModifiers::CONTROL }
    }

    pub fn matches(&self, key: &KeyEvent) -> bool {
        let relevant = KeyModifiers::CONTROL | KeyModifiers::ALT;
        self.code == key.code && (self.mods & relevant) == (key.modifiers & relevant)
    }
}

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    // Moving in a list.
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    SortPrev,
    SortNext,
    SortReverse,
    // What the selected row offers.
    Open,
    Back,
    Copy,
    Describe,
    Logs,
    Graph,
    // Executions.
    StatusFilter,
    Start,
    Stop,
    Rerun,
    Redrive,
    ScrollDown,
    ScrollUp,
    ReplayBack,
    ReplayOn,
    // Lab.
    RunStep,
    StepExecution,
    RunEverything,
    // Faces and duplicates.
    Delete,
    Duplicates,
    ThresholdUp,
    ThresholdDown,
    // Photos.
    Upload,
    // Global.
    NextView,
    PrevView,
    GoView,
    CommandLine,
    Filter,
    Refresh,
    Help,
    Quit,
    QuitNow,
    Dismiss,
}

/// A key (or keys) of a view, what the help shows for them, and the command they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub keys: &'static [Key],
    /// The keys as the help shows them.
    pub shown: &'static str,
    pub help: &'static str,
    pub cmd: Cmd,
}

pub const fn bind_of(keys: &'static [Key], shown: &'static str, help: &'static str, cmd: Cmd) -> Binding {
    Binding { keys, shown, help, cmd }
}

/// Moving the cursor: every list has these.
pub const MOVE: &[Binding] = &[
    bind_of(&[Key::of(KeyCode::Up), Key::ch('k')], "↑/k", "up", Cmd::Up),
    bind_of(&[Key::of(KeyCode::Down), Key::ch('j')], "↓/j", "down", Cmd::Down),
    bind_of(&[Key::of(KeyCode::PageUp)], "PgUp", "a page up", Cmd::PageUp),
    bind_of(&[Key::of(KeyCode::PageDown)], "PgDn", "a page down", Cmd::PageDown),
    bind_of(&[Key::of(KeyCode::Home), Key::ch('g')], "Home/g", "to the first row", Cmd::Home),
    bind_of(&[Key::of(KeyCode::End), Key::ch('G')], "End/G", "to the last row", Cmd::End),
];

/// Sorting by a column: the header marks the column and the direction.
pub const SORT: &[Binding] = &[
    bind_of(&[Key::ch('<')], "<", "sort by the column to the left", Cmd::SortPrev),
    bind_of(&[Key::ch('>')], ">", "sort by the column to the right", Cmd::SortNext),
    bind_of(&[Key::ch('!')], "!", "reverse the sort", Cmd::SortReverse),
];

/// The keys of every view, after the focused view's own.
pub const GLOBAL: &[Binding] = &[
    bind_of(&[Key::of(KeyCode::Tab), Key::of(KeyCode::Right)], "Tab/→", "next view", Cmd::NextView),
    bind_of(&[Key::of(KeyCode::BackTab), Key::of(KeyCode::Left)], "Shift-Tab/←", "previous view", Cmd::PrevView),
    bind_of(
        &[
            Key::ch('1'),
            Key::ch('2'),
            Key::ch('3'),
            Key::ch('4'),
            Key::ch('5'),
            Key::ch('6'),
            Key::ch('7'),
            Key::ch('8'),
        ],
        "1–8",
        "go to a view by its number",
        Cmd::GoView,
    ),
    bind_of(
        &[Key::ch(':')],
        ":",
        "go to a view, a state machine or an execution by name (Tab completes)",
        Cmd::CommandLine,
    ),
    bind_of(&[Key::ch('/')], "/", "filter on every column (Enter keeps it, Esc clears it)", Cmd::Filter),
    bind_of(
        &[Key::of(KeyCode::F(5)), Key::ctrl('r')],
        "F5/Ctrl-R",
        "refresh now (views also refresh every 3 s)",
        Cmd::Refresh,
    ),
    bind_of(&[Key::of(KeyCode::Esc)], "Esc", "clear the filter, dismiss the message", Cmd::Dismiss),
    bind_of(&[Key::ch('?')], "?", "this help", Cmd::Help),
    bind_of(&[Key::ch('q')], "q", "quit (asks while a Lab step runs)", Cmd::Quit),
    bind_of(&[Key::ctrl('c')], "Ctrl-C", "quit now", Cmd::QuitNow),
];

/// Where a moving command takes a cursor at `at` in `len` rows; `None` for other commands.
pub fn moved(cmd: Cmd, at: usize, len: usize) -> Option<usize> {
    let last = len.saturating_sub(1);
    Some(match cmd {
        Cmd::Up => at.saturating_sub(1),
        Cmd::Down => (at + 1).min(last),
        Cmd::PageUp => at.saturating_sub(10),
        Cmd::PageDown => (at + 10).min(last),
        Cmd::Home => 0,
        Cmd::End => last,
        _ => return None,
    })
}

/// The command a key runs in a set of binding groups, the first group first.
pub fn lookup(groups: &[&'static [Binding]], key: &KeyEvent) -> Option<Cmd> {
    groups.iter().flat_map(|g| g.iter()).find(|b| b.keys.iter().any(|k| k.matches(key))).map(|b| b.cmd)
}

/// What a component asks of the rest of the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// A background load or action.
    Effect(Effect),
    /// A question first; its answer decides (see `popups::confirm`).
    Ask(Question),
    /// A sentence in the message line; `true` when it is an error.
    Notice(String, bool),
    /// Open an execution's history in Executions.
    OpenExecution(String),
    /// Show an execution's graph (`None`: the newest state machine's).
    Graph(Option<String>),
    /// Show Logs, filtered to what names this item (a function, a user).
    Logs(String),
    /// Copy this text to the terminal's clipboard (OSC 52).
    Copy(String),
    /// Show a record in the scrollable describe popup: its title and the JSON.
    Describe(String, serde_json::Value),
    /// Open the start form with this state machine.
    StartForm(String),
    /// Open the upload form.
    UploadForm,
    /// Switch to another view.
    Go(Tab),
}

/// What a drawn view leaves for the loop: where its list rows are, for the mouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drawn {
    /// The screen row of the first list row, the index of the row drawn there, and how many
    /// rows were drawn.
    pub list: Option<ListArea>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListArea {
    pub top: u16,
    pub first: usize,
    pub rows: usize,
}

/// What drawing may use beyond the component: the previews (whose protocol state the
/// image widget resizes as it draws).
pub struct DrawCtx<'a> {
    pub images: &'a mut HashMap<String, ImageSlot>,
}

/// One view of the dashboard.
pub trait Component {
    /// Its bindings in its current state, in the order the help lists them.
    fn bindings(&self) -> Vec<&'static [Binding]>;
    /// Runs a command of its bindings.
    fn run(&mut self, cmd: Cmd) -> Vec<Intent>;
    /// Takes the data a background load delivered, if it is this view's.
    fn loaded(&mut self, loaded: &Loaded) -> bool;
    /// Marks its data as loading (only an empty view says so; a refresh keeps the rows).
    fn loading(&mut self);
    /// The loads a refresh of this view starts.
    fn refresh(&self) -> Vec<Effect>;
    /// The filter over its rows (every column), and setting it.
    fn filter(&self) -> &str;
    fn set_filter(&mut self, filter: String);
    /// Whether `/` filters this view (a graph draws every state).
    fn filters(&self) -> bool {
        true
    }
    /// Its rows after the filter, for the mouse and the tests.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn selected(&self) -> usize;
    fn select(&mut self, row: usize);
    /// The images it shows now ("bucket/key"), to load if they are not there.
    fn images(&self) -> Vec<String> {
        Vec::new()
    }
    /// Draws it into `area`.
    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &mut DrawCtx) -> Drawn;
}

/// An image loaded by its key ("bucket/key"), scaled into a bordered pane.
pub fn draw_image(frame: &mut Frame, area: Rect, ctx: &mut DrawCtx, what: &str, key: Option<String>, none: &str) {
    use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
    let block = Block::new().borders(Borders::ALL).title(format!(" {what} "));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(key) = key else {
        frame.render_widget(Paragraph::new(none.to_string()).wrap(Wrap { trim: true }), inner);
        return;
    };
    match ctx.images.get_mut(&key) {
        Some(ImageSlot::Ready(protocol)) => {
            frame.render_stateful_widget(
                ratatui_image::StatefulImage::default().resize(ratatui_image::Resize::Scale(None)),
                inner,
                protocol.as_mut(),
            );
        }
        Some(ImageSlot::Failed(e)) => {
            frame.render_widget(Paragraph::new(format!("{key}: {e}")).wrap(Wrap { trim: true }), inner)
        }
        _ => frame.render_widget(Paragraph::new(format!("Loading {key}…")).wrap(Wrap { trim: true }), inner),
    }
}

/// Splits off a preview pane on the right when there is room for one.
pub fn with_preview(area: Rect) -> (Rect, Option<Rect>) {
    use ratatui::layout::{Constraint, Layout};
    if area.width < 100 {
        return (area, None);
    }
    let [list, preview] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(area.width / 3)]).areas(area);
    (list, Some(preview))
}

/// The [`Component`] methods every list view answers from its [`list::List`] field.
macro_rules! list_basics {
    ($field:ident) => {
        fn loading(&mut self) {
            self.$field.loading();
        }

        fn filter(&self) -> &str {
            self.$field.filter()
        }

        fn set_filter(&mut self, filter: String) {
            self.$field.set_filter(filter);
        }

        fn len(&self) -> usize {
            self.$field.len()
        }

        fn selected(&self) -> usize {
            self.$field.selected
        }
    };
}
pub(crate) use list_basics;
