//! The Lab view's steps: the workshop as a checklist. Each step's status is read from the
//! target, never remembered, so reopening the dashboard shows what is already done; each
//! step runs the same code as the CLI (`deploy`, `run`, `cleanup`) in a background task
//! that reports its progress line by line and ends in what it did (the execution it
//! started, the resources it made) or a sentence saying why it could not.
//!
//! The steps follow the workshop's sections and carry their numbers: the collection (1), the
//! stack (2, which the dashboard deploys on start), then each state machine (3–6) followed
//! by the photos that section runs on it, the closing checks, the results and clean-up. A
//! photo step is done only when its newest execution on its machine ended as the workshop
//! expects there ([`judge`]); otherwise it says what happened instead. `a` runs every step
//! still to do, one after the other ([`start_everything`]).

use std::collections::HashMap;

use tokio::sync::mpsc::UnboundedSender;

use super::actions::sentence;
use super::app::{Action, LabStep, Loaded, StepStatus};
use super::load::{Source, sdk_message};
use crate::deploy::{self, Progress};
use crate::ops::{ExecutionFilter, Verdict};
use crate::run;
use crate::workshop::{self, WorkshopNames};

/// What an execution of a workshop state machine on a test photo came to, in the
/// workshop's terms: the machines of sections 3 and 4 only check the photo, the ones of
/// sections 5 and 6 register the rider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Succeeded on a machine that only checks (RiderPhotoProcessing-1 and -2).
    Passed,
    /// Succeeded on a machine that indexes the face (RiderPhotoProcessing-3 and -4).
    Registered,
    /// The refusal path: a Catch sent the execution to PhotoDoesNotMeetRequirement.
    Refused(Refusal),
    /// Anything else: failed, timed out, aborted, or a refusal the workshop does not name.
    Other,
}

/// The refusals the workshop's test photos are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Sunglasses,
    ManyFaces,
    NoFace,
    AlreadyRegistered,
}

impl Refusal {
    fn words(self) -> &'static str {
        match self {
            Refusal::Sunglasses => "the face wears sunglasses",
            Refusal::ManyFaces => "more than one face",
            Refusal::NoFace => "no face",
            Refusal::AlreadyRegistered => "the face is already registered",
        }
    }

    /// Which of the workshop's refusals the face functions' error and reason name.
    fn of(error: &str, reason: &str) -> Option<Refusal> {
        if error == "FaceAlreadyExistsError" {
            return Some(Refusal::AlreadyRegistered);
        }
        if reason.contains("sunglasses") {
            return Some(Refusal::Sunglasses);
        }
        // face-detection's "Detected N faces in the photo."
        let count = reason.strip_prefix("Detected ")?.split(' ').next()?.parse::<u32>().ok()?;
        match count {
            0 => Some(Refusal::NoFace),
            1 => None,
            _ => Some(Refusal::ManyFaces),
        }
    }
}

impl Ending {
    /// The ending of a finished execution of RiderPhotoProcessing-`machine`.
    pub fn of(machine: u8, verdict: &Verdict) -> Ending {
        match verdict {
            Verdict::Succeeded if machine <= 2 => Ending::Passed,
            Verdict::Succeeded => Ending::Registered,
            Verdict::Refused { error, reason, .. } => Refusal::of(error, reason).map_or(Ending::Other, Ending::Refused),
            Verdict::Failed { .. } | Verdict::Running => Ending::Other,
        }
    }

    fn words(self, user: &str) -> String {
        match self {
            Ending::Passed => "passed the checks".into(),
            Ending::Registered => format!("{user} registered"),
            Ending::Refused(refusal) => format!("refused: {}", refusal.words()),
            Ending::Other => "something else".into(),
        }
    }
}

/// A test photo of the workshop, the user id it runs as, the state machine it runs on and
/// the endings the workshop expects there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestPhoto {
    pub key: &'static str,
    pub user: &'static str,
    pub machine: u8,
    /// The workshop's section that runs it; `None` for its closing, unnumbered section
    /// that checks what was built.
    pub section: Option<u8>,
    pub expect: &'static [Ending],
}

