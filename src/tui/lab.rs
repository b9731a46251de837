//! The Lab view's steps: the workshop as a checklist. Each step's status is read from the
//! target, never remembered, so reopening the dashboard shows what is already done; each
//! step runs the same code as the CLI (`deploy`, `run`, `cleanup`) in a background task
//! that reports its progress line by line and ends in what it did (the execution it
//! started, the resources it made) or a sentence saying why it could not.

use std::collections::HashMap;

use tokio::sync::mpsc::UnboundedSender;

use super::actions::sentence;
use super::app::{Action, LabStep, Loaded, StepStatus};
use super::load::{Source, sdk_message};
use crate::deploy::{self, Progress};
use crate::ops::{ExecutionFilter, ExecutionRow, Verdict};
use crate::run;
use crate::workshop::{self, WorkshopNames};

/// The state machine the test photos run on: the workshop's last, complete one.
pub const PHOTO_MACHINE: u8 = 4;

/// A test photo of the workshop and the user id the Lab runs it as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestPhoto {
    pub key: &'static str,
    pub user: &'static str,
    /// What the workshop expects of it.
    pub expect: &'static str,
}

pub const TEST_PHOTOS: [TestPhoto; 4] = [
    TestPhoto { key: "1_happy_face.jpg", user: "user_a", expect: "indexed, thumbnail made, rider stored" },
    TestPhoto { key: "2_sunglass_face.jpg", user: "user_b", expect: "refused: the face wears sunglasses" },
    TestPhoto { key: "3_multiple_faces.jpg", user: "user_c", expect: "refused: more than one face" },
    TestPhoto { key: "4_no_face.jpg", user: "user_d", expect: "refused: no face" },
];

/// The duplicate case: one person's two photos under two user ids; the second is refused
/// with FaceAlreadyExistsError.
pub const DUPLICATE: [TestPhoto; 2] = [
    TestPhoto { key: "5_same_person_1.jpg", user: "user_e", expect: "registered" },
    TestPhoto { key: "6_same_person_2.jpg", user: "user_f", expect: "refused: the face is already registered" },
];

/// One step of the workshop, in the workshop's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Collection,
    Resources,
    StateMachine(u8),
    /// An index into [`TEST_PHOTOS`].
    Photo(usize),
    Duplicate,
    Results,
    Cleanup,
}

impl Step {
    pub const ALL: [Step; 13] = [
        Step::Collection,
        Step::Resources,
        Step::StateMachine(1),
        Step::StateMachine(2),
        Step::StateMachine(3),
        Step::StateMachine(4),
        Step::Photo(0),
        Step::Photo(1),
        Step::Photo(2),
        Step::Photo(3),
        Step::Duplicate,
        Step::Results,
        Step::Cleanup,
    ];

    pub fn title(self) -> String {
        match self {
            Step::Collection => format!("Create the collection {}", workshop::COLLECTION_ID),
            Step::Resources => "Deploy buckets, table, functions".into(),
            Step::StateMachine(i) => format!("Create {}", WorkshopNames::state_machine(i)),
            Step::Photo(i) => {
                let photo = TEST_PHOTOS[i.min(TEST_PHOTOS.len() - 1)];
                format!("Run {} as {}", photo.key, photo.user)
            }
            Step::Duplicate => format!("Same person again as {}", DUPLICATE[1].user),
            Step::Results => "Look at faces, riders, thumbnails".into(),
            Step::Cleanup => "Clean up everything".into(),
        }
    }

