//! The Graph view: a state machine drawn from its definition (by `tui::graph`), its states
//! coloured by what an execution did in them, and the selected state's input and output.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::{Binding, Cmd, Component, DrawCtx, Drawn, Intent, Key, MOVE, bind_of, moved};
use crate::tui::app::{Effect, GraphCursor, GraphData, Loadable, Loaded};

const KEYS: &[Binding] = &[
    bind_of(&[Key::of(KeyCode::Enter)], "Enter", "show or hide the state's input and output", Cmd::Open),
    bind_of(&[Key::ch('d')], "d", "describe the state machine's definition (ASL)", Cmd::Describe),
    bind_of(&[Key::ch('c')], "c", "copy the state's name", Cmd::Copy),
];

const PANE_KEYS: &[Binding] = &[bind_of(&[Key::of(KeyCode::Esc)], "Esc", "close the state's pane", Cmd::Back)];

#[derive(Debug, Default)]
pub struct Graph {
    pub data: Loadable<GraphData>,
    pub cursor: GraphCursor,
    /// The execution shown (the last one opened or selected).
    pub execution: Option<String>,
    /// The state machine named on the command line, when no execution is shown.
    pub machine: Option<String>,
}

impl Graph {
    /// The states of the graph, in the order the cursor walks them.
    pub fn states(&self) -> Vec<String> {
        let Some(data) = self.data.rows() else { return Vec::new() };
        match crate::tui::graph::layout(&data.definition) {
            Ok(g) => g.all_boxes().into_iter().map(|(n, _, _)| n.name.clone()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Shows this execution's graph next (`None`: the newest state machine's).
    pub fn show(&mut self, execution: Option<String>) {
        self.execution = execution;
        self.machine = None;
        self.cursor = GraphCursor::default();
    }

    /// Shows this state machine's graph next.
    pub fn show_machine(&mut self, machine: String) {
        self.execution = None;
        self.machine = Some(machine);
        self.cursor = GraphCursor::default();
        self.data = Loadable::Loading;
    }
}

impl Component for Graph {
    fn bindings(&self) -> Vec<&'static [Binding]> {
        if self.cursor.show_state { vec![PANE_KEYS, KEYS, MOVE] } else { vec![KEYS, MOVE] }
    }

    fn run(&mut self, cmd: Cmd) -> Vec<Intent> {
        let states = self.states();
        let at = self.cursor.selected;
        if let Some(to) = moved(cmd, at, states.len()) {
            self.cursor.selected = to;
            return Vec::new();
        }
        match cmd {
            Cmd::Open => self.cursor.show_state = !self.cursor.show_state,
            Cmd::Back => self.cursor.show_state = false,
            Cmd::Copy => return states.get(at).map(|s| Intent::Copy(s.clone())).into_iter().collect(),
            Cmd::Describe => {
                return match self.data.rows() {
                    Some(data) => {
                        let machine = data.title.split(" — ").next().unwrap_or(&data.title).to_string();
                        vec![Intent::Describe(format!("{machine} (ASL)"), data.definition.clone())]
                    }
                    None => vec![Intent::Notice("The state machine is not loaded yet.".into(), true)],
                };
            }
            _ => {}
        }
        Vec::new()
    }

    fn loaded(&mut self, loaded: &Loaded) -> bool {
        let Loaded::Graph(result) = loaded else { return false };
        self.data = Loadable::from_result(result);
        self.cursor.selected = self.cursor.selected.min(self.states().len().saturating_sub(1));
        true
    }

    fn loading(&mut self) {
        self.data.mark_loading();
    }

    fn refresh(&self) -> Vec<Effect> {
        match (&self.execution, &self.machine) {
            (None, Some(machine)) => vec![Effect::LoadMachine(machine.clone())],
            (execution, _) => vec![Effect::LoadGraph(execution.clone())],
        }
    }

    /// A graph has no filter: its states are all drawn.
    fn filter(&self) -> &str {
        ""
    }

    fn set_filter(&mut self, _filter: String) {}

    fn filters(&self) -> bool {
        false
    }

    fn len(&self) -> usize {
        self.states().len()
    }

    fn selected(&self) -> usize {
        self.cursor.selected
    }

    fn select(&mut self, row: usize) {
        self.cursor.selected = row.min(self.len().saturating_sub(1));
    }

    fn draw(&self, frame: &mut Frame, area: Rect, _ctx: &mut DrawCtx) -> Drawn {
        crate::tui::detail::draw_graph(&self.data, &self.cursor, frame, area);
        Drawn::default()
    }
}
