//! The Faces view: the faces in the collection with the rider's thumbnail, one face large
//! (cut out of its source photo), and duplicate accounts (one person under two user ids).

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::list::{Column, List, Record, SortKey, col};
use super::{Binding, Cmd, Component, DrawCtx, Drawn, Intent, Key, MOVE, SORT, bind_of, draw_image, with_preview};
use crate::ops::Group;
use crate::tui::app::{DuplicatesView, Effect, FaceRow, Loadable, Loaded, RiderRow, Tab};
use crate::tui::popups::Question;
use crate::tui::view::draw_message;

const COLUMNS: &[Column] = &[col("FaceId", 0), col("User", 1), col("Confidence", 3), col("Indexed", 2)];

const DELETE: &[Key] = &[Key::ctrl('d'), Key::of(KeyCode::Delete)];

const KEYS: &[Binding] = &[
    bind_of(&[Key::of(KeyCode::Enter)], "Enter", "show the face cut out of its photo", Cmd::Open),
    bind_of(&[Key::ch('d')], "d", "describe the face's full record", Cmd::Describe),
    bind_of(DELETE, "Ctrl-D/Del", "delete the face (asks)", Cmd::Delete),
    bind_of(&[Key::ch('D')], "D", "find duplicate accounts", Cmd::Duplicates),
    bind_of(&[Key::ch('c')], "c", "copy the FaceId", Cmd::Copy),
    bind_of(&[Key::ch('l')], "l", "the logs of the face's user", Cmd::Logs),
];

const OPEN_KEYS: &[Binding] = &[
    bind_of(&[Key::of(KeyCode::Esc), Key::of(KeyCode::Backspace)], "Esc", "back to the list", Cmd::Back),
    bind_of(&[Key::ch('d')], "d", "describe the face's full record", Cmd::Describe),
    bind_of(DELETE, "Ctrl-D/Del", "delete the face (asks)", Cmd::Delete),
    bind_of(&[Key::ch('c')], "c", "copy the FaceId", Cmd::Copy),
];

const DUPLICATE_KEYS: &[Binding] = &[
    bind_of(&[Key::ch('+'), Key::ch('=')], "+", "raise the similarity threshold", Cmd::ThresholdUp),
    bind_of(&[Key::ch('-')], "-", "lower the similarity threshold", Cmd::ThresholdDown),
    bind_of(&[Key::of(KeyCode::Enter), Key::ctrl('d')], "Enter/Ctrl-D", "delete the extra faces (asks)", Cmd::Delete),
    bind_of(&[Key::of(KeyCode::Esc)], "Esc", "back to the faces", Cmd::Back),
];

impl Record for FaceRow {
    fn cells(&self) -> Vec<String> {
        vec![
            self.face_id.clone(),
            self.user.clone(),
            format!("{:.1}", self.confidence),
            if self.indexed.is_empty() { "—".to_string() } else { self.indexed.clone() },
        ]
    }

    fn sort_key(&self, column: usize) -> SortKey {
        match column {
            2 => SortKey::Num(self.confidence as f64),
            c => SortKey::Text(self.cells()[c].to_lowercase()),
        }
    }
}

pub struct Faces {
    pub list: List<FaceRow>,
    /// The riders table, for each face's thumbnail and source photo.
    pub riders: Loadable<Vec<RiderRow>>,
    /// The face shown large (its FaceId).
    pub open: Option<String>,
    pub duplicates: Option<DuplicatesView>,
}

impl Default for Faces {
    fn default() -> Self {
        Self { list: List::new(COLUMNS), riders: Loadable::NotLoaded, open: None, duplicates: None }
    }
}

impl Faces {
    /// The face opened with Enter, and its source photo ("bucket/key") from the rider's item
    /// that names it.
    pub fn opened(&self) -> Option<(FaceRow, Option<String>)> {
        let id = self.open.as_ref()?;
        let face = self.list.all().iter().find(|f| &f.face_id == id)?.clone();
        let riders = self.riders.rows().map(Vec::as_slice).unwrap_or_default();
        let rider =
            riders.iter().find(|r| r.face_id == face.face_id).or_else(|| riders.iter().find(|r| r.user == face.user));
        let photo = rider.map(|r| r.photo.clone()).filter(|p| p.len() > 1);
        Some((face, photo))
    }