    /// What the step does and what Enter runs, for the pane under the checklist.
    pub fn explain(self) -> String {
        let machine = WorkshopNames::state_machine(PHOTO_MACHINE);
        match self {
            Step::Collection => {
                "Workshop step 1: a Rekognition collection holds the riders' faces. Enter creates it (as `aws rekognition \
                 create-collection` does)."
                    .into()
            }
            Step::Resources => "The workshop's SAM stack: the photo and thumbnail buckets, the riders table, the six \
                                Lambda functions and the test selfies. Enter deploys them (as `wildrydes deploy`)."
                .into(),
            Step::StateMachine(i) => format!(
                "Workshop step {}: the state machine {} of statemachine/. Enter creates or updates it with the functions' \
                 ARNs.",
                i + 1,
                WorkshopNames::state_machine(i)
            ),
            Step::Photo(i) => {
                let photo = TEST_PHOTOS[i.min(TEST_PHOTOS.len() - 1)];
                format!(
                    "Enter runs {machine} on {} as {} (as `wildrydes run`). Expected: {}. e opens the execution.",
                    photo.key, photo.user, photo.expect
                )
            }
            Step::Duplicate => format!(
                "Enter runs {} as {}, then {} (the same person) as {}: expected {}. e opens the second execution.",
                DUPLICATE[0].key, DUPLICATE[0].user, DUPLICATE[1].key, DUPLICATE[1].user, DUPLICATE[1].expect
            ),
            Step::Results => {
                "Enter opens Faces; 5 Photos has the thumbnails, 6 Riders the table, 7 Outbox the refusal mails, 8 Logs \
                 the functions' logs."
                    .into()
            }
            Step::Cleanup => "Deletes every workshop resource, emptying the buckets first (as `wildrydes cleanup`). \
                              Enter asks first."
                .into(),
        }
    }

    /// The photos this step runs, in order.
    fn photos(self) -> Vec<TestPhoto> {
        match self {
            Step::Photo(i) => TEST_PHOTOS.get(i).copied().into_iter().collect(),
            Step::Duplicate => DUPLICATE.to_vec(),
            _ => Vec::new(),
        }
    }
}

/// What a finished step did: a sentence, and the execution it started, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub message: String,
    pub execution: Option<String>,
}

/// A resource AWS says is not there is work still to do; any other error (access denied,
/// throttling, an unreachable endpoint, a service not there at all) leaves it unknown.
fn status_of<E>(e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> StepStatus
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    // Only "it is not there" means the step is still to do; access denied, throttling, an
    // unreachable endpoint or an unknown service mean nobody can tell.
    match e.as_service_error().and_then(|s| s.code()) {
        Some("ResourceNotFoundException" | "NoSuchBucket" | "NotFound" | "NoSuchKey" | "StateMachineDoesNotExist") => {
            StepStatus::Todo
        }
        _ if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => StepStatus::Todo,
        _ => StepStatus::Unavailable,
    }
}

fn row(step: Step, status: StepStatus, detail: impl Into<String>) -> LabStep {
    LabStep { step, title: step.title(), status, detail: detail.into(), execution: None }
}

/// "1 face", "2 faces", "unknown faces".
fn plural(n: Option<i32>, one: &str, many: &str) -> String {
    if n == Some(1) { one.into() } else { many.into() }
}