impl TestPhoto {
    const fn new(
        key: &'static str,
        user: &'static str,
        machine: u8,
        section: Option<u8>,
        expect: &'static [Ending],
    ) -> Self {
        Self { key, user, machine, section, expect }
    }

    /// What the workshop expects, in words.
    pub fn expected(&self) -> String {
        let words: Vec<String> = self.expect.iter().map(|e| e.words(self.user)).collect();
        words.join(", or ")
    }
}

/// The photos the workshop runs, in its order: each section runs them on the machine it
/// has just built (sections 3–6), then the closing section runs the refusals on the last.
pub const TEST_PHOTOS: [TestPhoto; 8] = [
    TestPhoto::new("1_happy_face.jpg", "user_a", 1, Some(3), &[Ending::Passed]),
    TestPhoto::new("2_sunglass_face.jpg", "user_b", 1, Some(3), &[Ending::Refused(Refusal::Sunglasses)]),
    // Nothing is indexed before section 5, so the duplicate check lets the face through.
    TestPhoto::new("1_happy_face.jpg", "user_a", 2, Some(4), &[Ending::Passed]),
    TestPhoto::new("1_happy_face.jpg", "user_a", 3, Some(5), &[Ending::Registered]),
    // Section 6 says it: the face section 5 indexed is refused by CheckFaceDuplicate, unless
    // it was deleted since.
    TestPhoto::new(
        "1_happy_face.jpg",
        "user_a",
        4,
        Some(6),
        &[Ending::Refused(Refusal::AlreadyRegistered), Ending::Registered],
    ),
    TestPhoto::new("2_sunglass_face.jpg", "user_b", 4, None, &[Ending::Refused(Refusal::Sunglasses)]),
    TestPhoto::new("3_multiple_faces.jpg", "user_c", 4, None, &[Ending::Refused(Refusal::ManyFaces)]),
    TestPhoto::new("4_no_face.jpg", "user_d", 4, None, &[Ending::Refused(Refusal::NoFace)]),
];

/// The closing section's duplicate case: one person's two photos under two user ids; the
/// second is refused with FaceAlreadyExistsError.
pub const DUPLICATE: [TestPhoto; 2] = [
    TestPhoto::new("5_same_person_1.jpg", "user_e", 4, None, &[Ending::Registered]),
    TestPhoto::new("6_same_person_2.jpg", "user_f", 4, None, &[Ending::Refused(Refusal::AlreadyRegistered)]),
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
    /// Every step still to do, one after the other (the Lab's `a`); not a row of its own.
    Everything,
}

impl Step {
    pub const ALL: [Step; 17] = [
        Step::Collection,
        Step::Resources,
        Step::StateMachine(1),
        Step::Photo(0),
        Step::Photo(1),
        Step::StateMachine(2),
        Step::Photo(2),
        Step::StateMachine(3),
        Step::Photo(3),
        Step::StateMachine(4),
        Step::Photo(4),
        Step::Photo(5),
        Step::Photo(6),
        Step::Photo(7),
        Step::Duplicate,
        Step::Results,
        Step::Cleanup,
    ];

    fn photo(i: usize) -> TestPhoto {
        TEST_PHOTOS[i.min(TEST_PHOTOS.len() - 1)]
    }

    /// The workshop's section the step belongs to; `None` for its closing sections (checking
    /// what was built, cleaning up), which have no number.
    pub fn section(self) -> Option<u8> {
        match self {
            Step::Collection => Some(1),
            Step::Resources => Some(2),
            Step::StateMachine(i) => Some(i + 2),
            Step::Photo(i) => Step::photo(i).section,
            Step::Duplicate | Step::Results | Step::Cleanup | Step::Everything => None,
        }
    }

    /// The number the Lab shows beside the step: its workshop section's.
    pub fn number(self) -> String {
        self.section().map(|n| format!("{n}.")).unwrap_or_default()
    }