    /// The image key of the face cut out of its photo: the photo's key and the box.
    pub fn crop_key(photo: &str, face: &FaceRow) -> Option<String> {
        let [l, t, w, h] = face.bounding_box?;
        Some(format!("{photo}#face={l},{t},{w},{h}"))
    }

    /// The face the keys act on: the one opened, else the one under the cursor.
    fn face(&self) -> Option<FaceRow> {
        self.opened().map(|(f, _)| f).or_else(|| self.list.selected_row().cloned())
    }

    fn thumbnail(&self) -> Option<String> {
        let face = self.list.selected_row()?;
        let rider = self.riders.rows()?.iter().find(|r| r.user == face.user)?;
        (!rider.thumbnail.is_empty()).then(|| rider.thumbnail.clone())
    }

    fn run_duplicates(&mut self, cmd: Cmd) -> Vec<Intent> {
        let Some(view) = self.duplicates.as_mut() else { return Vec::new() };
        match cmd {
            Cmd::Back => self.duplicates = None,
            Cmd::ThresholdUp | Cmd::ThresholdDown => {
                let step = if cmd == Cmd::ThresholdUp { 1.0 } else { -1.0 };
                view.threshold = (view.threshold + step).clamp(0.0, 100.0);
                return vec![Intent::Effect(Effect::FindDuplicates(view.threshold))];
            }
            Cmd::Delete => {
                let groups: &[Group] = view.groups.rows().map(Vec::as_slice).unwrap_or_default();
                let extras: Vec<(String, String)> =
                    groups.iter().flat_map(|g| g.extra.iter().map(|f| (f.face_id.clone(), f.user.clone()))).collect();
                if extras.is_empty() {
                    let message = "No duplicate accounts above this threshold: nothing to delete.";
                    return vec![Intent::Notice(message.into(), false)];
                }
                let riders = groups.iter().flat_map(|g| g.rider_rows.iter().cloned()).collect();
                return vec![Intent::Ask(Question::DeleteDuplicates { extras, riders })];
            }
            _ => {}
        }
        Vec::new()
    }
}

impl Component for Faces {
    fn bindings(&self) -> Vec<&'static [Binding]> {
        if self.duplicates.is_some() {
            vec![DUPLICATE_KEYS]
        } else if self.open.is_some() {
            vec![OPEN_KEYS]
        } else {
            vec![KEYS, MOVE, SORT]
        }
    }

    fn run(&mut self, cmd: Cmd) -> Vec<Intent> {
        if self.duplicates.is_some() {
            return self.run_duplicates(cmd);
        }
        if self.open.is_none() && self.list.nav(cmd) {
            return Vec::new();
        }
        if cmd == Cmd::Duplicates {
            let threshold = 80.0;
            self.duplicates = Some(DuplicatesView { threshold, groups: Loadable::Loading });
            return vec![Intent::Effect(Effect::FindDuplicates(threshold))];
        }
        let Some(face) = self.face() else { return Vec::new() };
        match cmd {
            Cmd::Open => self.open = Some(face.face_id),
            Cmd::Back => self.open = None,
            Cmd::Copy => return vec![Intent::Copy(face.face_id)],
            Cmd::Logs => return vec![Intent::Logs(face.user)],
            Cmd::Delete => return vec![Intent::Ask(Question::DeleteFace { face_id: face.face_id, user: face.user })],
            Cmd::Describe => {
                let rider = self.riders.rows().into_iter().flatten().find(|r| r.face_id == face.face_id);
                let record = serde_json::json!({
                    "FaceId": face.face_id,
                    "ExternalImageId": face.user,
                    "Confidence": face.confidence,
                    "Indexed": face.indexed,
                    "BoundingBox": face.bounding_box.map(|[l, t, w, h]| serde_json::json!({"Left": l, "Top": t, "Width": w, "Height": h})),
                    "Rider": rider.map(|r| serde_json::json!({"Username": r.user, "FaceId": r.face_id, "Photo": r.photo, "Thumbnail": r.thumbnail})),
                });
                return vec![Intent::Describe(format!("Face {}", face.face_id), record)];
            }
            _ => {}
        }
        Vec::new()
    }

    fn loaded(&mut self, loaded: &Loaded) -> bool {
        match loaded {
            Loaded::Faces(result) => self.list.set(result),
            // Riders are the Riders view's too: not taken here alone.
            Loaded::Riders(result) => {
                self.riders = Loadable::from_result(result);
                return false;
            }
            Loaded::Duplicates(result) => {
                if let Some(view) = self.duplicates.as_mut() {
                    view.groups = Loadable::from_result(result);
                }
            }
            _ => return false,
        }
        true
    }

    fn refresh(&self) -> Vec<Effect> {
        // Faces show the rider's thumbnail, found through the riders table.
        vec![Effect::Load(Tab::Faces), Effect::Load(Tab::Riders)]
    }

    super::list_basics!(list);

    fn select(&mut self, row: usize) {
        if self.open.is_none() && self.duplicates.is_none() && row < self.list.len() {
            self.list.selected = row;
        }
    }

    fn images(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.thumbnail().into_iter().collect();
        if let Some((face, Some(photo))) = self.opened() {
            keys.extend(Self::crop_key(&photo, &face));
            keys.push(photo);
        }
        keys
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &mut DrawCtx) -> Drawn {
        if matches!(self.list.data(), Loadable::Loaded(_)) {
            if let Some(view) = &self.duplicates {
                draw_duplicates(view, frame, area);
                return Drawn::default();
            }
            if let Some((face, photo)) = self.opened() {
                draw_face(frame, area, ctx, &face, photo);
                return Drawn::default();
            }
        }
        let (list, preview) = with_preview(area);
        let drawn = self.list.draw(
            frame,
            list,
            "Faces",
            &format!("Faces in the collection ({}) — Enter show · Ctrl-D delete · D duplicates", self.list.len()),
            "faces",
            "No faces indexed yet.",
        );
        if let Some(preview) = preview
            && matches!(self.list.data(), Loadable::Loaded(_))
        {
            draw_image(frame, preview, ctx, "Rider's thumbnail", self.thumbnail(), "No image for this row.");
        }
        drawn
    }
}

