//! The Riders view: the riders table, one row per registered user.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::list::{Column, List, Record, col, flex};
use super::{Binding, Cmd, Component, DrawCtx, Drawn, Intent, Key, MOVE, SORT, bind_of};
use crate::tui::app::{Effect, Loaded, RiderRow, Tab};

const COLUMNS: &[Column] = &[col("User", 0), col("FaceId", 1), flex("Photo", 2), flex("Thumbnail", 3)];

const KEYS: &[Binding] = &[
    bind_of(&[Key::ch('c')], "c", "copy the rider's user id", Cmd::Copy),
    bind_of(&[Key::ch('d')], "d", "describe the rider's item", Cmd::Describe),
    bind_of(&[Key::ch('l')], "l", "the logs of the rider's user", Cmd::Logs),
];

impl Record for RiderRow {
    fn cells(&self) -> Vec<String> {
        vec![self.user.clone(), self.face_id.clone(), self.photo.clone(), self.thumbnail.clone()]
    }
}

pub struct Riders {
    pub list: List<RiderRow>,
}

impl Default for Riders {
    fn default() -> Self {
        Self { list: List::new(COLUMNS) }
    }
}

impl Component for Riders {
    fn bindings(&self) -> Vec<&'static [Binding]> {
        vec![KEYS, MOVE, SORT]
    }

    fn run(&mut self, cmd: Cmd) -> Vec<Intent> {
        if self.list.nav(cmd) {
            return Vec::new();
        }
        let Some(r) = self.list.selected_row() else { return Vec::new() };
        match cmd {
            Cmd::Copy => vec![Intent::Copy(r.user.clone())],
            Cmd::Logs => vec![Intent::Logs(r.user.clone())],
            Cmd::Describe => vec![Intent::Describe(
                format!("Rider {}", r.user),
                serde_json::json!({"Username": r.user, "FaceId": r.face_id, "Photo": r.photo, "Thumbnail": r.thumbnail}),
            )],
            _ => Vec::new(),
        }
    }

    fn loaded(&mut self, loaded: &Loaded) -> bool {
        let Loaded::Riders(result) = loaded else { return false };
        self.list.set(result);
        true
    }

    fn refresh(&self) -> Vec<Effect> {
        vec![Effect::Load(Tab::Riders)]
    }

    super::list_basics!(list);

    fn select(&mut self, row: usize) {
        if row < self.list.len() {
            self.list.selected = row;
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, _ctx: &mut DrawCtx) -> Drawn {
        self.list.draw(
            frame,
            area,
            "Riders",
            &format!("Riders ({}) — each user can register once (attribute_not_exists(Username))", self.list.len()),
            "riders",
            "No riders registered yet.",
        )
    }
}
