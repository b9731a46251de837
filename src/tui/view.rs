//! Drawing the [`App`]: a tab bar, the current view, a status bar, and the help overlay.
//! Pure rendering: everything shown comes from the state, nothing is fetched here.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::app::{
    App, ExecutionRow, FaceRow, Health, ImageSlot, LabRun, LabStep, Loadable, STATUS_FILTERS, StartForm, StepStatus,
    Tab,
};
use super::detail;

pub fn view(app: &mut App, frame: &mut Frame) {
    // A long sentence wraps onto up to three lines rather than being cut.
    let width = frame.area().width.max(1) as usize;
    let notice_rows = app.notice.as_ref().map_or(0, |(m, _)| (m.chars().count() + 20).div_ceil(width).min(3)) as u16;
    let [tabs, body, notice, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(notice_rows),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_tabs(app, frame, tabs);
    // The outcome of the last action, on its own line so it is never cut off by the target.
    if let Some((message, is_error)) = &app.notice {
        let (mark, color) = if *is_error { ("✖ ", Color::Red) } else { ("✔ ", Color::Green) };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(format!("{mark}{message}"), Style::new().fg(color).bold()),
                Span::raw("  (Esc dismisses)").dark_gray(),
            ]))
            .wrap(Wrap { trim: false }),
            notice,
        );
    }
    // The same window the list views draw, for mouse clicks on rows.
    app.list_first = window(app.selected, app.visible_rows(), body.height.saturating_sub(3) as usize);
    match app.tab {
        Tab::Lab => draw_lab(app, frame, body),
        Tab::Executions => match &app.detail {
            Some(d) => detail::draw_detail(d, frame, body),
            None => draw_executions(app, frame, body),
        },
        Tab::Graph => detail::draw_graph(app, frame, body),
        Tab::Faces => draw_faces(app, frame, body),
        Tab::Photos => draw_photos(app, frame, body),
        Tab::Riders => draw_riders(app, frame, body),
        Tab::Outbox => draw_outbox(app, frame, body),
        Tab::Logs => detail::draw_logs(app, frame, body),
    }
    draw_status(app, frame, status);
    if let Some(form) = &app.form {
        draw_form(form, frame, body);
    }
    if let Some(upload) = &app.upload {
        let mut lines = vec![
            Line::from("A JPEG or PNG on this machine goes to the rider photo bucket under its file name."),
            Line::from(""),
            Line::from(vec![
                Span::styled("Path: ", Style::new().bold().fg(Color::Cyan)),
                Span::styled(format!("{}▏", upload.path), Style::new().add_modifier(Modifier::UNDERLINED)),
            ]),
            Line::from(""),
        ];
        if let Some(error) = &upload.error {
            lines.push(Line::from(Span::styled(error.clone(), Style::new().fg(Color::Red))));
        }
        lines.push(Line::from("Enter upload, Esc cancel.").dark_gray());
        draw_popup(frame, body, " Upload a photo ", lines);
    }
    if let Some(confirm) = &app.confirm {
        let answer = match confirm.word {
            Some(word) => vec![
                Line::from(format!("Type {word} and press Enter to go ahead; Esc cancels.")).bold(),
                Line::from(format!("> {}▏", confirm.typed)),
            ],
            None => vec![Line::from("y: yes    Enter or any other key: no").bold()],
        };
        let mut lines = vec![Line::from(confirm.message.clone()), Line::from("")];
        lines.extend(answer);
        draw_popup(frame, body, " Confirm ", lines);
    }
    if app.show_help {
        draw_help(frame, body);
    }
    if app.no_color {
        strip_colors(frame);
    }
}

/// NO_COLOR: every colour goes; what a background marked (the selected row) is reversed.
fn strip_colors(frame: &mut Frame) {
    let area = frame.area();
    let buf = frame.buffer_mut();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            if let Some(cell) = buf.cell_mut((x, y)) {
                if cell.bg != Color::Reset {
                    cell.modifier.insert(Modifier::REVERSED);
                }
                cell.fg = Color::Reset;
                cell.bg = Color::Reset;
            }
        }
    }
}

/// The first row to draw so that `selected` is visible in `height` rows: lists render only
/// what fits, however many rows they have.
pub fn window(selected: usize, total: usize, height: usize) -> usize {
    if height == 0 || total <= height {
        return 0;
    }
    selected.saturating_sub(height - 1).min(total - height)
}

fn draw_popup(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line<'static>>) {
    let width = area.width.min(72);
    let inner_w = width.saturating_sub(2).max(1) as usize;
    let wrapped: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner_w)).sum();
    let height = (wrapped as u16 + 2).min(area.height);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(title.to_string())),
        popup,
    );
}

fn draw_form(form: &StartForm, frame: &mut Frame, area: Rect) {
    let mut lines =
        vec![Line::from("Input: {\"userId\", \"s3Bucket\": rider photo bucket, \"s3Key\"}"), Line::from("")];
    for (i, label) in StartForm::LABELS.iter().enumerate() {
        let focused = i == form.focus;
        let value = format!("{}{}", form.fields[i], if focused { "▏" } else { "" });
        lines.push(Line::from(vec![
            Span::styled(
                format!("{label:>20}: "),
                if focused { Style::new().bold().fg(Color::Cyan) } else { Style::new() },
            ),
            Span::styled(value, if focused { Style::new().add_modifier(Modifier::UNDERLINED) } else { Style::new() }),
        ]));
    }
    lines.push(Line::from(""));
    if let Some(error) = &form.error {
        lines.push(Line::from(Span::styled(error.clone(), Style::new().fg(Color::Red))));
    }
    lines.push(
        Line::from("A photo path on disk is uploaded for you. Tab next field, Enter start, Esc cancel.").dark_gray(),
    );
    draw_popup(frame, area, " Start an execution ", lines);
}