/// Every step's status, as found on the target, in [`Step::ALL`]'s order.
pub async fn status(source: &Source) -> Vec<LabStep> {
    let c = &source.clients;
    let n = &source.names;
    let mut left = Vec::new();

    let mut faces = 0;
    let mut collection_known = true;
    let collection = match c.rekognition.describe_collection().collection_id(&n.collection).send().await {
        Ok(d) => {
            faces = d.face_count().unwrap_or(0);
            left.push(format!("collection {}", n.collection));
            let noun = plural(Some(faces as i32), "face", "faces");
            row(Step::Collection, StepStatus::Done, format!("{}: {faces} {noun}", n.collection))
        }
        Err(e) => {
            let status = status_of(&e);
            collection_known = status == StepStatus::Todo;
            row(Step::Collection, status, sdk_message(&e))
        }
    };

    // The first check that could not be made, and why: every step that depends on it
    // says "cannot tell" with this reason rather than "not yet" or "nothing left".
    let mut unknown: Option<String> = (collection.status == StepStatus::Unavailable).then(|| collection.detail.clone());
    let mut missing = Vec::new();
    let mut unavailable = false;
    for bucket in [&n.photo_bucket, &n.thumbnail_bucket] {
        match c.s3.head_bucket().bucket(bucket).send().await {
            Ok(_) => left.push(format!("bucket {bucket}")),
            Err(e) if status_of(&e) == StepStatus::Unavailable => {
                unavailable = true;
                unknown.get_or_insert_with(|| format!("bucket {bucket}: {}", sdk_message(&e)));
            }
            Err(_) => missing.push(format!("bucket {bucket}")),
        }
    }
    match c.dynamodb.describe_table().table_name(&n.riders_table).send().await {
        Ok(_) => left.push(format!("table {}", n.riders_table)),
        Err(e) if status_of(&e) == StepStatus::Unavailable => {
            unavailable = true;
            unknown.get_or_insert_with(|| format!("table {}: {}", n.riders_table, sdk_message(&e)));
        }
        Err(_) => missing.push(format!("table {}", n.riders_table)),
    }
    let mut functions = Vec::new();
    let mut pages = c.lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => functions.extend(page.functions().iter().filter_map(|f| f.function_name().map(str::to_string))),
            Err(e) => {
                unavailable = true;
                unknown.get_or_insert_with(|| format!("the functions: {}", sdk_message(&e)));
                break;
            }
        }
    }
    let deployed = workshop::FUNCTIONS.iter().filter(|f| functions.contains(&f.function_name())).count();
    if deployed > 0 {
        left.push(format!("{deployed} functions"));
    }
    if deployed < workshop::FUNCTIONS.len() && !unavailable {
        missing.push(format!("{} of the 6 functions", workshop::FUNCTIONS.len() - deployed));
    }
    let resources = if unavailable {
        row(Step::Resources, StepStatus::Unavailable, format!("cannot tell: {}", unknown.clone().unwrap_or_default()))
    } else if missing.is_empty() {
        row(
            Step::Resources,
            StepStatus::Done,
            format!("{}, {}, {}, 6 functions", n.photo_bucket, n.thumbnail_bucket, n.riders_table),
        )
    } else {
        row(Step::Resources, StepStatus::Todo, format!("missing: {}", missing.join(", ")))
    };
    let mut steps = vec![collection, resources];

    let mut machines = HashMap::new();
    let mut machines_error = None;
    let mut pages = c.sfn.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => machines.extend(
                page.state_machines().iter().map(|m| (m.name().to_string(), m.state_machine_arn().to_string())),
            ),
            Err(e) => {
                let status = status_of(&e);
                if status == StepStatus::Unavailable {
                    unknown.get_or_insert_with(|| format!("the state machines: {}", sdk_message(&e)));
                }
                machines_error = Some((status, sdk_message(&e)));
                break;
            }
        }
    }
    for i in 1..=4u8 {
        let name = WorkshopNames::state_machine(i);
        steps.push(match (&machines_error, machines.get(&name)) {
            (Some((status, message)), _) => row(Step::StateMachine(i), *status, message.clone()),
            (None, Some(arn)) => {
                left.push(format!("state machine {name}"));
                row(Step::StateMachine(i), StepStatus::Done, arn.clone())
            }
            (None, None) => row(Step::StateMachine(i), StepStatus::Todo, "not created yet"),
        });
    }

    let photo_machine = machines.get(&WorkshopNames::state_machine(PHOTO_MACHINE));
    let runs = match photo_machine {
        Some(arn) => {
            let filter = ExecutionFilter { machine: Some(arn.clone()), ..Default::default() };
            source.executions(&filter).await.map_err(|e| e.to_string())
        }
        None => Err(format!("{} is not created yet.", WorkshopNames::state_machine(PHOTO_MACHINE))),
    };
    for step in Step::ALL.into_iter().filter(|s| matches!(s, Step::Photo(_) | Step::Duplicate)) {
        let Some(last) = step.photos().last().copied() else { continue };
        steps.push(match &runs {
            Err(message) => row(step, StepStatus::Todo, message.clone()),
            Ok(runs) => match runs.iter().find(|r| r.photo == last.key) {
                None => row(step, StepStatus::Todo, format!("{} has not run yet", last.key)),
                Some(found) => {
                    let (status, detail) = describe_run(found);
                    LabStep { execution: Some(found.arn.clone()), ..row(step, status, detail) }
                }
            },
        });
    }

    let counted = |n: Option<i32>| n.map_or_else(|| "unknown".to_string(), |n| n.to_string());
    let riders =
        match c.dynamodb.scan().table_name(&n.riders_table).select(aws_sdk_dynamodb::types::Select::Count).send().await
        {
            Ok(out) => Some(out.count()),
            Err(e) if status_of(&e) == StepStatus::Todo => Some(0),
            Err(e) => {
                unknown.get_or_insert_with(|| format!("the riders: {}", sdk_message(&e)));
                None
            }
        };
    let thumbnails = match c.s3.list_objects_v2().bucket(&n.thumbnail_bucket).send().await {
        Ok(out) => Some(out.key_count().unwrap_or(0)),
        Err(e) if status_of(&e) == StepStatus::Todo => Some(0),
        Err(e) => {
            unknown.get_or_insert_with(|| format!("the thumbnails: {}", sdk_message(&e)));
            None
        }
    };
    let mails = match source.local_endpoint {
        Some(_) => source.outbox().await.map(|m| format!(", {} mails", m.len())).unwrap_or_default(),
        None => String::new(),
    };
    let faces_known = collection_known.then(|| i32::try_from(faces).unwrap_or(i32::MAX));
    let seen = match (faces_known, riders, thumbnails) {
        (Some(f), Some(r), Some(t)) if f > 0 && r > 0 && t > 0 => StepStatus::Done,
        (Some(_), Some(_), Some(_)) => StepStatus::Todo,
        _ => StepStatus::Unavailable,
    };
    let summary = format!(
        "{} {}, {} {}, {} {}{mails}",
        counted(faces_known),
        plural(faces_known, "face", "faces"),
        counted(riders),
        plural(riders, "rider", "riders"),
        counted(thumbnails),
        plural(thumbnails, "thumbnail", "thumbnails")
    );
    steps.push(row(Step::Results, seen, summary));

    steps.push(if let Some(reason) = &unknown {
        row(Step::Cleanup, StepStatus::Unavailable, format!("cannot tell what is left: {reason}"))
    } else if left.is_empty() {
        row(Step::Cleanup, StepStatus::Done, "nothing of the workshop is left")
    } else {
        row(Step::Cleanup, StepStatus::Todo, format!("still there: {}", left.join(", ")))
    });
    steps
}