/// One face large: cut out of its source photo by its bounding box, beside the photo.
fn draw_face(frame: &mut Frame, area: Rect, ctx: &mut DrawCtx, face: &FaceRow, photo: Option<String>) {
    let indexed = if face.indexed.is_empty() { "outside the workflow".to_string() } else { face.indexed.clone() };
    let title = format!(" {} — user {} — indexed {indexed} — Esc back · Ctrl-D delete ", face.face_id, face.user);
    let block = Block::new().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [left, right] = Layout::horizontal([Constraint::Percentage(40), Constraint::Fill(1)]).areas(inner);
    let none = "No rider item names this face, so its source photo is unknown.";
    let crop = photo.as_deref().and_then(|p| Faces::crop_key(p, face));
    draw_image(frame, left, ctx, "The face", crop, none);
    let what = photo.as_deref().map_or("Source photo".to_string(), |p| format!("Source photo {p}"));
    draw_image(frame, right, ctx, &what, photo, none);
}

fn draw_duplicates(view: &DuplicatesView, frame: &mut Frame, area: Rect) {
    let title =
        format!("Duplicate accounts — similarity ≥ {:.0}% (+/- adjust, Enter delete extras, Esc back)", view.threshold);
    let groups = match &view.groups {
        Loadable::Loaded(g) => g,
        Loadable::Failed(message) => return draw_message(frame, area, &title, message),
        _ => return draw_message(frame, area, &title, "Searching every face against the collection…"),
    };
    if groups.is_empty() {
        return draw_message(frame, area, &title, "No face matches another user's face above this threshold.");
    }
    let mut lines = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        lines.push(Line::from(vec![
            Span::raw(format!("{}. keep ", i + 1)).bold(),
            Span::styled(g.keep.clone(), Style::new().fg(Color::Green).bold()),
            Span::raw(format!("  (similarity ≥ {:.1}%)", g.similarity)),
        ]));
        lines.push(Line::from(format!("   kept because it is {}", g.why)).dark_gray());
        for f in &g.faces {
            let extra = f.user != g.keep;
            lines.push(Line::from(vec![
                Span::raw(if extra { "   delete " } else { "   keep   " }),
                Span::styled(f.user.clone(), Style::new().fg(if extra { Color::Red } else { Color::Green })),
                Span::raw(format!("  {}", f.face_id)).dark_gray(),
            ]));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(format!(" {title} "))),
        area,
    );
}