fn draw_tabs(app: &mut App, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    let mut column = area.x;
    app.tab_hitboxes.clear();
    for (i, tab) in Tab::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, tab.title());
        let width = label.chars().count() as u16;
        app.tab_hitboxes.push((*tab, column, column + width.saturating_sub(1)));
        column += width;
        let style = if *tab == app.tab {
            Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(Color::Gray)
        };
        spans.push(Span::styled(label, style));
    }
    spans.push(Span::raw("  ? help  q quit").dark_gray());
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let (health, color) = match &app.health {
        Health::Unknown => ("connecting…".to_string(), Color::Yellow),
        Health::Up => ("connected".to_string(), Color::Green),
        Health::Down(e) => (format!("unreachable: {e}"), Color::Red),
    };
    let mut spans = vec![
        Span::styled(" ● ", Style::new().fg(color)),
        Span::raw(format!("{}  ", app.target)),
        Span::styled(health, Style::new().fg(color)),
    ];
    if let Some(status) = STATUS_FILTERS.get(app.status_filter).copied().flatten()
        && app.tab == Tab::Executions
    {
        spans.push(Span::raw(format!("   status: {status}")).bold());
    }
    if app.editing_filter || !app.filter.is_empty() {
        spans.push(Span::raw("   filter: ").bold());
        spans.push(Span::raw(app.filter.clone()));
        if app.editing_filter {
            spans.push(Span::raw("▏"));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(Style::new().bg(Color::Rgb(30, 30, 40))), area);
}

/// The placeholder text for a view whose data is not there.
fn not_loaded<T>(loadable: &Loadable<T>, what: &str) -> Option<String> {
    match loadable {
        Loadable::NotLoaded | Loadable::Loading => Some(format!("Loading {what}…")),
        Loadable::Failed(message) => Some(message.clone()),
        Loadable::Loaded(_) => None,
    }
}

pub fn draw_message(frame: &mut Frame, area: Rect, title: &str, message: &str) {
    let block = Block::new().borders(Borders::ALL).title(format!(" {title} "));
    frame.render_widget(Paragraph::new(message.to_string()).wrap(Wrap { trim: true }).block(block), area);
}

fn draw_table(
    frame: &mut Frame,
    area: Rect,
    title: String,
    header: &[&str],
    widths: &[Constraint],
    rows: Vec<Row<'static>>,
    selected: usize,
    empty: &str,
) {
    draw_window(frame, area, title, header, widths, rows, selected, 0, empty)
}

/// A table of which only the visible rows were built: `first` is the index of `rows[0]`.
#[allow(clippy::too_many_arguments)]
fn draw_window(
    frame: &mut Frame,
    area: Rect,
    title: String,
    header: &[&str],
    widths: &[Constraint],
    rows: Vec<Row<'static>>,
    selected: usize,
    first: usize,
    empty: &str,
) {
    let block = Block::new().borders(Borders::ALL).title(title);
    if rows.is_empty() {
        frame.render_widget(Paragraph::new(empty.to_string()).wrap(Wrap { trim: true }).block(block), area);
        return;
    }
    let header = Row::new(header.iter().map(|h| Cell::from(h.to_string())))
        .style(Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan));
    let table = Table::new(rows, widths.to_vec())
        .header(header)
        .block(block)
        .row_highlight_style(Style::new().bg(Color::DarkGray).add_modifier(Modifier::BOLD))
        .highlight_symbol("› ");
    let mut state = TableState::default().with_selected(Some(selected.saturating_sub(first)));
    frame.render_stateful_widget(table, area, &mut state);
}

/// How a Lab step shows: what this dashboard is running or just failed to run wins over
/// what the target says.
fn lab_mark(app: &App, step: &LabStep) -> (&'static str, Color) {
    match app.lab_runs.get(&step.step) {
        Some(LabRun::Running { .. }) => return ("⟳ running", Color::Yellow),
        Some(LabRun::Finished { result: Err(_), .. }) => return ("✖ failed", Color::Red),
        _ => {}
    }
    match step.status {
        StepStatus::Done => ("✔ done", Color::Green),
        StepStatus::Todo => ("○ to do", Color::Yellow),
        StepStatus::Running => ("⟳ running", Color::Yellow),
        StepStatus::Unavailable => ("? unknown", Color::DarkGray),
        StepStatus::Unexpected => ("≠ other", Color::Magenta),
    }
}