/// The step's status and one line about how its execution went: who was registered, or
/// where and why the photo was refused, as the operations layer decides it.
fn describe_run(found: &ExecutionRow) -> (StepStatus, String) {
    match &found.verdict {
        Some(Verdict::Running) => (StepStatus::Running, format!("{} is running", found.name)),
        Some(Verdict::Succeeded) => (StepStatus::Done, format!("{} — {} registered", found.status, found.user)),
        Some(verdict) => (StepStatus::Done, format!("{} — {}", found.status, verdict.summary())),
        None => (StepStatus::Done, format!("{} — outcome unknown: its history could not be read", found.status)),
    }
}

/// Runs `step`, reporting each line of progress as an action; ends in what it did.
pub async fn run(source: &Source, step: Step, tx: &UnboundedSender<Action>) -> Loaded {
    let say = |line: String| {
        // The dashboard may have quit meanwhile; then nobody needs the line.
        let _ = tx.send(Action::Loaded(Loaded::LabProgress(step, line)));
    };
    Loaded::LabDone(step, run_step(source, step, &say).await.map_err(|e| sentence(&e)))
}

async fn run_step(source: &Source, step: Step, say: &(dyn Fn(String) + Sync)) -> anyhow::Result<Outcome> {
    let clients = &source.clients;
    let done = |message: String| -> anyhow::Result<Outcome> { Ok(Outcome { message, execution: None }) };
    let options = || {
        source.deploy.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "the dashboard does not deploy to this target: run `wildrydes deploy` with your roles (see the README)"
            )
        })
    };
    let mut progress = |p: Progress| match p {
        Progress::Working(resource) => say(format!("{resource}…")),
        Progress::Done { resource, outcome } => say(format!("{resource}: {outcome}")),
    };
    match step {
        Step::Collection => {
            let outcome = deploy::ensure_collection(clients, &source.names.collection).await?;
            done(format!("Collection {}: {outcome}.", source.names.collection))
        }
        Step::Resources => {
            let outputs = deploy::deploy_resources(clients, options()?, &mut progress).await?;
            done(format!(
                "Deployed {}, {}, {} and {} functions.",
                outputs.photo_bucket,
                outputs.thumbnail_bucket,
                outputs.riders_table,
                outputs.function_arns.len()
            ))
        }
        Step::StateMachine(i) => {
            let name = WorkshopNames::state_machine(i);
            let arns = deploy::deployed_function_arns(clients).await?;
            let arn = deploy::deploy_state_machine(clients, options()?, &arns, &name, &mut progress).await?;
            done(format!("{name} is ready: {arn}."))
        }
        Step::Photo(_) | Step::Duplicate => {
            let mut last = None;
            for photo in step.photos() {
                last = Some(run_photo(source, photo, say).await?);
            }
            last.ok_or_else(|| anyhow::anyhow!("this step has no photo to run"))
        }
        Step::Results => done("Nothing to run: look at the Faces, Photos, Riders and Outbox views.".into()),
        Step::Cleanup => {
            deploy::cleanup::cleanup(clients, options()?, &mut progress).await?;
            done("Deleted every workshop resource. Run the steps again from the top to redo the lab.".into())
        }
    }
}

