//! The dashboard's rendering (not a test): time to the first frame, and the time of one
//! frame with 10,000 executions and with 10,000 faces, each beside a peer run of the same
//! view with 10 rows, so the ratio says whether a frame grows with the list (it should not:
//! only the visible rows are built). Frames are drawn into ratatui's TestBackend at 160×48
//! (what a terminal would get, minus the terminal's own write).
//!
//!     cargo bench --profile dev --bench tui
//!     BENCH_FRAMES=300 (the default)

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::{Terminal, backend::TestBackend};
use wildrydes::tui::app::{Action, App, ExecutionRow, FaceRow, LabStep, Loaded, Step, StepStatus, update};
use wildrydes::tui::view::view;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn press(app: &mut App, code: KeyCode) {
    update(app, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn executions(n: usize) -> Vec<ExecutionRow> {
    (0..n)
        .map(|i| ExecutionRow {
            name: format!("exec-{i:05}"),
            state_machine: "RiderPhotoProcessing-4".into(),
            status: if i % 3 == 0 { "FAILED" } else { "SUCCEEDED" }.into(),
            started: "2026-11-25 05:00:00".into(),
            duration: "2.5 s".into(),
            arn: format!("arn:aws:states:us-east-1:000000000000:execution:RiderPhotoProcessing-4:exec-{i:05}"),
            user: format!("user_{i}"),
            photo: "1_happy_face.jpg".into(),
            verdict: Some(if i % 3 == 0 {
                wildrydes::ops::Verdict::Failed {
                    status: "FAILED".into(),
                    state: "FaceDetection".into(),
                    error: "PhotoDoesNotMeetRequirementError".into(),
                    reason: "Face is wearing sunglasses".into(),
                }
            } else {
                wildrydes::ops::Verdict::Succeeded
            }),
        })
        .collect()
}

fn faces(n: usize) -> Vec<FaceRow> {
    (0..n)
        .map(|i| FaceRow {
            face_id: format!("0b7c6a2e-0000-4000-8000-{i:012}"),
            user: format!("user_{i}"),
            confidence: 99.9,
            indexed: "2026-11-25 05:00:03".into(),
            bounding_box: Some([0.3, 0.2, 0.4, 0.5]),
        })
        .collect()
}

/// p50 and p95 of `frames` draws of the app's current view, in microseconds.
fn frame_times(app: &mut App, frames: usize) -> (f64, f64) {
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        // Move the cursor, as a user scrolling does, so every frame draws another window.
        press(app, if i % 2 == 0 { KeyCode::PageDown } else { KeyCode::Down });
        let started = Instant::now();
        terminal.draw(|frame| view(app, frame)).expect("draw");
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.95))
}

fn on_tab(tab: char, loaded: Loaded) -> App {
    let mut app = App::new("local cloud http://127.0.0.1:4566 (us-east-1)");
    press(&mut app, KeyCode::Char(tab));
    update(&mut app, Action::Loaded(loaded));
    app
}

fn main() {
    let frames = env_usize("BENCH_FRAMES", 300);

    // The first frame: a new App, its start effects, one draw (what the user sees first).
    let mut first = Vec::new();
    for _ in 0..frames.min(100) {
        let started = Instant::now();
        let mut app = App::new("local cloud http://127.0.0.1:4566 (us-east-1)");
        let _ = app.start();
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
        terminal.draw(|frame| view(&mut app, frame)).expect("draw");
        first.push(started.elapsed().as_secs_f64() * 1e6);
    }
    first.sort_by(f64::total_cmp);
    println!("first frame (new app, 160x48):        p50 {:>8.0} µs", first[first.len() / 2]);

    let steps: Vec<LabStep> = Step::ALL
        .into_iter()
        .map(|step| LabStep {
            step,
            title: step.title(),
            status: StepStatus::Done,
            detail: "created".into(),
            execution: None,
        })
        .collect();
    let (p50, p95) = frame_times(&mut on_tab('1', Loaded::Lab(Ok(steps))), frames);
    println!("Lab, 13 steps:                        p50 {p50:>8.0} µs  p95 {p95:>8.0} µs");

    for (what, tab, big, small) in [
        ("executions", '2', Loaded::Executions(Ok(executions(10_000))), Loaded::Executions(Ok(executions(10)))),
        ("faces", '4', Loaded::Faces(Ok(faces(10_000))), Loaded::Faces(Ok(faces(10)))),
    ] {
        let (big50, big95) = frame_times(&mut on_tab(tab, big), frames);
        let (small50, small95) = frame_times(&mut on_tab(tab, small), frames);
        println!("{what:>10}: 10,000 rows              p50 {big50:>8.0} µs  p95 {big95:>8.0} µs");
        println!("{what:>10}: 10 rows (peer)           p50 {small50:>8.0} µs  p95 {small95:>8.0} µs");
        println!("{what:>10}: ratio 10,000 / 10 rows   p50 {:>8.2}×", big50 / small50);
    }
}