fn draw_lab(app: &App, frame: &mut Frame, area: Rect) {
    if let Some(message) = not_loaded(&app.lab, "the workshop's progress") {
        return draw_message(frame, area, "Lab", &message);
    }
    let steps = app.lab.rows().cloned().unwrap_or_default();
    // The pane under the checklist keeps room for the step's story; the list scrolls.
    let pane_min = if area.height >= 20 { 7 } else { 4 };
    let list_height = (steps.len() as u16 + 3).min(area.height.saturating_sub(pane_min).max(3));
    let [list, pane] = Layout::vertical([Constraint::Length(list_height), Constraint::Fill(1)]).areas(area);
    let wide = area.width >= 120;
    let rows = steps
        .iter()
        .map(|step| {
            let (mark, color) = lab_mark(app, step);
            let detail = match app.lab_runs.get(&step.step) {
                Some(LabRun::Running { lines }) => lines.last().cloned().unwrap_or_else(|| "starting…".into()),
                Some(LabRun::Finished { result: Err(e), .. }) => e.clone(),
                _ => step.detail.clone(),
            };
            Row::new(vec![
                Cell::from(step.step.number()),
                Cell::from(step.title.clone()),
                Cell::from(mark).style(Style::new().fg(color)),
                Cell::from(detail).style(Style::new().fg(if color == Color::Red { Color::Red } else { Color::Gray })),
            ])
        })
        .collect();
    let title_width = if wide { 42 } else { 34 };
    draw_table(
        frame,
        list,
        " Lab: the rider-photo workshop — Enter run · e its execution · a every step ".into(),
        &["", "Step", "Status", "What is there"],
        &[Constraint::Length(3), Constraint::Length(title_width), Constraint::Length(10), Constraint::Fill(1)],
        rows,
        app.selected,
        "No steps.",
    );
    let Some(step) = steps.get(app.selected) else { return };
    let mut lines = vec![Line::from(step.step.explain())];
    match app.lab_runs.get(&step.step) {
        Some(run @ LabRun::Running { .. }) => {
            lines.push(Line::from("Running:").bold().fg(Color::Yellow));
            lines.extend(run.lines().iter().map(|l| Line::from(format!("  {l}"))));
        }
        Some(LabRun::Finished { result, lines: progress }) => {
            lines.extend(progress.iter().map(|l| Line::from(format!("  {l}")).dark_gray()));
            lines.push(match result {
                Ok(outcome) if outcome.as_expected => Line::from(format!("✔ {}", outcome.message)).fg(Color::Green),
                Ok(outcome) => Line::from(format!("≠ {}", outcome.message)).fg(Color::Magenta).bold(),
                Err(e) => Line::from(format!("✖ {e}")).fg(Color::Red).bold(),
            });
        }
        None => lines.push(Line::from(format!("On the target: {}", step.detail)).fg(Color::Gray)),
    }
    if let Some(arn) = app.lab_execution(step) {
        let name = arn.rsplit(':').next().unwrap_or_default().to_string();
        lines.push(Line::from(vec![
            Span::raw("Execution: ").bold(),
            Span::raw(name),
            Span::raw("  (e opens it)").dark_gray(),
        ]));
    }
    // Show the end of the story: the newest progress lines and the outcome.
    let inner_width = pane.width.saturating_sub(2).max(1) as usize;
    let inner_height = pane.height.saturating_sub(2) as usize;
    let wrapped: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner_width)).sum();
    let scroll = wrapped.saturating_sub(inner_height).min(u16::MAX as usize) as u16;
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(Block::new().borders(Borders::ALL).title(format!(" {} ", step.title))),
        pane,
    );
}

pub fn status_color(status: &str) -> Color {
    match status {
        "SUCCEEDED" => Color::Green,
        "RUNNING" | "PENDING_REDRIVE" => Color::Yellow,
        "FAILED" | "TIMED_OUT" | "ABORTED" => Color::Red,
        _ => Color::Gray,
    }
}

fn draw_executions(app: &App, frame: &mut Frame, area: Rect) {
    if let Some(message) = not_loaded(&app.executions, "executions") {
        return draw_message(frame, area, "Executions", &message);
    }
    let all = app.filtered_executions();
    let height = area.height.saturating_sub(3) as usize;
    let first = window(app.selected, all.len(), height);
    let rows: Vec<Row> = all
        .iter()
        .skip(first)
        .take(height)
        .map(|e| {
            Row::new(vec![
                Cell::from(e.name.clone()),
                Cell::from(e.state_machine.clone()),
                Cell::from(e.status.clone()).style(Style::new().fg(status_color(&e.status))),
                Cell::from(e.started.clone()),
                Cell::from(e.duration.clone()),
                Cell::from(e.user.clone()),
                Cell::from(e.outcome()).style(Style::new().fg(outcome_color(e))),
            ])
        })
        .collect();
    let count = all.len();
    let status = STATUS_FILTERS.get(app.status_filter).copied().flatten().unwrap_or("any status");
    let wide = area.width >= 120;
    let widths = if wide {
        vec![
            Constraint::Fill(2),
            Constraint::Length(24),
            Constraint::Length(10),
            Constraint::Length(19),
            Constraint::Length(8),
            Constraint::Length(12),
            Constraint::Fill(3),
        ]
    } else {
        vec![
            Constraint::Fill(2),
            Constraint::Length(5),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(0),
            Constraint::Fill(3),
        ]
    };
    // At 80 columns the start time keeps only its clock.
    let rows = if wide {
        rows
    } else {
        all.iter()
            .skip(first)
            .take(height)
            .map(|e| {
                Row::new(vec![
                    Cell::from(e.name.clone()),
                    Cell::from(e.state_machine.replace("RiderPhotoProcessing", "RPP")),
                    Cell::from(e.status.clone()).style(Style::new().fg(status_color(&e.status))),
                    Cell::from(e.started.get(11..).unwrap_or_default().to_string()),
                    Cell::from(e.duration.clone()),
                    Cell::from(""),
                    Cell::from(e.outcome()).style(Style::new().fg(outcome_color(e))),
                ])
            })
            .collect()
    };
    draw_window(
        frame,
        area,
        format!(" Executions ({count}, {status}) — Enter open · f status · s start · x stop · r rerun · R redrive "),
        &["Name", "State machine", "Status", "Started", "Duration", "User", "Outcome"],
        &widths,
        rows,
        app.selected,
        first,
        &empty_or_filtered(
            app,
            "No executions here. Start one with s, or from the Lab view; f changes the status filter.",
        ),
    );
}