/// Runs the photo state machine on one test photo, as `wildrydes run` does, narrating each
/// state; the outcome names how it ended and why a photo was refused.
async fn run_photo(source: &Source, photo: TestPhoto, say: &(dyn Fn(String) + Sync)) -> anyhow::Result<Outcome> {
    let clients = &source.clients;
    let bucket = &source.names.photo_bucket;
    let key = run::photo_key(clients, bucket, photo.key).await?;
    let machine = WorkshopNames::state_machine(PHOTO_MACHINE);
    let input = run::workflow_input(photo.user, bucket, &key);
    let arn = run::start(clients, &machine, &input).await?;
    let name = arn.rsplit(':').next().unwrap_or_default().to_string();
    say(format!("{machine}: started {name} on {key} as {}", photo.user));
    let mut narrator = run::Narrator::default();
    let followed = source
        .follow(&arn, 0, &mut |event| {
            if let Some(line) = narrator.line(event) {
                say(line.trim().to_string());
            }
        })
        .await?;
    let ending = &followed.ending;
    let mut message = format!("{key} as {}: {} in {:.1} s", photo.user, ending.status, ending.duration_seconds);
    match &followed.verdict {
        crate::ops::Verdict::Succeeded => message.push_str(&format!(" — {} registered", photo.user)),
        verdict => message.push_str(&format!(" — {}", verdict.summary())),
    }
    Ok(Outcome { message, execution: Some(arn) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_follow_the_seed_and_fit_80_columns() {
        assert_eq!(Step::ALL.first(), Some(&Step::Collection));
        assert_eq!(Step::ALL.last(), Some(&Step::Cleanup));
        for step in Step::ALL {
            assert!(step.title().chars().count() <= 40, "{:?}: {}", step, step.title());
            assert!(!step.explain().is_empty());
        }
        assert_eq!(Step::Photo(1).title(), "Run 2_sunglass_face.jpg as user_b");
        assert_eq!(Step::Duplicate.photos().len(), 2);
    }

    #[test]
    fn every_test_photo_is_a_compiled_in_selfie() {
        for photo in TEST_PHOTOS.iter().chain(DUPLICATE.iter()) {
            assert!(workshop::SELFIES.iter().any(|(key, _)| *key == photo.key), "{}", photo.key);
        }
    }
}
