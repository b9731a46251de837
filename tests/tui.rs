//! The dashboard's loads and actions against a real local cloud through the SDK clients:
//! what the Executions, Graph and Logs views get, and what start/stop/rerun/redrive do.

use std::time::Duration;

use serde_json::json;
use wildrydes::tui::app::{Loaded, Tab};
use wildrydes::tui::load::{self, Source};
use wildrydes::tui::{actions, graph};
use wildrydes::workshop::WorkshopNames;

use crate::common::TestCloud;

const ROLE: &str = "arn:aws:iam::000000000000:role/StepFunctionsRole";

pub(crate) async fn machine(cloud: &TestCloud, name: &str, definition: serde_json::Value) -> String {
    cloud
        .clients
        .sfn
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("state machine is created")
        .state_machine_arn
}

pub(crate) async fn run(cloud: &TestCloud, machine: &str, input: serde_json::Value) -> String {
    let arn = cloud
        .clients
        .sfn
        .start_execution()
        .state_machine_arn(machine)
        .input(input.to_string())
        .send()
        .await
        .expect("execution starts")
        .execution_arn;
    finish(cloud, &arn).await;
    arn
}

/// Polls until the execution is no longer RUNNING (a generous bound, not a timing assertion).
async fn finish(cloud: &TestCloud, arn: &str) -> String {
    for _ in 0..1200 {
        let d = cloud.clients.sfn.describe_execution().execution_arn(arn).send().await.expect("describe");
        if d.status.as_str() != "RUNNING" {
            return d.status.as_str().to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {arn} did not finish");
}

pub(crate) fn source(cloud: &TestCloud) -> Source {
    Source {
        ops: wildrydes::ops::Ops::new(cloud.clients.clone(), WorkshopNames::local(), Some(cloud.endpoint.clone())),
        deploy: None,
    }
}

fn flow() -> serde_json::Value {
    json!({
        "StartAt": "Check",
        "States": {
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Done"}], "Default": "Boom"},
            "Done": {"Type": "Succeed"},
            "Boom": {"Type": "Fail", "Error": "PhotoDoesNotMeetRequirementError", "Cause": "Face is wearing sunglasses"}
        }
    })
}

#[tokio::test]
async fn executions_list_their_failing_state_and_open_on_the_whole_history_and_graph() {
    let cloud = TestCloud::start().await;
    let sm = machine(&cloud, "TuiFlow", flow()).await;
    run(&cloud, &sm, json!({"ok": true})).await;
    let bad = run(&cloud, &sm, json!({"ok": false})).await;
    let source = source(&cloud);

    let Loaded::Executions(Ok(rows)) = load::load(&source, Tab::Executions).await else { panic!("executions load") };
    assert_eq!(rows.len(), 2);
    let failed = rows.iter().find(|r| r.arn == bad).expect("the failed execution is listed");
    assert_eq!(failed.status, "FAILED");
    assert_eq!(failed.outcome(), "failed at Boom: PhotoDoesNotMeetRequirementError");
    assert!(rows.iter().any(|r| r.status == "SUCCEEDED" && r.outcome() == "succeeded"));

    let detail = load::execution_detail(&source, &bad).await.expect("detail loads");
    assert_eq!(detail.status, "FAILED");
    assert_eq!(detail.events.first().map(|e| e.kind.as_str()), Some("ExecutionStarted"));
    assert_eq!(detail.events[0].json["input"], json!({"ok": false}), "input is parsed JSON");
    let last = detail.events.last().expect("events");
    assert_eq!(last.kind, "ExecutionFailed");
    assert_eq!(last.json["error"], "PhotoDoesNotMeetRequirementError");
    assert!(detail.events.windows(2).all(|w| w[0].id < w[1].id));

    let data = load::graph(&source, Some(&bad)).await.expect("graph loads");
    let layout = graph::layout(&data.definition).expect("the definition lays out");
    assert_eq!(layout.nodes.len(), 3);
    let events: Vec<graph::RunEvent> = data
        .execution
        .iter()
        .flat_map(|d| d.events.iter())
        .map(|e| graph::RunEvent { kind: e.kind.clone(), state: e.json["name"].as_str().map(str::to_string) })
        .collect();
    let runs = graph::state_runs(&events);
    assert_eq!(runs.get("Check"), Some(&graph::StateRun::Succeeded));
    assert_eq!(runs.get("Boom"), Some(&graph::StateRun::Failed));
    assert_eq!(runs.get("Done"), None, "not reached");

    let Loaded::Graph(Ok(newest)) = load::load(&source, Tab::Graph).await else { panic!("graph without execution") };
    assert!(newest.execution.is_none());
}

#[tokio::test]
async fn rerun_stop_and_redrive_act_through_step_functions_and_report_in_sentences() {
    let cloud = TestCloud::start().await;
    let sm = machine(&cloud, "TuiFlow", flow()).await;
    let bad = run(&cloud, &sm, json!({"ok": false})).await;
    let source = source(&cloud);

    let Loaded::Done(Ok(message)) = actions::rerun(&source, &bad).await else { panic!("rerun") };
    assert!(message.contains("same input"), "{message}");
    let list = cloud.clients.sfn.list_executions().state_machine_arn(&sm).send().await.expect("list");
    assert_eq!(list.executions().len(), 2);
    for e in list.executions() {
        let d = cloud.clients.sfn.describe_execution().execution_arn(e.execution_arn()).send().await.expect("d");
        assert_eq!(
            d.input().map(|i| serde_json::from_str::<serde_json::Value>(i).ok()),
            Some(Some(json!({"ok": false})))
        );
    }

    let waiter = machine(
        &cloud,
        "Waiter",
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}),
    )
    .await;
    let long =
        cloud.clients.sfn.start_execution().state_machine_arn(&waiter).send().await.expect("start").execution_arn;
    let Loaded::Done(Ok(message)) = actions::stop(&source, &long).await else { panic!("stop") };
    assert!(message.starts_with("Stopped"), "{message}");
    assert_eq!(finish(&cloud, &long).await, "ABORTED");
    let gone = format!("{}-gone", long);
    let Loaded::Done(Err(message)) = actions::stop(&source, &gone).await else { panic!("no such execution") };
    assert!(message.starts_with("Stopping") && message.contains("ExecutionDoesNotExist"), "{message}");

    // Redrive: done by Step Functions, or refused with AWS's reason as a sentence.
    match actions::redrive(&source, &bad).await {
        Loaded::Done(Ok(message)) => assert!(message.starts_with("Redriving"), "{message}"),
        Loaded::Done(Err(message)) => assert!(message.starts_with("Redriving") && message.len() > 30, "{message}"),
        other => panic!("redrive answered {other:?}"),
    }
}

