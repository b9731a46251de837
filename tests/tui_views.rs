//! Every view of the dashboard, in each of its states, drawn into a TestBackend at 80×24 and
//! 160×48 from fixed rows (no clock in them) and kept as text snapshots in tests/snapshots/:
//! a change to what a view shows is a change to a reviewed file. Each case also names the
//! texts that must be on screen, so a snapshot accepted by mistake still fails here.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier};
use ratatui::{Terminal, backend::TestBackend};
use serde_json::json;
use wildrydes::ops::Verdict;
use wildrydes::tui::app::{
    Action, App, ExecutionDetail, ExecutionRow, FaceRow, FunctionLogs, GraphData, HistoryRow, LabStep, Loaded, MailRow,
    ObjectRow, RiderRow, Step, StepStatus, update,
};
use wildrydes::tui::view::{view, window};

const TARGET: &str = "local cloud http://127.0.0.1:4566 (us-east-1)";
const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// The screen as text, one line a row, trailing blanks cut.
pub(crate) fn render(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal.draw(|frame| view(app, frame)).expect("drawn");
    screen_text(terminal.backend().buffer())
}

pub(crate) fn screen_text(buffer: &ratatui::buffer::Buffer) -> String {
    let area = buffer.area;
    (0..area.height)
        .map(|y| {
            (0..area.width).map(|x| buffer[(x, y)].symbol().to_string()).collect::<String>().trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn press(app: &mut App, code: KeyCode) {
    update(app, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn ctrl(app: &mut App, c: char) {
    update(app, Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)));
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn verdict(status: &str) -> Verdict {
    match status {
        "FAILED" => Verdict::Failed {
            status: status.into(),
            state: "FaceDetection".into(),
            error: "PhotoDoesNotMeetRequirementError".into(),
            reason: "Face is wearing sunglasses".into(),
        },
        "REFUSED" => Verdict::Refused {
            state: "PhotoDoesNotMeetRequirement".into(),
            error: "PhotoDoesNotMeetRequirementError".into(),
            reason: "Face is wearing sunglasses".into(),
        },
        "SUCCEEDED" => Verdict::Succeeded,
        _ => Verdict::Running,
    }
}

pub(crate) fn exec(i: usize, status: &str) -> ExecutionRow {
    ExecutionRow {
        name: format!("exec-{i:05}"),
        state_machine: "RiderPhotoProcessing-4".into(),
        status: if status == "REFUSED" { "SUCCEEDED".into() } else { status.into() },
        started: "2026-11-25 05:00:00".into(),
        duration: "2.5 s".into(),
        arn: format!("arn:aws:states:us-east-1:000000000000:execution:RiderPhotoProcessing-4:exec-{i:05}"),
        user: format!("user_{i}"),
        photo: "1_happy_face.jpg".into(),
        verdict: Some(verdict(status)),
    }
}

/// An execution named as the SDK names them (a UUID), as the list shows them most often.
fn uuid_exec(i: usize, status: &str) -> ExecutionRow {
    let name = format!("0b7c6a2e-1f3d-4c5b-9a8e-{i:012}");
    ExecutionRow {
        arn: format!("arn:aws:states:us-east-1:000000000000:execution:RiderPhotoProcessing-4:{name}"),
        name,
        photo: "2_sunglass_face.jpg".into(),
        user: "user_b".into(),
        ..exec(i, status)
    }
}

fn workflow() -> serde_json::Value {
    let path = format!("{}/statemachine/RiderPhotoProcessing-4.asl.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("the workshop's definition")).expect("JSON")
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
            ev(1, "ExecutionStarted", "", json!({"input": {"userId": "user_b", "s3Key": "2_sunglass_face.jpg"}})),
            ev(2, "TaskStateEntered", "FaceDetection", json!({"name": "FaceDetection", "input": {"userId": "user_b"}})),
            ev(
                3,
                "LambdaFunctionFailed",
                "FaceDetection",
                json!({"error": "PhotoDoesNotMeetRequirementError", "cause": {"errorMessage": "Face is wearing sunglasses"}}),
            ),
            ev(
                4,
                "TaskStateEntered",
                "PhotoDoesNotMeetRequirement",
                json!({"name": "PhotoDoesNotMeetRequirement", "input": {}}),
            ),
        ],
        definition: Some(workflow()),
    }
}

fn face(id: &str, user: &str) -> FaceRow {
    FaceRow { face_id: id.into(), user: user.into(), confidence: 99.9, ..Default::default() }
}

/// The Lab's steps as a fresh deploy leaves them: resources done, photos still to run.
pub(crate) fn lab_steps() -> Vec<LabStep> {
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

fn mail(sent: &str, user: &str, photo: &str) -> MailRow {
    MailRow::new(
        sent.into(),
        "no-reply@wildrydes.example".into(),
        format!("{user}@riders.example"),
        "Your Wild Rydes rider photo could not be used".into(),
        format!(
            "Hello {user}, the photo you uploaded (s3://wildrydes-riderphotos/{photo}) does not meet the \
             requirements for a rider photo: Face is wearing sunglasses."
        ),
    )
}

fn at(tab: char) -> App {
    let mut app = App::new(TARGET);
    press(&mut app, KeyCode::Char(tab));
    app
}

/// Every view, in each of its states: its name and what must be on screen.
fn cases() -> Vec<(&'static str, App, Vec<&'static str>)> {
    let mut cases = Vec::new();
    // Loading, empty and error states of every tab.
    for (name, tab, loading) in [
        ("lab_loading", '1', "Loading the workshop"),
        ("executions_loading", '2', "Loading executions"),
        ("graph_loading", '3', "Loading the state machine"),
        ("faces_loading", '4', "Loading faces"),
        ("photos_loading", '5', "Loading photos"),
        ("riders_loading", '6', "Loading riders"),
        ("outbox_loading", '7', "Loading the outbox"),
        ("logs_loading", '8', "Loading the functions"),
    ] {
        cases.push((name, at(tab), vec![loading]));
    }
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![]))));
    cases.push(("executions_empty", app, vec!["No executions here"]));
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "zz");
    press(&mut app, KeyCode::Enter);
    cases.push((
        "executions_filtered_out",
        app,
        vec!["Nothing here matches the filter “zz”: Esc clears it", "filter on: zz"],
    ));
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Err("cannot reach the endpoint (connection refused)".into()))));
    cases.push(("executions_error", app, vec!["connection refused"]));
    let mut app = at('3');
    update(
        &mut app,
        Action::Loaded(Loaded::Graph(Err("No state machine yet: deploy the workshop (Lab) to create them.".into()))),
    );
    cases.push(("graph_error", app, vec!["No state machine yet"]));
    let mut app = at('4');
    update(&mut app, Action::Loaded(Loaded::Faces(Ok(vec![]))));
    cases.push(("faces_empty", app, vec!["No faces indexed yet"]));
    let mut app = at('8');
    update(&mut app, Action::Loaded(Loaded::Logs(Err("On AWS, function logs are in CloudWatch Logs".into()))));
    cases.push(("logs_error", app, vec!["CloudWatch"]));

    // Loaded views.
    let mut app = at('2');
    let rows = vec![exec(1, "FAILED"), exec(2, "SUCCEEDED"), exec(3, "REFUSED"), exec(4, "RUNNING")];
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(rows))));
    cases.push(("executions", app, vec!["exec-00001", "FAILED", "failed at FaceDetection", "SUCCEEDED", "user_3"]));
    // Names as the SDK makes them: a UUID is never cut, even at 80 columns.
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![uuid_exec(1, "REFUSED"), uuid_exec(2, "SUCCEEDED")]))));
    cases.push(("executions_uuid_names", app, vec!["0b7c6a2e-1f3d-4c5b-9a8e-000000000001", "refused"]));
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok((1..=60).map(|i| exec(i, "SUCCEEDED")).collect()))));
    press(&mut app, KeyCode::Char('>'));
    press(&mut app, KeyCode::Char('!'));
    cases.push(("executions_sorted_and_scrolling", app, vec!["Name ▼", "exec-00060", "more"]));
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
    press(&mut app, KeyCode::Enter);
    cases.push(("detail_loading", app, vec!["Loading the execution's history"]));
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
    press(&mut app, KeyCode::Enter);
    update(&mut app, Action::Loaded(Loaded::History(exec(1, "FAILED").arn, Ok(failed_detail()))));
    cases.push(("detail", app, vec!["LambdaFunctionFailed", "PhotoDoesNotMeetRequirementError", "Event 3"]));
    // The replay of the caught refusal: → from the failing event shows the graph then.
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
    press(&mut app, KeyCode::Enter);
    update(&mut app, Action::Loaded(Loaded::History(exec(1, "FAILED").arn, Ok(failed_detail()))));
    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Right);
    cases.push((
        "detail_replay",
        app,
        vec!["Replay exec-00001", "event 4 of 4", "PhotoDoesNotMeetRequirement", "so far:"],
    ));
    let graph = |title: &str| {
        Loaded::Graph(Ok(GraphData { title: title.into(), definition: workflow(), execution: Some(failed_detail()) }))
    };
    let mut app = at('3');
    update(&mut app, Action::Loaded(graph("RiderPhotoProcessing-4 — execution exec-00001 (RUNNING)")));
    cases.push(("graph", app, vec!["FaceDetection", "RiderPhotoProcessing-4"]));
    let mut app = at('3');
    update(&mut app, Action::Loaded(graph("RiderPhotoProcessing-4")));
    press(&mut app, KeyCode::Enter);
    cases.push(("graph_state", app, vec!["Input", "Error", "PhotoDoesNotMeetRequirementError"]));
    let mut app = at('3');
    update(&mut app, Action::Loaded(graph("RiderPhotoProcessing-4")));
    press(&mut app, KeyCode::Char('d'));
    cases.push(("graph_describe", app, vec!["RiderPhotoProcessing-4 (ASL)", "\"StartAt\": \"FaceDetection\""]));
    let mut app = at('4');
    let faces = vec![FaceRow {
        face_id: "0b7c6a2e-0000-4000-8000-000000000001".into(),
        user: "user_a".into(),
        confidence: 99.9,
        indexed: "2026-11-25 05:00:03".into(),
        bounding_box: None,
    }];
    update(&mut app, Action::Loaded(Loaded::Faces(Ok(faces))));
    cases.push(("faces", app, vec!["user_a", "99.9", "05:00:03", "0b7c6a2e-0000-4000-8000-000000000001"]));
    let mut app = at('4');
    update(&mut app, Action::Loaded(Loaded::Faces(Ok(vec![face("f1", "user_a"), face("f2", "user_a_again")]))));
    press(&mut app, KeyCode::Char('D'));
    let faces = app.faces.list.all().to_vec();
    let groups = wildrydes::ops::faces::group(&faces, &[("f1".into(), "f2".into(), 97.0)], &[]);
    update(&mut app, Action::Loaded(Loaded::Duplicates(Ok(groups))));
    cases.push(("duplicates", app, vec!["keep user_a", "delete user_a_again"]));
    let mut app = at('4');
    update(&mut app, Action::Loaded(Loaded::Faces(Ok(vec![face("f1", "user_a")]))));
    press(&mut app, KeyCode::Char('d'));
    cases.push(("face_describe", app, vec!["Face f1", "\"ExternalImageId\": \"user_a\""]));
    let mut app = at('6');
    let rider = RiderRow {
        user: "user_a".into(),
        face_id: "0b7c6a2e-0000-4000-8000-000000000001".into(),
        photo: "wildrydes-riderphotos/1_happy_face.jpg".into(),
        thumbnail: "wildrydes-thumbnails/1_happy_face.jpg".into(),
    };
    update(&mut app, Action::Loaded(Loaded::Riders(Ok(vec![rider]))));
    cases.push(("riders", app, vec!["user_a", "0b7c6a2e-0000-4000-8000-000000000001", "wildrydes-riderphotos/"]));
    let mut app = at('7');
    let mails = vec![
        mail("2026-11-25 05:00:04", "user_b", "2_sunglass_face.jpg"),
        mail("2026-11-25 05:01:09", "user_c", "3_multiple_faces.jpg"),
    ];
    update(&mut app, Action::Loaded(Loaded::Outbox(Ok(mails))));
    cases.push(("outbox", app, vec!["Rider", "user_b", "user_c@riders.example", "3_multiple_faces.jpg"]));
    let mut app = at('8');
    let logs = vec![
        FunctionLogs {
            function: "wildrydes-face-detection".into(),
            lines: vec![
                "05:00:01 1a2b3c4d detecting faces user=user_b key=2_sunglass_face.jpg".into(),
                "05:00:01 1a2b3c4d Detected 1 face".into(),
            ],
        },
        FunctionLogs {
            function: "wildrydes-index-face".into(),
            lines: vec!["05:00:02 5e6f7a8b indexing the face user=user_a".into()],
        },
    ];
    update(&mut app, Action::Loaded(Loaded::Logs(Ok(logs.clone()))));
    cases.push(("logs", app, vec!["wildrydes-face-detection", "Detected 1 face"]));
    let mut app = at('8');
    update(&mut app, Action::Loaded(Loaded::Logs(Ok(logs))));
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "user_a");
    cases.push(("logs_filtered", app, vec!["wildrydes-index-face (1)", "indexing the face user=user_a", "/user_a"]));
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![]))));
    press(&mut app, KeyCode::Char('s'));
    cases.push(("start_form", app, vec!["Start an execution", "User id"]));
    let mut app = at('4');
    update(&mut app, Action::Loaded(Loaded::Faces(Ok(vec![face("f1", "user_a")]))));
    ctrl(&mut app, 'd');
    cases.push(("confirm", app, vec!["user user_a", "y: yes · n, Esc or Enter: no (the default)"]));
    let mut app = at('4');
    let faces = vec![FaceRow {
        indexed: "2026-11-25 05:00:03".into(),
        bounding_box: Some([0.3, 0.2, 0.4, 0.5]),
        ..face("f1", "user_a")
    }];
    update(&mut app, Action::Loaded(Loaded::Faces(Ok(faces))));
    let rider = RiderRow {
        user: "user_a".into(),
        face_id: "f1".into(),
        photo: "wildrydes-riderphotos/1_happy_face.jpg".into(),
        thumbnail: "wildrydes-thumbnails/1_happy_face.jpg".into(),
    };
    update(&mut app, Action::Loaded(Loaded::Riders(Ok(vec![rider]))));
    press(&mut app, KeyCode::Enter);
    cases.push(("face_opened", app, vec!["The face", "Source photo", "indexed 2026-11-25 05:00:03", "Loading"]));
    let mut app = at('5');
    let object = ObjectRow {
        bucket: "wildrydes-riderphotos".into(),
        key: "1_selfie.jpg".into(),
        size: 220_706,
        modified: "2026-11-25 01:00:00".into(),
    };
    update(&mut app, Action::Loaded(Loaded::Photos(Ok(vec![object]))));
    cases.push(("photos", app, vec!["215.5 KB", "1_selfie.jpg"]));
    let mut app = at('5');
    update(&mut app, Action::Loaded(Loaded::Photos(Ok(vec![]))));
    press(&mut app, KeyCode::Char('u'));
    cases.push(("upload_form", app, vec!["Upload a photo", "Path:"]));
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
    press(&mut app, KeyCode::Char('?'));
    cases.push(("executions_help", app, vec!["rerun: a new execution with the same input (asks)", "Keys"]));
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
    press(&mut app, KeyCode::Char(':'));
    typed(&mut app, "fa");
    cases.push(("command_line", app, vec![":fa", "Tab completes"]));
    // The Lab: a step running, one that failed, one done, and the clean-up's question.
    let lab = || {
        let mut app = at('1');
        update(&mut app, Action::Loaded(Loaded::Lab(Ok(lab_steps()))));
        app
    };
    let app = lab();
    cases.push(("lab", app, vec!["Create the collection", "✔ done", "○ to do"]));
    let mut app = lab();
    for _ in 0..3 {
        press(&mut app, KeyCode::Down);
    }
    press(&mut app, KeyCode::Enter);
    update(&mut app, Action::Loaded(Loaded::LabProgress(Step::Photo(0), "→ FaceDetection".into())));
    cases.push(("lab_running", app, vec!["⟳ running", "→ FaceDetection", "Run 1_happy_face.jpg"]));
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
    cases.push(("lab_failed", app, vec!["✖ failed", "cannot read the binary"]));
    let mut app = lab();
    for _ in 0..4 {
        press(&mut app, KeyCode::Down);
    }
    press(&mut app, KeyCode::Enter);
    update(
        &mut app,
        Action::Loaded(Loaded::LabDone(
            Step::Photo(1),
            Ok(wildrydes::tui::lab::Outcome {
                message: "2_sunglass_face.jpg as user_b: SUCCEEDED in 2.1 s — refused at FaceDetection: \
                          PhotoDoesNotMeetRequirementError — Face is wearing sunglasses"
                    .into(),
                execution: Some(exec(2, "SUCCEEDED").arn),
                as_expected: true,
            }),
        )),
    );
    cases.push(("lab_done", app, vec!["✔ 2_sunglass_face.jpg as user_b", "sunglasses", "Execution: exec-00002"]));
    let mut app = lab();
    for _ in 0..3 {
        press(&mut app, KeyCode::Down);
    }
    press(&mut app, KeyCode::Enter);
    update(
        &mut app,
        Action::Loaded(Loaded::LabDone(
            Step::Photo(0),
            Ok(wildrydes::tui::lab::Outcome {
                message: "1_happy_face.jpg as user_a: SUCCEEDED in 1.2 s — refused at CheckFaceDuplicate: \
                          FaceAlreadyExistsError; the workshop expects user_a registered"
                    .into(),
                execution: Some(exec(1, "SUCCEEDED").arn),
                as_expected: false,
            }),
        )),
    );
    cases.push(("lab_unexpected", app, vec!["≠ other", "≠ 1_happy_face.jpg as user_a", "FaceAlreadyExistsError"]));
    let mut app = lab();
    press(&mut app, KeyCode::End);
    press(&mut app, KeyCode::Enter);
    cases.push(("lab_clean_up_asks", app, vec!["Delete every workshop resource", "Type delete"]));
    cases
}

