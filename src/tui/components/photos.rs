//! The Photos view: the objects of the rider photo and thumbnail buckets, a preview of the
//! selected one, and uploading a photo from disk.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::list::{Column, List, Record, SortKey, col, flex};
use super::{Binding, Cmd, Component, DrawCtx, Drawn, Intent, Key, MOVE, SORT, bind_of, draw_image, with_preview};
use crate::tui::app::{Effect, Loadable, Loaded, ObjectRow, Tab};

const COLUMNS: &[Column] = &[col("Bucket", 1), flex("Key", 0), col("Size", 2), col("Modified", 3)];

const KEYS: &[Binding] = &[
    bind_of(&[Key::ch('u')], "u", "upload a photo from disk", Cmd::Upload),
    bind_of(&[Key::ch('c')], "c", "copy the object's S3 URI", Cmd::Copy),
    bind_of(&[Key::ch('d')], "d", "describe the object", Cmd::Describe),
];

pub fn human_size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KB", b as f64 / (1 << 10) as f64),
        b => format!("{b} B"),
    }
}

impl Record for ObjectRow {
    fn cells(&self) -> Vec<String> {
        vec![self.bucket.clone(), self.key.clone(), human_size(self.size), self.modified.clone()]
    }

    fn sort_key(&self, column: usize) -> SortKey {
        match column {
            2 => SortKey::Num(self.size as f64),
            c => SortKey::Text(self.cells()[c].to_lowercase()),
        }
    }
}

pub struct Photos {
    pub list: List<ObjectRow>,
}

impl Default for Photos {
    fn default() -> Self {
        Self { list: List::new(COLUMNS) }
    }
}

impl Photos {
    fn preview(&self) -> Option<String> {
        self.list.selected_row().map(|o| format!("{}/{}", o.bucket, o.key))
    }
}

impl Component for Photos {
    fn bindings(&self) -> Vec<&'static [Binding]> {
        vec![KEYS, MOVE, SORT]
    }

    fn run(&mut self, cmd: Cmd) -> Vec<Intent> {
        if self.list.nav(cmd) {
            return Vec::new();
        }
        if cmd == Cmd::Upload {
            return vec![Intent::UploadForm];
        }
        let Some(o) = self.list.selected_row() else { return Vec::new() };
        match cmd {
            Cmd::Copy => vec![Intent::Copy(format!("s3://{}/{}", o.bucket, o.key))],
            Cmd::Describe => vec![Intent::Describe(
                format!("s3://{}/{}", o.bucket, o.key),
                serde_json::json!({"Bucket": o.bucket, "Key": o.key, "Size": o.size, "LastModified": o.modified}),
            )],
            _ => Vec::new(),
        }
    }

    fn loaded(&mut self, loaded: &Loaded) -> bool {
        let Loaded::Photos(result) = loaded else { return false };
        self.list.set(result);
        true
    }

    fn refresh(&self) -> Vec<Effect> {
        vec![Effect::Load(Tab::Photos)]
    }

    super::list_basics!(list);

    fn select(&mut self, row: usize) {
        if row < self.list.len() {
            self.list.selected = row;
        }
    }

    fn images(&self) -> Vec<String> {
        self.preview().into_iter().collect()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &mut DrawCtx) -> Drawn {
        let (list, preview) = with_preview(area);
        let drawn = self.list.draw(
            frame,
            list,
            "Photos",
            &format!("Photos and thumbnails ({}) — u upload", self.list.len()),
            "photos",
            "The workshop's buckets are empty.",
        );
        if let Some(preview) = preview
            && matches!(self.list.data(), Loadable::Loaded(_))
        {
            draw_image(frame, preview, ctx, "Preview", self.preview(), "No image for this row.");
        }
        drawn
    }
}