#[tokio::test]
async fn start_uploads_a_photo_from_disk_and_sends_the_seeds_input() {
    let cloud = TestCloud::start().await;
    let sm = machine(&cloud, "Echo", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    let names = WorkshopNames::local();
    cloud.clients.s3.create_bucket().bucket(&names.photo_bucket).send().await.expect("bucket");
    let source = source(&cloud);
    let dir = tempfile::tempdir().expect("dir");
    let photo = dir.path().join("my_selfie.jpg");
    std::fs::write(&photo, b"not really a jpeg").expect("write");

    let done = actions::start(&source, "Echo", &photo.to_string_lossy(), "user_z").await;
    let Loaded::Done(Ok(message)) = done else { panic!("start: {done:?}") };
    assert!(message.contains("user_z"), "{message}");
    let object = cloud.clients.s3.get_object().bucket(&names.photo_bucket).key("my_selfie.jpg").send().await;
    assert!(object.is_ok(), "the photo was uploaded");
    let list = cloud.clients.sfn.list_executions().state_machine_arn(&sm).send().await.expect("list");
    let arn = list.executions()[0].execution_arn();
    let d = cloud.clients.sfn.describe_execution().execution_arn(arn).send().await.expect("describe");
    let input: serde_json::Value = serde_json::from_str(d.input().unwrap_or("{}")).expect("json input");
    assert_eq!(input, json!({"userId": "user_z", "s3Bucket": names.photo_bucket, "s3Key": "my_selfie.jpg"}));

    // A key that is not in the bucket, and a machine that does not exist: sentences.
    let Loaded::Done(Err(message)) = actions::start(&source, "Echo", "nope.jpg", "u").await else { panic!() };
    assert!(message.contains("neither a file"), "{message}");
    let Loaded::Done(Err(message)) = actions::start(&source, "Nope", "my_selfie.jpg", "u").await else { panic!() };
    assert!(message.starts_with("There is no state machine named Nope; deploy the workshop first"), "{message}");
}

#[tokio::test]
async fn logs_photos_and_duplicates_load_or_explain_why_not() {
    let cloud = TestCloud::start().await;
    let source = source(&cloud);
    let Loaded::Logs(Ok(logs)) = load::load(&source, Tab::Logs).await else { panic!("logs") };
    assert!(logs.is_empty(), "no functions yet");
    let Loaded::Photos(Err(message)) = load::load(&source, Tab::Photos).await else { panic!("no buckets") };
    assert!(message.starts_with("Neither"), "{message}");
    let names = WorkshopNames::local();
    cloud.clients.s3.create_bucket().bucket(&names.photo_bucket).send().await.expect("bucket");
    let Loaded::Photos(Ok(rows)) = load::load(&source, Tab::Photos).await else { panic!("one bucket is enough") };
    assert!(rows.is_empty());
    // No collection yet: the reason, not a crash.
    let Loaded::Duplicates(Err(message)) = actions::find_duplicates(&source, 80.0).await else { panic!("dupes") };
    assert!(!message.is_empty());
}

#[tokio::test]
async fn the_lab_reads_each_steps_status_from_the_target_and_explains_what_it_cannot_run() {
    use wildrydes::tui::app::{Action, StepStatus};
    use wildrydes::tui::lab::{self, Step};
    let cloud = TestCloud::start().await;
    let source = source(&cloud);

    // A fresh cloud: nothing done, and clean-up has nothing left to delete.
    let steps = lab::status(&source).await;
    assert_eq!(steps.iter().map(|s| s.step).collect::<Vec<_>>(), Step::ALL.to_vec());
    let status = |steps: &[wildrydes::tui::app::LabStep], step: Step| {
        steps.iter().find(|s| s.step == step).map(|s| (s.status, s.detail.clone())).expect("every step is listed")
    };
    assert_eq!(status(&steps, Step::Collection).0, StepStatus::Todo);
    assert_eq!(status(&steps, Step::StateMachine(4)), (StepStatus::Todo, "not created yet".into()));
    assert_eq!(status(&steps, Step::Cleanup).0, StepStatus::Done);

    // The collection step runs the deploy's own code; the status then says so.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Action>();
    let Loaded::LabDone(Step::Collection, Ok(outcome)) = lab::run(&source, Step::Collection, &tx).await else {
        panic!("the collection step")
    };
    assert!(outcome.message.contains("rider-photos: created"), "{}", outcome.message);
    let steps = lab::status(&source).await;
    assert_eq!(status(&steps, Step::Collection), (StepStatus::Done, "rider-photos: 0 faces".into()));
    let (cleanup, left) = status(&steps, Step::Cleanup);
    assert_eq!(cleanup, StepStatus::Todo);
    assert!(left.contains("collection rider-photos"), "{left}");

    // Without deploy options (on AWS) deploying is a sentence, not a crash; a photo step
    // before the workshop is deployed names the photo it cannot find.
    let Loaded::LabDone(_, Err(message)) = lab::run(&source, Step::Resources, &tx).await else { panic!("resources") };
    assert!(message.starts_with("The dashboard does not deploy to this target"), "{message}");
    let Loaded::LabDone(_, Err(message)) = lab::run(&source, Step::Photo(0), &tx).await else { panic!("photo") };
    assert!(message.contains("1_happy_face.jpg"), "{message}");
    drop(tx);
    while rx.recv().await.is_some() {}
}

#[tokio::test]
async fn upload_puts_a_file_in_the_photo_bucket_and_names_a_missing_one() {
    let cloud = TestCloud::start().await;
    let names = WorkshopNames::local();
    cloud.clients.s3.create_bucket().bucket(&names.photo_bucket).send().await.expect("bucket");
    let source = source(&cloud);
    let dir = tempfile::tempdir().expect("dir");
    let photo = dir.path().join("rider.png");
    std::fs::write(&photo, b"png bytes").expect("write");

    let Loaded::Done(Ok(message)) = actions::upload(&source, &photo.to_string_lossy()).await else { panic!("upload") };
    assert!(message.ends_with("wildrydes-riderphotos/rider.png."), "{message}");
    let head = cloud.clients.s3.head_object().bucket(&names.photo_bucket).key("rider.png").send().await.expect("head");
    assert_eq!(head.content_type(), Some("image/png"));

    let missing = dir.path().join("nope.jpg");
    let Loaded::Done(Err(message)) = actions::upload(&source, &missing.to_string_lossy()).await else { panic!() };
    assert_eq!(message, format!("There is no file {}.", missing.display()));
    let Loaded::Done(Err(message)) = actions::upload(&source, &dir.path().to_string_lossy()).await else { panic!() };
    assert!(message.ends_with("is a directory, not a photo."), "{message}");
}

// The dashboard's loop driven by keys on a TestBackend, against a real local cloud: what a
// key does is read off the cloud (an execution started or not), the screen, and the bytes
// the loop wrote for the clipboard.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::{Terminal, backend::TestBackend};
use wildrydes::tui::app::{Action, App, update};
use wildrydes::tui::popups::{HelpLine, help_lines, help_text};

fn ch(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn text(s: &str) -> Vec<KeyEvent> {
    s.chars().map(ch).collect()
}

/// Runs the dashboard's loop on these keys until it has done everything they asked for;
/// returns the last screen (160×48) and what it wrote for the clipboard.
async fn drive(app: &mut App, source: &Source, keys: Vec<KeyEvent>) -> (String, Vec<u8>) {
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
    let events = futures::stream::iter(keys.into_iter().map(|k| Ok(Event::Key(k))).collect::<Vec<_>>());
    let mut clipboard = Vec::new();
    wildrydes::tui::drive(&mut terminal, events, source, app, &mut clipboard).await.expect("the loop runs");
    (crate::tui_views::screen_text(terminal.backend().buffer()), clipboard)
}

async fn executions_of(cloud: &TestCloud, machine: &str) -> usize {
    let list = cloud.clients.sfn.list_executions().state_machine_arn(machine).send().await.expect("list");
    list.executions().len()
}

#[tokio::test]
async fn rerun_redrive_and_stop_ask_first_and_no_is_the_default() {
    let cloud = TestCloud::start().await;
    let sm = machine(&cloud, "TuiFlow", flow()).await;
    let bad = run(&cloud, &sm, json!({"ok": false})).await;
    let name = bad.rsplit(':').next().expect("a name").to_string();
    let source = source(&cloud);
    let mut app = App::new("local");
    drive(&mut app, &source, vec![ch('2')]).await;
    assert_eq!(app.executions.list.len(), 1, "the execution is listed");

    // r, R: each asks; Enter, Esc, n and any other key answer no.
    for (key, asked) in [('r', "Rerun"), ('R', "Redrive")] {
        for no in [code(KeyCode::Enter), code(KeyCode::Esc), ch('n'), ch('r')] {
            let (screen, _) = drive(&mut app, &source, vec![ch(key)]).await;
            assert!(screen.contains(&format!("{asked} {name}")), "{key} asks:\n{screen}");
            assert!(screen.contains("y: yes · n, Esc or Enter: no (the default)"), "{screen}");
            drive(&mut app, &source, vec![no]).await;
            assert!(app.question().is_none(), "{no:?} closes the question");
            assert_eq!(executions_of(&cloud, &sm).await, 1, "{key} then {no:?} started nothing");
        }
    }
    // y says yes: the rerun is a new execution with the same input.
    drive(&mut app, &source, vec![ch('r'), ch('y')]).await;
    assert_eq!(executions_of(&cloud, &sm).await, 2);

    // x stops only a running execution, once confirmed.
    let waiter = machine(
        &cloud,
        "Waiter",
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}),
    )
    .await;
    let long = cloud.clients.sfn.start_execution().state_machine_arn(&waiter).send().await.expect("start");
    let long_name = long.execution_arn.rsplit(':').next().expect("a name").to_string();
    let mut keys = vec![ch('/')];
    keys.extend(text(&long_name));
    keys.push(code(KeyCode::Enter));
    drive(&mut app, &source, keys).await;
    assert_eq!(app.executions.list.len(), 1, "the filter keeps the running execution");
    drive(&mut app, &source, vec![ch('x'), code(KeyCode::Enter), ch('x'), ch('n')]).await;
    let described = cloud.clients.sfn.describe_execution().execution_arn(&long.execution_arn).send().await;
    assert_eq!(described.expect("describe").status.as_str(), "RUNNING", "x then Enter or n stops nothing");
    drive(&mut app, &source, vec![ch('x'), ch('y')]).await;
    assert_eq!(finish(&cloud, &long.execution_arn).await, "ABORTED");
}