/// The preview pane of the selected row's image.
fn draw_preview(app: &mut App, frame: &mut Frame, area: Rect, what: &str) {
    let key = app.preview_key();
    draw_image(app, frame, area, what, key, "No image for this row.");
}

/// An image loaded by its key ("bucket/key"), scaled into a bordered pane.
fn draw_image(app: &mut App, frame: &mut Frame, area: Rect, what: &str, key: Option<String>, none: &str) {
    let block = Block::new().borders(Borders::ALL).title(format!(" {what} "));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(key) = key else {
        frame.render_widget(Paragraph::new(none.to_string()).wrap(Wrap { trim: true }), inner);
        return;
    };
    match app.images.get_mut(&key) {
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
fn with_preview(area: Rect) -> (Rect, Option<Rect>) {
    if area.width < 100 {
        return (area, None);
    }
    let [list, preview] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(area.width / 3)]).areas(area);
    (list, Some(preview))
}

fn draw_faces(app: &mut App, frame: &mut Frame, area: Rect) {
    if let Some(message) = not_loaded(&app.faces, "faces") {
        return draw_message(frame, area, "Faces", &message);
    }
    if app.duplicates.is_some() {
        return draw_duplicates(app, frame, area);
    }
    if let Some((face, photo)) = app.opened_face() {
        return draw_face(app, frame, area, &face, photo);
    }
    let (list, preview) = with_preview(area);
    let all = app.filtered_faces();
    let height = list.height.saturating_sub(3) as usize;
    let first = window(app.selected, all.len(), height);
    let rows: Vec<Row> = all
        .iter()
        .skip(first)
        .take(height)
        .map(|f| {
            Row::new(vec![
                Cell::from(f.face_id.clone()),
                Cell::from(f.user.clone()),
                Cell::from(format!("{:.1}", f.confidence)),
                Cell::from(if f.indexed.is_empty() { "—".to_string() } else { f.indexed.clone() }),
            ])
        })
        .collect();
    let count = all.len();
    draw_window(
        frame,
        list,
        format!(" Faces in the collection ({count}) — Enter show · d delete · D find duplicates "),
        &["FaceId", "User", "Confidence", "Indexed"],
        &[Constraint::Length(37), Constraint::Fill(1), Constraint::Length(10), Constraint::Length(19)],
        rows,
        app.selected,
        first,
        &empty_or_filtered(app, "No faces indexed yet."),
    );
    if let Some(preview) = preview {
        draw_preview(app, frame, preview, "Rider's thumbnail");
    }
}

/// One face large: cut out of its source photo by its bounding box, beside the photo.
fn draw_face(app: &mut App, frame: &mut Frame, area: Rect, face: &FaceRow, photo: Option<String>) {
    let indexed = if face.indexed.is_empty() { "outside the workflow".to_string() } else { face.indexed.clone() };
    let title = format!(" {} — user {} — indexed {indexed} — Esc back · d delete ", face.face_id, face.user);
    let block = Block::new().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [left, right] = Layout::horizontal([Constraint::Percentage(40), Constraint::Fill(1)]).areas(inner);
    let none = "No rider item names this face, so its source photo is unknown.";
    let crop = photo.as_deref().and_then(|p| App::face_crop_key(p, face));
    draw_image(app, frame, left, "The face", crop, none);
    let what = photo.as_deref().map_or("Source photo".to_string(), |p| format!("Source photo {p}"));
    draw_image(app, frame, right, &what, photo, none);
}

fn draw_duplicates(app: &App, frame: &mut Frame, area: Rect) {
    let Some(view) = &app.duplicates else { return };
    let title = format!(
        " Duplicate accounts — similarity ≥ {:.0}% (+/- adjust, Enter delete extras, Esc back) ",
        view.threshold
    );
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
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::new().borders(Borders::ALL).title(title)),
        area,
    );
}

/// What an empty table says: with a filter on, that the filter hides the rows, not that
/// there are none.
fn empty_or_filtered(app: &App, empty: &str) -> String {
    if app.filter.is_empty() {
        empty.to_string()
    } else {
        format!("Nothing here matches the filter “{}”: Esc clears it.", app.filter)
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

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KB", b as f64 / (1 << 10) as f64),
        b => format!("{b} B"),
    }
}

fn draw_photos(app: &mut App, frame: &mut Frame, area: Rect) {
    if let Some(message) = not_loaded(&app.photos, "photos") {
        return draw_message(frame, area, "Photos", &message);
    }
    let (list, preview) = with_preview(area);
    let all = app.filtered_photos();
    let height = list.height.saturating_sub(3) as usize;
    let first = window(app.selected, all.len(), height);
    let rows: Vec<Row> = all
        .iter()
        .skip(first)
        .take(height)
        .map(|o| {
            Row::new(vec![
                Cell::from(o.bucket.clone()),
                Cell::from(o.key.clone()),
                Cell::from(human_size(o.size)),
                Cell::from(o.modified.clone()),
            ])
        })
        .collect();
    let count = all.len();
    draw_window(
        frame,
        list,
        format!(" Photos and thumbnails ({count}) "),
        &["Bucket", "Key", "Size", "Modified"],
        &[Constraint::Fill(1), Constraint::Fill(2), Constraint::Length(9), Constraint::Length(19)],
        rows,
        app.selected,
        first,
        &empty_or_filtered(app, "The workshop's buckets are empty."),
    );
    if let Some(preview) = preview {
        draw_preview(app, frame, preview, "Preview");
    }
}