    pub fn title(self) -> String {
        match self {
            Step::Collection => format!("Create the collection {}", workshop::COLLECTION_ID),
            Step::Resources => "Deploy buckets, table, functions".into(),
            Step::StateMachine(i) => format!("Create {}", WorkshopNames::state_machine(i)),
            Step::Photo(i) => {
                let photo = Step::photo(i);
                format!("Run {} as {}", photo.key, photo.user)
            }
            Step::Duplicate => format!("Same person again as {}", DUPLICATE[1].user),
            Step::Results => "Look at faces, riders, thumbnails".into(),
            Step::Cleanup => "Clean up everything".into(),
            Step::Everything => "Every step at once".into(),
        }
    }

    /// What the step does and what Enter runs, for the pane under the checklist.
    pub fn explain(self) -> String {
        match self {
            Step::Collection => {
                "Workshop section 1: a Rekognition collection holds the riders' faces. Enter creates it \
                                 (as `aws rekognition create-collection` does)."
                    .into()
            }
            Step::Resources => {
                "Workshop section 2, the CloudFormation stack: the photo and thumbnail buckets, the riders \
                                table, the six Lambda functions and the test selfies. Enter deploys them (as the stack \
                                does)."
                    .into()
            }
            Step::StateMachine(i) => format!(
                "Workshop section {}: the state machine {} of statemachine/. Enter creates or updates it with the \
                 functions' ARNs; the photos under it run on it.",
                i + 2,
                WorkshopNames::state_machine(i)
            ),
            Step::Photo(i) => {
                let photo = Step::photo(i);
                let part = match photo.section {
                    Some(n) => format!("Workshop section {n}"),
                    None => "Checking what was built (after section 6)".into(),
                };
                format!(
                    "{part}: Enter runs {} on {} as {} (as `wildrydes run`). Expected: {}. e opens the execution.",
                    WorkshopNames::state_machine(photo.machine),
                    photo.key,
                    photo.user,
                    photo.expected()
                )
            }
            Step::Duplicate => format!(
                "Checking what was built: Enter runs {} as {}, then {} (the same person) as {}: expected {}. e opens \
                 the second execution.",
                DUPLICATE[0].key,
                DUPLICATE[0].user,
                DUPLICATE[1].key,
                DUPLICATE[1].user,
                DUPLICATE[1].expected()
            ),
            Step::Results => {
                "Enter opens Faces; 5 Photos has the thumbnails, 6 Riders the table, 7 Outbox the refusal \
                              mails, 8 Logs the functions' logs."
                    .into()
            }
            Step::Cleanup => "Deleting the resources, as the workshop ends: every workshop resource, the buckets \
                              emptied first (as `wildrydes cleanup`). Enter asks first."
                .into(),
            Step::Everything => "Runs every step still to do, in the workshop's order, and stops at the first that \
                                 does not end as expected."
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

/// Whether a finished execution of `photo` came out as the workshop expects, and what it
/// came to in words: beside what was expected when it did not.
pub fn judged(photo: &TestPhoto, verdict: &Verdict) -> (bool, String) {
    let ending = Ending::of(photo.machine, verdict);
    if photo.expect.contains(&ending) {
        return (true, ending.words(photo.user));
    }
    let said = match (ending, verdict) {
        // Where and why, as the operations layer says it.
        (Ending::Refused(_) | Ending::Other, _) | (_, Verdict::Refused { .. }) => verdict.summary(),
        (ending, _) => ending.words(photo.user),
    };
    (false, format!("{said}; the workshop expects {}", photo.expected()))
}

/// A photo step's status from its newest execution (with that execution's `status`): ✔
/// (done) only when it ended as the workshop expects.
pub fn judge(photo: &TestPhoto, status: &str, verdict: Option<&Verdict>) -> (StepStatus, String) {
    match verdict {
        None => (StepStatus::Unavailable, format!("{status} — outcome unknown: its history could not be read")),
        Some(Verdict::Running) => (StepStatus::Running, format!("{status} — running")),
        Some(verdict) => {
            let (expected, said) = judged(photo, verdict);
            (if expected { StepStatus::Done } else { StepStatus::Unexpected }, format!("{status} — {said}"))
        }
    }
}

/// What a finished step did: a sentence, and the execution it started, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub message: String,
    pub execution: Option<String>,
    /// Whether it ended as the workshop expects (a photo refused for another reason than the
    /// one its section is about did not).
    pub as_expected: bool,
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

    // Every execution once; each photo step is judged on its newest run of its own machine.
    let runs = if machines.is_empty() {
        Ok(Vec::new())
    } else {
        source.executions(&ExecutionFilter::default()).await.map_err(|e| e.to_string())
    };
    for step in Step::ALL.into_iter().filter(|s| matches!(s, Step::Photo(_) | Step::Duplicate)) {
        let Some(last) = step.photos().last().copied() else { continue };
        let machine = WorkshopNames::state_machine(last.machine);
        steps.push(match (&machines_error, &runs) {
            (Some((status, message)), _) => row(step, *status, message.clone()),
            (None, _) if !machines.contains_key(&machine) => {
                row(step, StepStatus::Todo, format!("{machine} is not created yet"))
            }
            (None, Err(message)) => row(step, StepStatus::Unavailable, message.clone()),
            (None, Ok(runs)) => {
                match runs.iter().find(|r| r.state_machine == machine && r.photo == last.key && r.user == last.user) {
                    None => row(step, StepStatus::Todo, format!("{} has not run on {machine} yet", last.key)),
                    Some(found) => {
                        let (status, detail) = judge(&last, &found.status, found.verdict.as_ref());
                        LabStep { execution: Some(found.arn.clone()), ..row(step, status, detail) }
                    }
                }
            }
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
    // Built by kind above; shown in the workshop's order.
    steps.sort_by_key(|s| Step::ALL.iter().position(|a| *a == s.step));
    steps
}

/// Runs `step`, reporting each line of progress as an action; ends in what it did.
pub async fn run(source: &Source, step: Step, tx: &UnboundedSender<Action>) -> Loaded {
    let say = |line: String| {
        // The dashboard may have quit meanwhile; then nobody needs the line.
        let _ = tx.send(Action::Loaded(Loaded::LabProgress(step, line)));
    };
    if step == Step::Everything {
        return Loaded::LabDone(step, everything(source, tx).await);
    }
    Loaded::LabDone(step, run_step(source, step, &say).await.map_err(|e| sentence(&e)))
}

/// The steps the Lab's `a` runs: every step that makes or runs something, clean-up aside.
pub fn in_everything(step: Step) -> bool {
    !matches!(step, Step::Results | Step::Cleanup | Step::Everything)
}

/// Runs every step still to do in the workshop's order, each reporting as if run on its
/// own, and stops at the first that fails or does not end as the workshop expects.
async fn everything(source: &Source, tx: &UnboundedSender<Action>) -> Result<Outcome, String> {
    let done = |step: Step, result: Result<Outcome, String>| {
        let _ = tx.send(Action::Loaded(Loaded::LabDone(step, result)));
    };
    let mut ran = 0;
    let mut stopped: Option<String> = None;
    for row in status(source).await.into_iter().filter(|row| in_everything(row.step)) {
        let step = row.step;
        if row.status == StepStatus::Done {
            done(
                step,
                Ok(Outcome { message: format!("Already done: {}", row.detail), execution: None, as_expected: true }),
            );
            continue;
        }
        if let Some(title) = &stopped {
            done(step, Err(format!("Not run: “{title}” did not end as expected.")));
            continue;
        }
        let say = |line: String| {
            let _ = tx.send(Action::Loaded(Loaded::LabProgress(step, line)));
        };
        let result = run_step(source, step, &say).await.map_err(|e| sentence(&e));
        if !result.as_ref().is_ok_and(|o| o.as_expected) {
            stopped = Some(step.title());
        }
        ran += 1;
        done(step, result);
    }
    match stopped {
        Some(title) => Err(format!("Stopped at “{title}”: its outcome is on its row.")),
        None => {
            Ok(Outcome { message: format!("Ran {ran} steps, each as expected."), execution: None, as_expected: true })
        }
    }
}

async fn run_step(source: &Source, step: Step, say: &(dyn Fn(String) + Sync)) -> anyhow::Result<Outcome> {
    let clients = &source.clients;
    let done =
        |message: String| -> anyhow::Result<Outcome> { Ok(Outcome { message, execution: None, as_expected: true }) };
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
        // `run` runs it, step by step, each with its own report.
        Step::Everything => anyhow::bail!("every step at once runs through the Lab's `a`"),
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
    let machine = WorkshopNames::state_machine(photo.machine);
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
    let (as_expected, said) = judged(&photo, &followed.verdict);
    let message = format!("{key} as {}: {} in {:.1} s — {said}", photo.user, ending.status, ending.duration_seconds);
    Ok(Outcome { message, execution: Some(arn), as_expected })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_follow_the_workshop_and_fit_80_columns() {
        assert_eq!(Step::ALL.first(), Some(&Step::Collection));
        assert_eq!(Step::ALL.last(), Some(&Step::Cleanup));
        for step in Step::ALL {
            assert!(step.title().chars().count() <= 40, "{:?}: {}", step, step.title());
            assert!(!step.explain().is_empty());
            assert!(!step.explain().to_lowercase().contains("seed"), "{step:?}");
        }
        assert_eq!(Step::Photo(1).title(), "Run 2_sunglass_face.jpg as user_b");
        assert_eq!(Step::Duplicate.photos().len(), 2);
        // Numbered as the workshop's sections, never going back.
        let numbers: Vec<String> = Step::ALL.iter().map(|s| s.number()).collect();
        assert_eq!(numbers[..11], ["1.", "2.", "3.", "3.", "3.", "4.", "4.", "5.", "5.", "6.", "6."]);
        assert!(numbers[11..].iter().all(String::is_empty), "the closing sections have no number: {numbers:?}");
        // Each machine's photos come right after it, and run on it.
        for (i, step) in Step::ALL.iter().enumerate() {
            if let Step::Photo(p) = step
                && let Some(section) = TEST_PHOTOS[*p].section
            {
                let machine = Step::ALL[..i].iter().rev().find_map(|s| match s {
                    Step::StateMachine(m) => Some(*m),
                    _ => None,
                });
                assert_eq!(machine, Some(TEST_PHOTOS[*p].machine), "{step:?}");
                assert_eq!(section, TEST_PHOTOS[*p].machine + 2);
            }
        }
    }

    fn refused(state: &str, error: &str, reason: &str) -> Verdict {
        Verdict::Refused { state: state.into(), error: error.into(), reason: reason.into() }
    }

    #[test]
    fn a_photo_step_is_done_only_when_it_ended_as_the_workshop_expects() {
        let sunglasses = refused("FaceDetection", "PhotoDoesNotMeetRequirementError", "Face is wearing sunglasses");
        let duplicate = refused("CheckFaceDuplicate", "FaceAlreadyExistsError", "(none given)");
        let [m1_happy, m1_sunglasses, m2_happy, m3_happy, m4_happy, m4_sunglasses, many, none] = TEST_PHOTOS;

        // Machine 1 only checks the face: success is passing, not registering.
        assert_eq!(judge(&m1_happy, "SUCCEEDED", Some(&Verdict::Succeeded)).0, StepStatus::Done);
        assert_eq!(judged(&m1_happy, &Verdict::Succeeded), (true, "passed the checks".into()));
        assert_eq!(judge(&m1_sunglasses, "SUCCEEDED", Some(&sunglasses)).0, StepStatus::Done);
        let (status, said) = judge(&m1_sunglasses, "SUCCEEDED", Some(&Verdict::Succeeded));
        assert_eq!(status, StepStatus::Unexpected, "sunglasses let through: {said}");
        assert!(said.contains("the workshop expects refused: the face wears sunglasses"), "{said}");

        // Section 4 before section 5: no face is indexed yet; after it, the duplicate refusal
        // is not what section 4 is about, and says what happened.
        assert_eq!(judge(&m2_happy, "SUCCEEDED", Some(&Verdict::Succeeded)).0, StepStatus::Done);
        let (status, said) = judge(&m2_happy, "SUCCEEDED", Some(&duplicate));
        assert_eq!(status, StepStatus::Unexpected);
        assert!(said.starts_with("SUCCEEDED — refused at CheckFaceDuplicate: FaceAlreadyExistsError"), "{said}");

        // Section 5 registers; a duplicate there is not ✔ (the case a second pass showed green).
        assert_eq!(judged(&m3_happy, &Verdict::Succeeded), (true, "user_a registered".into()));
        assert_eq!(judge(&m3_happy, "SUCCEEDED", Some(&duplicate)).0, StepStatus::Unexpected);

        // Section 6 expects the face section 5 indexed to be refused — or registered, if it was deleted.
        assert_eq!(judge(&m4_happy, "SUCCEEDED", Some(&duplicate)).0, StepStatus::Done);
        assert_eq!(judge(&m4_happy, "SUCCEEDED", Some(&Verdict::Succeeded)).0, StepStatus::Done);
        assert_eq!(judge(&m4_happy, "SUCCEEDED", Some(&sunglasses)).0, StepStatus::Unexpected);

        // The closing checks: each refusal for its own reason only.
        assert_eq!(judge(&m4_sunglasses, "SUCCEEDED", Some(&sunglasses)).0, StepStatus::Done);
        let two = refused("FaceDetection", "PhotoDoesNotMeetRequirementError", "Detected 2 faces in the photo.");
        let zero = refused("FaceDetection", "PhotoDoesNotMeetRequirementError", "Detected 0 faces in the photo.");
        assert_eq!(judge(&many, "SUCCEEDED", Some(&two)).0, StepStatus::Done);
        assert_eq!(judge(&many, "SUCCEEDED", Some(&zero)).0, StepStatus::Unexpected);
        assert_eq!(judge(&none, "SUCCEEDED", Some(&zero)).0, StepStatus::Done);
        assert_eq!(judge(&none, "SUCCEEDED", Some(&two)).0, StepStatus::Unexpected);
        let [first, second] = DUPLICATE;
        assert_eq!(judge(&first, "SUCCEEDED", Some(&Verdict::Succeeded)).0, StepStatus::Done);
        assert_eq!(judge(&second, "SUCCEEDED", Some(&duplicate)).0, StepStatus::Done);
        assert_eq!(judge(&second, "SUCCEEDED", Some(&Verdict::Succeeded)).0, StepStatus::Unexpected);

        // A failure is never done; a run in progress or an unreadable history is neither.
        let failed = Verdict::Failed {
            status: "FAILED".into(),
            state: "Thumbnail".into(),
            error: "States.TaskFailed".into(),
            reason: "boom".into(),
        };
        let (status, said) = judge(&m3_happy, "FAILED", Some(&failed));
        assert_eq!(status, StepStatus::Unexpected);
        assert!(said.starts_with("FAILED — failed at Thumbnail: States.TaskFailed;"), "{said}");
        assert_eq!(judge(&m3_happy, "RUNNING", Some(&Verdict::Running)).0, StepStatus::Running);
        assert_eq!(judge(&m3_happy, "SUCCEEDED", None).0, StepStatus::Unavailable);
    }

    #[test]
    fn every_test_photo_is_a_compiled_in_selfie() {
        for photo in TEST_PHOTOS.iter().chain(DUPLICATE.iter()) {
            assert!(workshop::SELFIES.iter().any(|(key, _)| *key == photo.key), "{}", photo.key);
        }
    }
}