#[tokio::test]
async fn c_copies_by_osc_52_colon_jumps_sort_reorders_and_the_filter_says_it_is_on() {
    let cloud = TestCloud::start().await;
    let sm = machine(&cloud, "TuiFlow", flow()).await;
    for ok in [true, false, true] {
        run(&cloud, &sm, json!({"ok": ok})).await;
    }
    let source = source(&cloud);
    let mut app = App::new("local");
    drive(&mut app, &source, vec![ch('2')]).await;

    // c: the selected execution's ARN, as the OSC 52 escape, and a sentence saying so.
    let arn = app.executions.list.selected_row().map(|e| e.arn.clone()).expect("a row is selected");
    let (screen, clipboard) = drive(&mut app, &source, vec![ch('c')]).await;
    assert_eq!(String::from_utf8(clipboard).expect("text"), wildrydes::tui::osc52(&arn));
    assert!(wildrydes::tui::osc52("a").starts_with("\u{1b}]52;c;YQ=="));
    assert!(screen.contains("Copied arn:aws:states:"), "{screen}");

    // Sort by a column: the header marks it, `!` reverses.
    drive(&mut app, &source, vec![ch('>')]).await;
    let names: Vec<String> = app.executions.list.shown().map(|e| e.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
    let (screen, _) = drive(&mut app, &source, vec![ch('!')]).await;
    assert!(screen.contains("Name ▼"), "{screen}");
    let reversed: Vec<String> = app.executions.list.shown().map(|e| e.name.clone()).collect();
    assert_eq!(reversed, sorted.into_iter().rev().collect::<Vec<_>>());

    // The filter: every column (the outcome's words too), and an empty list says why.
    let mut keys = vec![ch('/')];
    keys.extend(text("boom"));
    keys.push(code(KeyCode::Enter));
    let (screen, _) = drive(&mut app, &source, keys).await;
    assert_eq!(app.executions.list.len(), 1, "the failed one: failed at Boom");
    assert!(screen.contains("filter on: boom"), "{screen}");
    let mut keys = vec![code(KeyCode::Esc), ch('/')];
    keys.extend(text("user_zz"));
    keys.push(code(KeyCode::Enter));
    let (screen, _) = drive(&mut app, &source, keys).await;
    assert!(screen.contains("Nothing here matches the filter “user_zz”: Esc clears it."), "{screen}");
    drive(&mut app, &source, vec![code(KeyCode::Esc)]).await;
    assert_eq!(app.executions.list.len(), 3);

    // `:` a view, a state machine, an execution; anything else is named as unknown.
    let command = |name: &str| {
        let mut keys = vec![ch(':')];
        keys.extend(text(name));
        keys.push(code(KeyCode::Enter));
        keys
    };
    drive(&mut app, &source, command("faces")).await;
    assert_eq!(app.tab, wildrydes::tui::app::Tab::Faces);
    drive(&mut app, &source, command("TuiFlow")).await;
    assert_eq!(app.tab, wildrydes::tui::app::Tab::Graph);
    assert!(app.graph.data.rows().is_some_and(|g| g.title.starts_with("TuiFlow")), "{:?}", app.graph.data);
    let name = arn.rsplit(':').next().expect("a name").to_string();
    drive(&mut app, &source, command(&name)).await;
    assert_eq!(app.tab, wildrydes::tui::app::Tab::Executions);
    let detail = app.executions.detail.as_ref().expect("the execution is open");
    assert!(detail.data.rows().is_some_and(|d| !d.events.is_empty()), "its history is loaded");
    let (screen, _) = drive(&mut app, &source, command("nope")).await;
    assert!(screen.contains("No view, state machine or execution is named “nope”"), "{screen}");
    // Tab completes a view's name.
    let mut keys = vec![ch(':')];
    keys.extend(text("ph"));
    keys.extend([code(KeyCode::Tab), code(KeyCode::Enter)]);
    drive(&mut app, &source, keys).await;
    assert_eq!(app.tab, wildrydes::tui::app::Tab::Photos);
}

/// The lines of the popup drawn over the body (inside its border), from a 160-wide screen.
fn popup_lines(screen: &str) -> Vec<String> {
    screen
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with('└'))
        .map(|l| {
            let inner: String = l.chars().skip(1).collect();
            inner.trim_end().trim_end_matches('│').trim_end().to_string()
        })
        .collect()
}