fn draw_riders(app: &App, frame: &mut Frame, area: Rect) {
    if let Some(message) = not_loaded(&app.riders, "riders") {
        return draw_message(frame, area, "Riders", &message);
    }
    let rows: Vec<Row> = app
        .riders
        .rows()
        .into_iter()
        .flatten()
        .filter(|r| app.matches_filter(&format!("{} {}", r.user, r.face_id)))
        .map(|r| {
            Row::new(vec![
                Cell::from(r.user.clone()),
                Cell::from(r.face_id.clone()),
                Cell::from(r.photo.clone()),
                Cell::from(r.thumbnail.clone()),
            ])
        })
        .collect();
    let count = rows.len();
    draw_table(
        frame,
        area,
        format!(" Riders ({count}) — each user can register once (attribute_not_exists(Username)) "),
        &["User", "FaceId", "Photo", "Thumbnail"],
        &[Constraint::Fill(1), Constraint::Length(38), Constraint::Fill(2), Constraint::Fill(2)],
        rows,
        app.selected,
        &empty_or_filtered(app, "No riders registered yet."),
    );
}

fn draw_outbox(app: &App, frame: &mut Frame, area: Rect) {
    if let Some(message) = not_loaded(&app.outbox, "the outbox") {
        return draw_message(frame, area, "Outbox", &message);
    }
    let mails: Vec<_> = app
        .outbox
        .rows()
        .into_iter()
        .flatten()
        .filter(|m| app.matches_filter(&format!("{} {} {}", m.to, m.subject, m.body)))
        .collect();
    let [list, detail] = Layout::vertical([Constraint::Percentage(55), Constraint::Fill(1)]).areas(area);
    let rows: Vec<Row> = mails
        .iter()
        .map(|m| Row::new(vec![Cell::from(m.sent.clone()), Cell::from(m.to.clone()), Cell::from(m.subject.clone())]))
        .collect();
    draw_table(
        frame,
        list,
        format!(" Outbox ({}) — mail the notification function sent ", mails.len()),
        &["Sent", "To", "Subject"],
        &[Constraint::Length(19), Constraint::Fill(1), Constraint::Fill(2)],
        rows,
        app.selected,
        &empty_or_filtered(app, "No mail sent yet."),
    );
    if let Some(mail) = mails.get(app.selected) {
        let text = format!("From: {}\nTo: {}\nSubject: {}\n\n{}", mail.from, mail.to, mail.subject, mail.body);
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .block(Block::new().borders(Borders::ALL).title(" Message ")),
            detail,
        );
    }
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let keys = [
        ("1-8, Tab, ←/→, h/l", "switch view"),
        ("Enter", "Lab: run the step · open an execution · a graph state · a face"),
        ("e", "Lab: open the execution the step started"),
        ("a", "Lab: every step still to do, one after the other"),
        ("Esc", "back, close, clear the filter"),
        ("f", "Executions: cycle the status filter"),
        ("s / x / r / R", "Executions: start · stop, rerun, redrive (asks)"),
        ("o", "Executions: show the execution in the Graph"),
        ("J/K, L", "execution: scroll the event JSON · its function's logs"),
        ("←/→", "execution: replay it event by event on its graph"),
        ("d / D, +/-", "Faces: delete · find duplicates, threshold"),
        ("u", "Photos: upload a file from disk"),
        ("↑/↓, j/k", "move"),
        ("PgUp/PgDn, Home/End", "move by a page, to the ends"),
        ("/", "filter the list (Enter keeps it, Esc clears it)"),
        ("F5, Ctrl-R", "refresh now (views also refresh every 3 s)"),
        ("mouse", "click a tab or a row, scroll the list"),
        ("?", "this help"),
        ("q, Ctrl-C", "quit (q asks while a Lab step runs)"),
    ];
    let lines: Vec<Line> = keys
        .iter()
        .map(|(k, what)| {
            Line::from(vec![Span::styled(format!("{k:>22}  "), Style::new().fg(Color::Cyan).bold()), Span::raw(*what)])
        })
        .collect();
    // As wide as its longest line (and the borders), so no line is cut where there is room;
    // on a narrow terminal the lines wrap rather than end mid-word.
    let longest = lines.iter().map(|l| l.width()).max().unwrap_or(0) as u16;
    let width = area.width.min(longest + 2);
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(" Keys (any key closes) ")),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::{Action, LabStep, Loaded, ObjectRow, Step, update};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::{Terminal, backend::TestBackend};

    fn render(app: &mut App, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| view(app, frame)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        (0..height)
            .map(|y| (0..width).map(|x| buffer[(x, y)].symbol().to_string()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    use crate::tui::app::{
        ExecutionDetail, ExecutionRow, FaceRow, FunctionLogs, GraphData, HistoryRow, MailRow, RiderRow,
    };

    const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

    fn press(app: &mut App, c: KeyCode) {
        update(app, Action::Key(KeyEvent::new(c, KeyModifiers::NONE)));
    }

    fn exec(i: usize, status: &str) -> ExecutionRow {
        ExecutionRow {
            name: format!("exec-{i:05}"),
            state_machine: "RiderPhotoProcessing-4".into(),
            status: status.into(),
            started: "2026-11-25 05:00:00".into(),
            duration: "2.5 s".into(),
            arn: format!("arn:aws:states:us-east-1:000000000000:execution:RiderPhotoProcessing-4:exec-{i:05}"),
            user: format!("user_{i}"),
            photo: "1_happy_face.jpg".into(),
            verdict: Some(crate::ops::failure::sample(status)),
        }
    }

    fn workflow() -> serde_json::Value {
        let path = format!("{}/statemachine/RiderPhotoProcessing-4.asl.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
    }

    fn failed_detail() -> ExecutionDetail {
        let ev = |id: i64, kind: &str, state: &str, json: serde_json::Value| HistoryRow {
            id,
            previous: id - 1,
            kind: kind.into(),
            state: state.into(),
            time: "2026-11-25 05:00:01".into(),
            elapsed_ms: 12,
            json,
            function: None,
        };
        ExecutionDetail {
            arn: exec(1, "FAILED").arn,
            name: "exec-00001".into(),
            status: "SUCCEEDED".into(),
            state_machine: "RiderPhotoProcessing-4".into(),
            events: vec![
                ev(
                    1,
                    "ExecutionStarted",
                    "",
                    serde_json::json!({"input": {"userId": "user_b", "s3Key": "2_sunglass_face.jpg"}}),
                ),
                ev(
                    2,
                    "TaskStateEntered",
                    "FaceDetection",
                    serde_json::json!({"name": "FaceDetection", "input": {"userId": "user_b"}}),
                ),
                ev(
                    3,
                    "LambdaFunctionFailed",
                    "FaceDetection",
                    serde_json::json!({"error": "PhotoDoesNotMeetRequirementError", "cause": {"errorMessage": "Face is wearing sunglasses"}}),
                ),
                ev(
                    4,
                    "TaskStateEntered",
                    "PhotoDoesNotMeetRequirement",
                    serde_json::json!({"name": "PhotoDoesNotMeetRequirement", "input": {}}),
                ),
            ],
            definition: Some(workflow()),
        }
    }

    /// Every view, in each of its states, at 80×24 and 160×48: what must be on screen.
    fn cases() -> Vec<(&'static str, App, Vec<&'static str>)> {
        let mut cases = Vec::new();
        let at = |tab: char| {
            let mut app = App::new("local cloud http://127.0.0.1:4566 (us-east-1)");
            press(&mut app, KeyCode::Char(tab));
            app
        };
        // Loading, empty and error states of every tab.
        for (tab, loading) in [
            ('1', "Loading the workshop"),
            ('2', "Loading executions"),
            ('3', "Loading the state machine"),
            ('4', "Loading faces"),
            ('5', "Loading photos"),
            ('6', "Loading riders"),
            ('7', "Loading the outbox"),
            ('8', "Loading the functions"),
        ] {
            cases.push(("loading", at(tab), vec![loading]));
        }
        let mut app = at('2');
        update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![]))));
        cases.push(("executions empty", app, vec!["No executions here"]));
        let mut app = at('2');
        update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
        press(&mut app, KeyCode::Char('/'));
        for c in "zz".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        cases.push(("executions filtered out", app, vec!["Nothing here matches the filter", "zz"]));
        let mut app = at('2');
        update(
            &mut app,
            Action::Loaded(Loaded::Executions(Err("cannot reach the endpoint (connection refused)".into()))),
        );
        cases.push(("executions error", app, vec!["connection refused"]));
        let mut app = at('3');
        update(
            &mut app,
            Action::Loaded(Loaded::Graph(
                Err("No state machine yet: deploy the workshop (Lab) to create them.".into()),
            )),
        );
        cases.push(("graph error", app, vec!["No state machine yet"]));
        let mut app = at('4');
        update(&mut app, Action::Loaded(Loaded::Faces(Ok(vec![]))));
        cases.push(("faces empty", app, vec!["No faces indexed yet"]));
        let mut app = at('8');
        update(&mut app, Action::Loaded(Loaded::Logs(Err("On AWS, function logs are in CloudWatch Logs".into()))));
        cases.push(("logs error", app, vec!["CloudWatch"]));

        // Loaded views.
        let mut app = at('2');
        update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED"), exec(2, "SUCCEEDED")]))));
        cases.push(("executions", app, vec!["exec-00001", "FAILED", "failed at FaceDetection", "SUCCEEDED"]));
        let mut app = at('2');
        update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
        press(&mut app, KeyCode::Enter);
        cases.push(("detail loading", app, vec!["Loading the execution's history"]));
        let mut app = at('2');
        update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
        press(&mut app, KeyCode::Enter);
        update(&mut app, Action::Loaded(Loaded::History(exec(1, "FAILED").arn, Ok(failed_detail()))));
        cases.push(("detail", app, vec!["LambdaFunctionFailed", "PhotoDoesNotMeetRequirementError", "Event 3"]));
        let mut app = at('3');
        update(
            &mut app,
            Action::Loaded(Loaded::Graph(Ok(GraphData {
                title: "RiderPhotoProcessing-4 — execution exec-00001 (RUNNING)".into(),
                definition: workflow(),
                execution: Some(failed_detail()),
            }))),
        );
        cases.push(("graph", app, vec!["FaceDetection", "RiderPhotoProcessing-4"]));
        let mut app = at('3');
        update(
            &mut app,
            Action::Loaded(Loaded::Graph(Ok(GraphData {
                title: "RiderPhotoProcessing-4".into(),
                definition: workflow(),
                execution: Some(failed_detail()),
            }))),
        );
        press(&mut app, KeyCode::Enter);
        cases.push(("graph state", app, vec!["Input", "Error", "PhotoDoesNotMeetRequirementError"]));
        let mut app = at('4');
        update(
            &mut app,
            Action::Loaded(Loaded::Faces(Ok(vec![FaceRow {
                face_id: "0b7c6a2e-0000-4000-8000-000000000001".into(),
                user: "user_a".into(),
                confidence: 99.9,
                indexed: "2026-11-25 05:00:03".into(),
                bounding_box: None,
            }]))),
        );
        cases.push(("faces", app, vec!["user_a", "99.9", "05:00:03"]));
        let mut app = at('4');
        update(&mut app, Action::Loaded(Loaded::Faces(Ok(vec![face("f1", "user_a"), face("f2", "user_a_again")]))));
        press(&mut app, KeyCode::Char('D'));
        let faces = app.faces.rows().cloned().unwrap_or_default();
        let groups = crate::ops::faces::group(&faces, &[("f1".into(), "f2".into(), 97.0)], &[]);
        update(&mut app, Action::Loaded(Loaded::Duplicates(Ok(groups))));
        cases.push(("duplicates", app, vec!["keep user_a", "delete user_a_again"]));
        let mut app = at('6');
        update(
            &mut app,
            Action::Loaded(Loaded::Riders(Ok(vec![RiderRow {
                user: "user_a".into(),
                face_id: "f1".into(),
                photo: "b/1.jpg".into(),
                thumbnail: "t/1.jpg".into(),
            }]))),
        );
        cases.push(("riders", app, vec!["user_a"]));
        let mut app = at('7');
        update(
            &mut app,
            Action::Loaded(Loaded::Outbox(Ok(vec![MailRow {
                sent: "05:00".into(),
                from: "a@x".into(),
                to: "ops@x".into(),
                subject: "Photo rejected".into(),
                body: "sunglasses".into(),
            }]))),
        );
        cases.push(("outbox", app, vec!["Photo rejected"]));
        let mut app = at('8');
        update(
            &mut app,
            Action::Loaded(Loaded::Logs(Ok(vec![FunctionLogs {
                function: "wildrydes-face-detection".into(),
                lines: vec!["05:00:01 1a2b3c4d Detected 0 faces".into()],
            }]))),
        );
        cases.push(("logs", app, vec!["wildrydes-face-detection", "Detected 0 faces"]));
        let mut app = at('2');
        update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![]))));
        press(&mut app, KeyCode::Char('s'));
        cases.push(("start form", app, vec!["Start an execution", "User id"]));
        let mut app = at('4');
        update(&mut app, Action::Loaded(Loaded::Faces(Ok(vec![face("f1", "user_a")]))));
        press(&mut app, KeyCode::Char('d'));
        cases.push(("confirm", app, vec!["user user_a", "y: yes"]));
        let mut app = at('4');
        update(
            &mut app,
            Action::Loaded(Loaded::Faces(Ok(vec![FaceRow {
                indexed: "2026-11-25 05:00:03".into(),
                bounding_box: Some([0.3, 0.2, 0.4, 0.5]),
                ..face("f1", "user_a")
            }]))),
        );
        update(
            &mut app,
            Action::Loaded(Loaded::Riders(Ok(vec![RiderRow {
                user: "user_a".into(),
                face_id: "f1".into(),
                photo: "wildrydes-riderphotos/1_happy_face.jpg".into(),
                thumbnail: "wildrydes-thumbnails/1_happy_face.jpg".into(),
            }]))),
        );
        press(&mut app, KeyCode::Enter);
        cases.push(("face opened", app, vec!["The face", "Source photo", "indexed 2026-11-25 05:00:03", "Loading"]));
        let mut app = at('5');
        update(&mut app, Action::Loaded(Loaded::Photos(Ok(vec![]))));
        press(&mut app, KeyCode::Char('u'));
        cases.push(("upload form", app, vec!["Upload a photo", "Path:"]));
        // The Lab: a step running, one that failed, one done, and the clean-up's question.
        let lab = || {
            let mut app = at('1');
            update(&mut app, Action::Loaded(Loaded::Lab(Ok(lab_steps()))));
            app
        };
        let mut app = lab();
        for _ in 0..3 {
            press(&mut app, KeyCode::Down);
        }
        press(&mut app, KeyCode::Enter);
        update(&mut app, Action::Loaded(Loaded::LabProgress(Step::Photo(0), "→ FaceDetection".into())));
        cases.push(("lab running", app, vec!["⟳ running", "→ FaceDetection", "Run 1_happy_face.jpg"]));
        let mut app = lab();
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Enter);
        update(
            &mut app,
            Action::Loaded(Loaded::LabDone(
                Step::Resources,
                Err("Function wildrydes-face-detection: cannot read the binary".into()),
            )),
        );
        cases.push(("lab failed", app, vec!["✖ failed", "cannot read the binary"]));
        let mut app = lab();
        for _ in 0..4 {
            press(&mut app, KeyCode::Down);
        }
        press(&mut app, KeyCode::Enter);
        update(
            &mut app,
            Action::Loaded(Loaded::LabDone(
                Step::Photo(1),
                Ok(crate::tui::lab::Outcome {
                    message: "2_sunglass_face.jpg as user_b: SUCCEEDED in 2.1 s — refused at FaceDetection: \
                              PhotoDoesNotMeetRequirementError — Face is wearing sunglasses"
                        .into(),
                    execution: Some(exec(2, "SUCCEEDED").arn),
                    as_expected: true,
                }),
            )),
        );
        cases.push(("lab done", app, vec!["✔ 2_sunglass_face.jpg as user_b", "sunglasses", "Execution: exec-00002"]));
        let mut app = lab();
        press(&mut app, KeyCode::End);
        press(&mut app, KeyCode::Enter);
        cases.push(("lab clean-up asks", app, vec!["Delete every workshop resource", "Type delete"]));
        cases
    }

    fn face(id: &str, user: &str) -> FaceRow {
        FaceRow { face_id: id.into(), user: user.into(), confidence: 99.9, ..Default::default() }
    }

    /// The Lab's steps as a fresh deploy leaves them: resources done, photos still to run.
    fn lab_steps() -> Vec<LabStep> {
        Step::ALL
            .into_iter()
            .map(|step| {
                let done = matches!(step, Step::Collection | Step::Resources | Step::StateMachine(_));
                LabStep {
                    step,
                    title: step.title(),
                    status: if done { StepStatus::Done } else { StepStatus::Todo },
                    detail: if done { "created".into() } else { "not yet".into() },
                    execution: None,
                }
            })
            .collect()
    }

    #[test]
    fn every_view_renders_its_states_at_80x24_and_160x48() {
        for (name, mut app, expected) in cases() {
            for (w, h) in SIZES {
                let screen = render(&mut app, w, h);
                for text in &expected {
                    assert!(screen.contains(text), "{name} at {w}x{h}: {text:?} missing in\n{screen}");
                }
                assert!(screen.contains("local cloud"), "{name} at {w}x{h}: the status bar names the target");
            }
        }
    }

    #[test]
    fn ten_thousand_executions_render_only_the_visible_window() {
        let mut app = App::new("local");
        press(&mut app, KeyCode::Char('2'));
        update(&mut app, Action::Loaded(Loaded::Executions(Ok((0..10_000).map(|i| exec(i, "SUCCEEDED")).collect()))));
        press(&mut app, KeyCode::End);
        let screen = render(&mut app, 80, 24);
        assert!(screen.contains("exec-09999"), "{screen}");
        assert!(!screen.contains("exec-00000"));
        // A click on the first row on screen selects that row, not row 0 of the list.
        let first_on_screen = app.list_first;
        assert!(first_on_screen > 9_900);
        update(
            &mut app,
            Action::Mouse(crossterm::event::MouseEvent {
                kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
                column: 5,
                row: 3,
                modifiers: KeyModifiers::NONE,
            }),
        );
        assert_eq!(app.selected, first_on_screen);
        assert_eq!(window(9_999, 10_000, 20), 9_980);
        assert_eq!(window(5, 10_000, 20), 0);
        assert_eq!(window(3, 2, 20), 0);
    }

    #[test]
    fn no_color_leaves_no_colour_in_the_buffer() {
        let mut app = App::new("local");
        app.no_color = true;
        press(&mut app, KeyCode::Char('2'));
        update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|frame| view(&mut app, frame)).unwrap();
        let buffer = terminal.backend().buffer();
        assert!(buffer.content().iter().all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
        assert!(buffer.content().iter().any(|c| c.modifier.contains(Modifier::REVERSED)), "the selection still shows");
    }

    #[test]
    fn json_is_coloured_by_kind() {
        let lines = detail::json_lines(&serde_json::json!({"error": "E", "n": 3, "ok": true}));
        let styled = |text: &str| {
            lines.iter().flat_map(|l| l.spans.iter()).find(|s| s.content.contains(text)).map(|s| s.style.fg)
        };
        assert_eq!(styled("\"error\""), Some(Some(Color::Cyan)));
        assert_eq!(styled("\"E\""), Some(Some(Color::Green)));
        assert_eq!(styled("3"), Some(Some(Color::Magenta)));
        assert_eq!(styled("true"), Some(Some(Color::Yellow)));
    }

    #[test]
    fn lab_lists_steps_with_their_status_at_80_by_24() {
        let mut app = App::new("local cloud http://127.0.0.1:4566");
        update(
            &mut app,
            Action::Loaded(Loaded::Lab(Ok(vec![
                LabStep {
                    step: Step::Collection,
                    title: "Create the collection".into(),
                    status: StepStatus::Done,
                    detail: "rider-photos, 0 faces".into(),
                    execution: None,
                },
                LabStep {
                    step: Step::Resources,
                    title: "Deploy".into(),
                    status: StepStatus::Todo,
                    detail: "no riders table".into(),
                    execution: None,
                },
            ]))),
        );
        let screen = render(&mut app, 80, 24);
        assert!(screen.contains("Create the collection"), "{screen}");
        assert!(screen.contains("✔ done"));
        assert!(screen.contains("○ to do"));
        assert!(screen.contains("local cloud http://127.0.0.1:4566"));
    }

    #[test]
    fn a_failed_view_shows_its_reason() {
        let mut app = App::new("local");
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('6'), KeyModifiers::NONE)));
        update(
            &mut app,
            Action::Loaded(Loaded::Riders(Err("The riders table wildrydes-riders does not exist yet.".into()))),
        );
        let screen = render(&mut app, 80, 24);
        assert!(screen.contains("does not exist yet"), "{screen}");
    }

    #[test]
    fn photos_render_sizes_readably_and_help_overlays_the_view() {
        let mut app = App::new("local");
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('5'), KeyModifiers::NONE)));
        let row = ObjectRow {
            bucket: "wildrydes-riderphotos".into(),
            key: "1_selfie.jpg".into(),
            size: 220_706,
            modified: "2026-11-25 01:00:00".into(),
        };
        update(&mut app, Action::Loaded(Loaded::Photos(Ok(vec![row]))));
        let screen = render(&mut app, 100, 30);
        assert!(screen.contains("215.5 KB"), "{screen}");
        update(&mut app, Action::Key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE)));
        let screen = render(&mut app, 100, 30);
        assert!(screen.contains("filter the list"), "{screen}");
        // Wide enough for its longest line: nothing is cut where the terminal has room.
        let screen = render(&mut app, 160, 48);
        assert!(screen.contains("Lab: run the step · open an execution · a graph state · a face"), "{screen}");
        assert!(screen.contains("filter the list (Enter keeps it, Esc clears it)"), "{screen}");
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        let mut app = App::new("local");
        app.show_help = true;
        for (w, h) in [(1, 1), (10, 3), (20, 5), (80, 24), (200, 60)] {
            render(&mut app, w, h);
        }
    }
}