#[test]
fn every_view_in_each_state_at_80x24_and_160x48() {
    let mut missing = Vec::new();
    for (name, mut app, expected) in cases() {
        for (w, h) in SIZES {
            let screen = render(&mut app, w, h);
            for text in &expected {
                if !screen.contains(text) {
                    missing.push(format!("{name} at {w}x{h}: {text:?} missing in\n{screen}"));
                }
            }
            assert!(
                screen.contains(TARGET) || app.prompt().is_some(),
                "{name} at {w}x{h}: the status bar names the target"
            );
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n\n"));
}

#[test]
fn a_list_longer_than_the_screen_says_how_much_more_there_is() {
    let mut app = at('1');
    update(&mut app, Action::Loaded(Loaded::Lab(Ok(lab_steps()))));
    let screen = render(&mut app, 80, 24);
    let steps = lab_steps().len();
    let rows = screen.lines().filter(|l| l.contains("○ to do") || l.contains("✔ done")).count();
    assert!(
        rows < steps && screen.contains(&format!("↓ {} more", steps - rows)),
        "{steps} steps in {rows} rows:\n{screen}"
    );
    press(&mut app, KeyCode::End);
    let screen = render(&mut app, 80, 24);
    assert!(
        screen.contains(&format!("↑ {} above · ↓ 0 more", steps - rows)) && screen.contains("Clean up"),
        "{screen}"
    );
}

#[test]
fn ten_thousand_executions_render_only_the_visible_window() {
    let mut app = at('2');
    update(&mut app, Action::Loaded(Loaded::Executions(Ok((0..10_000).map(|i| exec(i, "SUCCEEDED")).collect()))));
    press(&mut app, KeyCode::End);
    let screen = render(&mut app, 80, 24);
    assert!(screen.contains("exec-09999"), "{screen}");
    assert!(!screen.contains("exec-00000"));
    // A click on the first row on screen selects that row, not row 0 of the list.
    let list = app.screen.view.list.expect("the list says where its rows are");
    assert!(list.first > 9_900);
    update(
        &mut app,
        Action::Mouse(crossterm::event::MouseEvent {
            kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
            column: 5,
            row: list.top,
            modifiers: KeyModifiers::NONE,
        }),
    );
    assert_eq!(app.selected(), list.first);
    assert_eq!(window(9_999, 10_000, 20), 9_980);
    assert_eq!(window(5, 10_000, 20), 0);
    assert_eq!(window(3, 2, 20), 0);
}

#[test]
fn no_color_leaves_no_colour_in_the_buffer() {
    let mut app = at('2');
    app.no_color = true;
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![exec(1, "FAILED")]))));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    terminal.draw(|frame| view(&mut app, frame)).expect("drawn");
    let buffer = terminal.backend().buffer();
    assert!(buffer.content().iter().all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    assert!(buffer.content().iter().any(|c| c.modifier.contains(Modifier::REVERSED)), "the selection still shows");
}

#[test]
fn json_is_coloured_by_kind() {
    let lines = wildrydes::tui::detail::json_lines(&json!({"error": "E", "n": 3, "ok": true}));
    let styled =
        |text: &str| lines.iter().flat_map(|l| l.spans.iter()).find(|s| s.content.contains(text)).map(|s| s.style.fg);
    assert_eq!(styled("\"error\""), Some(Some(Color::Cyan)));
    assert_eq!(styled("\"E\""), Some(Some(Color::Green)));
    assert_eq!(styled("3"), Some(Some(Color::Magenta)));
    assert_eq!(styled("true"), Some(Some(Color::Yellow)));
}

#[test]
fn tiny_terminals_do_not_panic() {
    for (name, mut app, _) in cases() {
        for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10), (200, 60)] {
            let _ = (name, render(&mut app, w, h));
        }
    }
}