#[test]
fn help_lists_exactly_the_bindings_of_the_view_and_of_every_view() {
    use wildrydes::tui::app::{Loaded, Tab};
    for (i, tab) in Tab::ALL.into_iter().enumerate() {
        let mut app = App::new("local");
        update(&mut app, Action::Key(ch(char::from(b'1' + i as u8))));
        if tab == Tab::Executions {
            update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![crate::tui_views::exec(1, "FAILED")]))));
        }
        let groups = app.focused().bindings();
        update(&mut app, Action::Key(ch('?')));
        let screen = crate::tui_views::render(&mut app, 160, 48);
        let expected: Vec<String> = help_lines(tab.title(), &groups)
            .into_iter()
            .map(|l| match l {
                HelpLine::Heading(h) => h,
                HelpLine::Key(shown, help) => help_text(shown, help),
            })
            .collect();
        let shown = popup_lines(&screen);
        assert_eq!(shown[..expected.len()], expected[..], "{tab:?}:\n{screen}");
        assert!(shown[expected.len()..].iter().all(|l| l.is_empty()), "{tab:?}: nothing else:\n{screen}");
    }
}

#[test]
fn every_destructive_key_asks_and_only_y_or_the_typed_word_goes_ahead() {
    use wildrydes::tui::app::{Effect, FaceRow, Loaded, Step};
    let faces = || {
        let mut app = App::new("local");
        update(&mut app, Action::Key(ch('4')));
        let face = FaceRow { face_id: "f1".into(), user: "user_a".into(), confidence: 99.9, ..Default::default() };
        update(&mut app, Action::Loaded(Loaded::Faces(Ok(vec![face]))));
        app
    };
    let ctrl_d = KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL);
    for no in [code(KeyCode::Enter), code(KeyCode::Esc), ch('n')] {
        let mut app = faces();
        assert!(update(&mut app, Action::Key(ctrl_d)).is_empty());
        assert!(app.question().is_some_and(|q| q.text().contains("user user_a")));
        assert!(update(&mut app, Action::Key(no)).is_empty(), "{no:?} is no");
        assert!(app.question().is_none());
    }
    let mut app = faces();
    update(&mut app, Action::Key(code(KeyCode::Delete)));
    assert_eq!(update(&mut app, Action::Key(ch('y'))), vec![Effect::DeleteFaces(vec![("f1".into(), "user_a".into())])]);

    // Clean-up: the word, typed; y is not enough.
    let mut app = App::new("local");
    update(&mut app, Action::Loaded(Loaded::Lab(Ok(crate::tui_views::lab_steps()))));
    update(&mut app, Action::Key(code(KeyCode::End)));
    for no in [vec![ch('y'), code(KeyCode::Enter)], vec![code(KeyCode::Enter)], vec![code(KeyCode::Esc)]] {
        update(&mut app, Action::Key(code(KeyCode::Enter)));
        let effects: Vec<Effect> = no.into_iter().flat_map(|k| update(&mut app, Action::Key(k))).collect();
        assert!(effects.is_empty() && app.question().is_none());
    }
    update(&mut app, Action::Key(code(KeyCode::Enter)));
    let effects: Vec<Effect> = text("delete").into_iter().flat_map(|k| update(&mut app, Action::Key(k))).collect();
    assert!(effects.is_empty());
    assert_eq!(update(&mut app, Action::Key(code(KeyCode::Enter))), vec![Effect::RunLabStep(Step::Cleanup)]);
    // While it runs, q asks too.
    update(&mut app, Action::Key(ch('q')));
    assert!(!app.quit && app.question().is_some_and(|q| q.text().contains("still running")));
    update(&mut app, Action::Key(code(KeyCode::Enter)));
    assert!(!app.quit, "Enter is no");

    // So does an action whose answer has not come back (a start, here).
    let mut app = App::new("local");
    update(&mut app, Action::Key(ch('2')));
    update(&mut app, Action::Loaded(Loaded::Executions(Ok(vec![]))));
    let mut keys = vec![ch('s')];
    keys.extend(text("1_happy_face.jpg"));
    keys.push(code(KeyCode::Tab));
    keys.extend(text("user_a"));
    keys.push(code(KeyCode::Enter));
    let effects: Vec<Effect> = keys.into_iter().flat_map(|k| update(&mut app, Action::Key(k))).collect();
    assert!(matches!(effects.as_slice(), [Effect::Start { .. }]), "{effects:?}");
    update(&mut app, Action::Key(ch('q')));
    let asked = app.question().map(|q| q.text()).unwrap_or_default();
    assert!(!app.quit && asked.contains("an action you asked for is still running"), "{asked}");
    update(&mut app, Action::Key(ch('n')));
    update(&mut app, Action::Loaded(Loaded::Done(Ok("Started.".into()))));
    update(&mut app, Action::Key(ch('q')));
    assert!(app.quit, "nothing runs any more: q quits at once");
}

#[test]
fn questions_read_as_sentences() {
    use wildrydes::tui::popups::Question;
    let questions = [
        Question::Stop { name: "n".into(), machine: "m".into(), arn: "a".into() },
        Question::Rerun { name: "n".into(), machine: "m".into(), arn: "a".into() },
        Question::Redrive { name: "n".into(), machine: "m".into(), arn: "a".into() },
        Question::DeleteFace { face_id: "f".into(), user: "u".into() },
        Question::DeleteDuplicates { extras: vec![("f".into(), "u".into())], riders: vec!["u".into()] },
        Question::Cleanup,
        Question::Quit { running: vec!["“Clean up”".into()] },
    ];
    for q in questions {
        let text = q.text();
        assert!(!text.contains("  "), "no run of spaces: {text:?}");
        assert!(text.contains('?'), "a question: {text}");
    }
}
