//! Crash safety of the real `wildrydes serve` binary: a seeded mixed load of writes through
//! the real SDK clients, a kill -9 at a random moment while writes are in flight, a restart
//! on the same data directory, and then: every acknowledged write is present and intact,
//! every write that was in flight is present-and-intact or absent (never corrupt), and the
//! SQLite database passes `PRAGMA integrity_check`. Repeated `WILDRYDES_CRASH_KILLS` times
//! (20 by default; 200 for a long run). The RNG seed is printed; `WILDRYDES_CRASH_SEED=<seed>`
//! replays the same writes and kill delays (the interleaving is up to the scheduler).
//!
//! The load uses every service the local cloud serves: SES SendEmail always, S3 PutObject
//! and multipart uploads (one part, or a 5 MiB part and a last one) and DynamoDB PutItem
//! when those services answer (each is probed first, and a service
//! that is not there yet is skipped with a message), and — when the function binaries are
//! built — Step Functions executions: the rider workflow (deployed as `deploy` does) and a
//! machine of Waits, a Map, Retries, failing Tasks (the probe function) and IndexFaces (the
//! workshop's index-face function, with the execution's name as ExternalImageId). After
//! every restart each execution must reach a terminal state with a history whose ids run
//! 1..n, each event pointing back to an earlier one, and no ExternalImageId may have two
//! faces (a task re-run after a crash must not index a face twice).
//!
//! Also here: SIGTERM and SIGINT make `serve` exit with status 0 and keep what it acknowledged.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use wildrydes::cloud::{Clients, Target};
use wildrydes::deploy::{self, DeployOptions};

use crate::ses::try_outbox;

const SENDER: &str = "crash@wildrydes.example";
const BUCKET: &str = "crash-test-bucket";
const TABLE: &str = "CrashTestItems";
/// A global index on the items' `bucket`, written in each PutItem's transaction.
const INDEX: &str = "by_bucket";
const BUCKETS: u64 = 4;
const WRITERS: usize = 3;
/// S3's smallest part but the last.
const MIN_PART: u64 = 5 * 1024 * 1024;
const FLOW_MACHINE: &str = "CrashFlows";
const PROBE: &str = "crash-probe";
/// How long an execution may take to finish after a restart (a hang detector: the longest
/// one waits 2 s, retries 2 s and runs the face models twice).
/// The server logs each IndexFaces that repeated an indexed image (a task re-run after a
/// kill, as delivery is at-least-once) at info under this target; the report counts them.
const REPEAT_LOG_TARGET: &str = "wildrydes::local::rekognition::collections";
const REPEAT_LOG_LINE: &str = "IndexFaces repeated for an indexed image";

fn repeated_index_faces(log: &Path) -> usize {
    std::fs::read_to_string(log).map(|text| text.matches(REPEAT_LOG_LINE).count()).unwrap_or(0)
}

const EXECUTION_DEADLINE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------
// The server process

/// `wildrydes serve` on a free port; killed (SIGKILL) if dropped while still running, so
/// a failing test leaves no process behind.
struct Server {
    child: Child,
    endpoint: String,
}

/// The binary under test: the one Cargo built for this test, unless `WILDRYDES_SERVE_BIN`
/// names a copy (where several checkouts share one target directory, the file Cargo built
/// can be replaced by another checkout's build while the tests run).
fn serve_binary() -> PathBuf {
    std::env::var_os("WILDRYDES_SERVE_BIN").map(PathBuf::from).unwrap_or_else(|| env!("CARGO_BIN_EXE_wildrydes").into())
}

impl Server {
    fn start(data_dir: &Path, log: &Path) -> Self {
        let log_file = File::options().create(true).append(true).open(log).expect("server log file");
        let mut child = Command::new(serve_binary())
            .arg("serve")
            .args(["--port", "0", "--data-dir"])
            .arg(data_dir)
            .env_remove("AWS_REGION")
            .env("WILDRYDES_LOG", format!("wildrydes=warn,{REPEAT_LOG_TARGET}=info"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("wildrydes serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Keep reading stdout to its end: a closed pipe would make the server's next
        // println fail.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.split("listening on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let endpoint = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(endpoint) => endpoint,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("wildrydes serve printed no endpoint; its log:\n{}", read_log(log));
            }
        };
        Self { child, endpoint }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reap it.
    fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the killed server");
    }

    /// Waits for the process to exit on its own; `None` if it is still running after
    /// `limit` (then it is killed: a hung shutdown must not hang the test suite).
    fn wait_exit(mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_log(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut start = text.len().saturating_sub(4000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

/// SDK clients for the server, without retries: a write counts as acknowledged only when
/// its own request got a success response, and a request the kill cut short is not resent
/// to whatever listens on that port next.
async fn clients(endpoint: &str) -> Clients {
    use aws_config::{BehaviorVersion, Region};
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new("wildrydes", "wildrydes", None, None, "crash"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder().operation_timeout(Duration::from_secs(30)).build(),
        )
        .load()
        .await;
    Clients::new(&config, &Target::local(endpoint))
}

/// The database file, opened read-only after the kill and before the restart.
fn integrity_check(data_dir: &Path) -> Vec<String> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(data_dir.join("wildrydes.sqlite"), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("the database opens read-only");
    let mut stmt = conn.prepare("PRAGMA integrity_check").expect("integrity_check prepares");
    stmt.query_map([], |row| row.get::<_, String>(0))
        .expect("integrity_check runs")
        .collect::<Result<Vec<_>, _>>()
        .expect("integrity_check rows")
}

// ---------------------------------------------------------------------------------------
// The load

/// SplitMix64: small, seedable, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }

    fn text(&mut self, len: usize) -> String {
        // Some non-ASCII too: stored text must come back as the same UTF-8.
        let alphabet: Vec<char> =
            "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;-éß€".chars().collect();
        (0..len).map(|_| alphabet[self.below(alphabet.len() as u64) as usize]).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Services {
    s3: bool,
    dynamodb: bool,
    flows: Option<Flows>,
}

/// The state machines the load starts executions of.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flows {
    rider: String,
    mix: String,
}

impl Flows {
    fn arn(&self, machine: Machine) -> &str {
        match machine {
            Machine::Rider => &self.rider,
            Machine::Mix => &self.mix,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Machine {
    Rider,
    Mix,
}

/// One write, with everything needed to recognise it afterwards. Each carries a unique id
/// (subject, key), so an in-flight write found later can be matched to what was sent.
#[derive(Debug, Clone)]
enum Write {
    Email {
        subject: String,
        text: String,
        to: String,
    },
    /// An object put whole, or (`multipart`) uploaded in parts and completed.
    Object {
        key: String,
        bytes: Vec<u8>,
        multipart: bool,
    },
    Item {
        key: String,
        payload: Vec<u8>,
        note: String,
        n: u64,
    },
    /// StartExecution named `name`; `indexes` when it must end with exactly one face.
    Execution {
        name: String,
        machine: Machine,
        input: String,
        indexes: bool,
    },
}

impl Write {
    fn generate(rng: &mut Rng, id: &str, services: &Services) -> Self {
        let mut kinds = vec![0];
        if services.s3 {
            kinds.push(1);
        }
        if services.dynamodb {
            kinds.push(2);
        }
        if services.flows.is_some() {
            kinds.push(3);
        }
        match kinds[rng.below(kinds.len() as u64) as usize] {
            3 => Write::execution(rng, id),
            1 => {
                // Mostly small objects, now and then one of a few hundred KiB; a quarter of
                // them uploaded in parts, now and then two (the first at S3's 5 MiB minimum).
                let len = if rng.below(16) == 0 { rng.below(256 * 1024) } else { rng.below(8 * 1024) };
                let multipart = rng.below(4) == 0;
                let len = if multipart && rng.below(8) == 0 { MIN_PART + len } else { len };
                Write::Object { key: format!("photos/{id}.bin"), bytes: rng.bytes(len as usize), multipart }
            }
            2 => {
                let len = rng.below(4096) as usize;
                Write::Item { key: id.to_string(), payload: rng.bytes(len), note: rng.text(40), n: rng.next() >> 12 }
            }
            _ => {
                let len = rng.below(2000) as usize + 1;
                Write::Email {
                    subject: format!("crash {id}"),
                    text: rng.text(len),
                    to: format!("rider-{id}@example.com"),
                }
            }
        }
    }

    /// An execution of the rider workflow (a selfie that passes or is refused), or of the
    /// mixed machine with a Wait, Map items that echo, sleep or fail (retried, then caught),
    /// and a last task whose error is caught or fails the execution.
    fn execution(rng: &mut Rng, id: &str) -> Self {
        let name = id.to_string();
        if rng.below(3) == 0 {
            let photo = ["1_happy_face.jpg", "2_sunglass_face.jpg", "4_no_face.jpg", "5_same_person_1.jpg"]
                [rng.below(4) as usize];
            let input =
                wildrydes::run::workflow_input(&name, &wildrydes::workshop::WorkshopNames::local().photo_bucket, photo);
            return Write::Execution { name, machine: Machine::Rider, input, indexes: false };
        }
        let flaky = rng.below(4) == 0;
        let mut items = vec![serde_json::json!({"action": "echo", "n": 1})];
        for _ in 0..rng.below(3) {
            items.push(serde_json::json!({"action": "sleep", "ms": rng.below(200)}));
        }
        if flaky {
            items.push(serde_json::json!({"action": "error", "errorType": "Flaky", "errorMessage": "always"}));
        }
        let fatal = rng.below(4) == 0;
        let input = serde_json::json!({
            "id": name,
            "wait": rng.below(2),
            "items": items,
            "bucket": wildrydes::workshop::WorkshopNames::local().photo_bucket,
            "key": "1_happy_face.jpg",
            "failType": if fatal { "Fatal" } else { "Broken" },
        });
        Write::Execution { name, machine: Machine::Mix, input: input.to_string(), indexes: !flaky && !fatal }
    }

    fn id(&self) -> &str {
        match self {
            Write::Email { subject, .. } => subject,
            Write::Object { key, .. } | Write::Item { key, .. } => key,
            Write::Execution { name, .. } => name,
        }
    }

    async fn send(&self, clients: &Clients, flows: Option<&Flows>) -> Result<Option<String>, Failure> {
        match self {
            Write::Execution { name, machine, input, .. } => {
                let flows = flows.expect("executions are generated only when the flows are deployed");
                let started = clients
                    .sfn
                    .start_execution()
                    .state_machine_arn(flows.arn(*machine))
                    .name(name)
                    .input(input)
                    .send()
                    .await
                    .map_err(Failure::from_sdk)?;
                Ok(Some(started.execution_arn))
            }
            Write::Email { subject, text, to } => {
                let content = EmailContent::builder()
                    .simple(
                        Message::builder()
                            .subject(Content::builder().data(subject).build().expect("subject has data"))
                            .body(Body::builder().text(Content::builder().data(text).build().expect("data")).build())
                            .build(),
                    )
                    .build();
                let sent = clients
                    .sesv2
                    .send_email()
                    .from_email_address(SENDER)
                    .destination(Destination::builder().to_addresses(to).build())
                    .content(content)
                    .send()
                    .await
                    .map_err(Failure::from_sdk)?;
                Ok(sent.message_id().map(str::to_string))
            }
            Write::Object { key, bytes, multipart: true } => {
                let s3 = &clients.s3;
                let created =
                    s3.create_multipart_upload().bucket(BUCKET).key(key).send().await.map_err(Failure::from_sdk)?;
                let id = created.upload_id().unwrap_or_default();
                let chunks: Vec<&[u8]> =
                    if bytes.is_empty() { vec![&[]] } else { bytes.chunks(MIN_PART as usize).collect() };
                let mut parts = Vec::new();
                for (number, chunk) in (1..).zip(chunks) {
                    let part = s3
                        .upload_part()
                        .bucket(BUCKET)
                        .key(key)
                        .upload_id(id)
                        .part_number(number)
                        .body(ByteStream::from(chunk.to_vec()))
                        .send()
                        .await
                        .map_err(Failure::from_sdk)?;
                    parts.push(CompletedPart::builder().part_number(number).set_e_tag(part.e_tag).build());
                }
                s3.complete_multipart_upload()
                    .bucket(BUCKET)
                    .key(key)
                    .upload_id(id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                    .send()
                    .await
                    .map_err(Failure::from_sdk)?;
                Ok(None)
            }
            Write::Object { key, bytes, .. } => {
                clients
                    .s3
                    .put_object()
                    .bucket(BUCKET)
                    .key(key)
                    .body(ByteStream::from(bytes.clone()))
                    .send()
                    .await
                    .map_err(Failure::from_sdk)?;
                Ok(None)
            }
            Write::Item { key, payload, note, n } => {
                clients
                    .dynamodb
                    .put_item()
                    .table_name(TABLE)
                    .set_item(Some(item(key, payload, note, *n)))
                    .send()
                    .await
                    .map_err(Failure::from_sdk)?;
                Ok(None)
            }
        }
    }
}

fn item(key: &str, payload: &[u8], note: &str, n: u64) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("id".to_string(), AttributeValue::S(key.to_string())),
        ("payload".to_string(), AttributeValue::B(aws_smithy_types::Blob::new(payload))),
        ("note".to_string(), AttributeValue::S(note.to_string())),
        ("n".to_string(), AttributeValue::N(n.to_string())),
        ("bucket".to_string(), AttributeValue::S(format!("b{}", n % BUCKETS))),
    ])
}

/// Why a write got no success response.
#[derive(Debug)]
enum Failure {
    /// The server answered with an error: a bug, whenever it happens.
    Answered(String),
    /// No answer (connection refused or cut, timeout): expected once the kill is sent.
    NoAnswer(String),
}

impl Failure {
    fn from_sdk<E: std::fmt::Debug + ProvideErrorMetadata, R: std::fmt::Debug>(e: SdkError<E, R>) -> Self {
        match e {
            SdkError::ServiceError(service) => Failure::Answered(format!("{:?}", service.err())),
            SdkError::ConstructionFailure(_) => Failure::Answered(format!("the request could not be built: {e:?}")),
            other => Failure::NoAnswer(format!("{other:?}")),
        }
    }
}

/// What one writer saw of its writes.
#[derive(Default)]
struct Outcomes {
    /// Writes that got a success response, with SES's MessageId where there is one.
    acked: Vec<(Write, Option<String>)>,
    /// Writes the kill cut short: they may or may not have been stored.
    in_flight: Vec<Write>,
    /// Anything that must not happen (an error response, a failure before the kill).
    errors: Vec<String>,
}

async fn writer(
    clients: Clients,
    mut rng: Rng,
    prefix: String,
    services: Services,
    killed: Arc<AtomicBool>,
) -> Outcomes {
    let mut out = Outcomes::default();
    for n in 0.. {
        if killed.load(Ordering::SeqCst) {
            break;
        }
        let write = Write::generate(&mut rng, &format!("{prefix}-{n}"), &services);
        match write.send(&clients, services.flows.as_ref()).await {
            Ok(message_id) => out.acked.push((write, message_id)),
            Err(Failure::NoAnswer(_)) if killed.load(Ordering::SeqCst) => {
                out.in_flight.push(write);
                break;
            }
            Err(Failure::Answered(why)) => {
                out.errors.push(format!("{} got an error response: {why}", write.id()));
                break;
            }
            Err(Failure::NoAnswer(why)) => {
                out.errors.push(format!("{} got no answer before the kill: {why}", write.id()));
                break;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Checking

/// Everything ever attempted, and what must be found after a restart.
#[derive(Default)]
struct Ledger {
    /// Acknowledged (or seen stored after a restart): must be present and intact.
    durable: HashMap<String, (Write, Option<String>)>,
    /// In flight at a kill and not seen since: present-and-intact or absent.
    maybe: HashMap<String, Write>,
    checks: usize,
    /// Executions already seen terminal with a well-formed history.
    finished: HashSet<String>,
    /// Executions whose Index state succeeded: each must have exactly one face.
    indexed: HashSet<String>,
    /// Executions in which a function process exited mid-task (Runtime.ExitError).
    function_exits: Vec<String>,
    histories_checked: usize,
    events_checked: usize,
    faces_checked: usize,
}

impl Ledger {
    fn expected(&self, id: &str) -> Option<&Write> {
        self.durable.get(id).map(|(w, _)| w).or_else(|| self.maybe.get(id))
    }

    /// Marks an in-flight write that turned out to be stored as durable from now on.
    fn promote(&mut self, id: &str) {
        if let Some(write) = self.maybe.remove(id) {
            self.durable.insert(id.to_string(), (write, None));
        }
    }
}

async fn verify(clients: &Clients, endpoint: &str, ledger: &mut Ledger, services: &Services) -> Vec<String> {
    let mut problems = Vec::new();
    let mut checks = 0;

    // SES: one read of the whole outbox.
    match try_outbox(endpoint).await {
        Err(e) => problems.push(e),
        Ok(messages) => {
            let mut seen = HashSet::new();
            for m in &messages {
                let subject = m["subject"].as_str().unwrap_or("").to_string();
                if !subject.starts_with("crash ") {
                    continue;
                }
                if !seen.insert(subject.clone()) {
                    problems.push(format!("{subject}: in the outbox twice"));
                }
                match ledger.expected(&subject) {
                    Some(Write::Email { text, to, .. }) => {
                        if m["text"] != text.as_str() || m["to"] != serde_json::json!([to]) || m["from"] != SENDER {
                            problems.push(format!("{subject}: stored message differs from the one sent: {m}"));
                        }
                        if let Some((_, Some(id))) = ledger.durable.get(&subject)
                            && m["messageId"] != id.as_str()
                        {
                            problems.push(format!("{subject}: MessageId {} but {id} was acknowledged", m["messageId"]));
                        }
                    }
                    _ => problems.push(format!("{subject}: in the outbox but never sent")),
                }
            }
            for (id, (write, _)) in &ledger.durable {
                if matches!(write, Write::Email { .. }) {
                    checks += 1;
                    if !seen.contains(id) {
                        problems.push(format!("{id}: acknowledged but missing from the outbox"));
                    }
                }
            }
            let found: Vec<String> = seen.into_iter().collect();
            for id in found {
                ledger.promote(&id);
            }
        }
    }

    if services.s3 {
        let mut keys = Vec::new();
        let mut pages = clients.s3.list_objects_v2().bucket(BUCKET).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string))),
                Err(e) => {
                    problems.push(format!("ListObjectsV2: {e:?}"));
                    break;
                }
            }
        }
        let present: HashSet<String> = keys.iter().cloned().collect();
        let mut expected = Vec::new();
        for key in &keys {
            let Some(Write::Object { bytes, .. }) = ledger.expected(key) else {
                problems.push(format!("{key}: in the bucket but never put"));
                continue;
            };
            checks += usize::from(ledger.durable.contains_key(key));
            expected.push((key.clone(), bytes));
        }
        // A few reads at a time: the check is the bulk of the test's time.
        use futures::StreamExt;
        let found: Vec<Option<String>> = futures::stream::iter(expected)
            .map(|(key, bytes)| async move {
                match clients.s3.get_object().bucket(BUCKET).key(&key).send().await {
                    Ok(got) => match got.body.collect().await {
                        Ok(body) => (body.into_bytes().as_ref() != bytes.as_slice())
                            .then(|| format!("{key}: stored bytes differ from the bytes put")),
                        Err(e) => Some(format!("{key}: reading the body: {e}")),
                    },
                    Err(e) => Some(format!("{key}: listed but GetObject failed: {e:?}")),
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        problems.extend(found.into_iter().flatten());
        for (id, (write, _)) in &ledger.durable {
            if matches!(write, Write::Object { .. }) && !present.contains(id) {
                problems.push(format!("{id}: acknowledged but missing from the bucket"));
            }
        }
        for key in keys {
            ledger.promote(&key);
        }
    }

    if services.dynamodb {
        let mut items = Vec::new();
        let mut pages = clients.dynamodb.scan().table_name(TABLE).consistent_read(true).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => items.extend(page.items().iter().cloned()),
                Err(e) => {
                    problems.push(format!("Scan: {e:?}"));
                    break;
                }
            }
        }
        let mut present = HashSet::new();
        for stored in &items {
            let Some(AttributeValue::S(key)) = stored.get("id") else {
                problems.push(format!("an item without its key: {stored:?}"));
                continue;
            };
            present.insert(key.clone());
            let Some(Write::Item { payload, note, n, .. }) = ledger.expected(key) else {
                problems.push(format!("{key}: in the table but never put"));
                continue;
            };
            checks += usize::from(ledger.durable.contains_key(key));
            if *stored != item(key, payload, note, *n) {
                problems.push(format!("{key}: stored item differs from the item put: {stored:?}"));
            }
        }
        for (id, (write, _)) in &ledger.durable {
            if matches!(write, Write::Item { .. }) && !present.contains(id) {
                problems.push(format!("{id}: acknowledged but missing from the table"));
            }
        }
        problems.extend(verify_index(clients, &items).await);
        for key in present {
            ledger.promote(&key);
        }
    }
    if let Some(flows) = &services.flows {
        let exits_before = ledger.function_exits.len();
        let found = verify_executions(clients, flows, ledger).await;
        if exits_before == 0 && !ledger.function_exits.is_empty() {
            println!(
                "crash test: a function process exited mid-task: {}\nthe probe's log:\n{}",
                ledger.function_exits[0],
                function_log(endpoint, PROBE).await
            );
        }
        if !found.is_empty() {
            // The probe's own log says why a task failed.
            problems.push(format!("the probe's log:\n{}", function_log(endpoint, PROBE).await));
        }
        problems.extend(found);
    }
    ledger.checks += checks;
    problems
}

/// The global index holds exactly the table's items (projection ALL), no more, no fewer.
async fn verify_index(clients: &Clients, table: &[HashMap<String, AttributeValue>]) -> Vec<String> {
    let mut problems = Vec::new();
    for b in 0..BUCKETS {
        let bucket = format!("b{b}");
        let mut expected: Vec<&HashMap<String, AttributeValue>> =
            table.iter().filter(|i| i.get("bucket") == Some(&AttributeValue::S(bucket.clone()))).collect();
        let mut indexed = Vec::new();
        let mut pages = clients
            .dynamodb
            .query()
            .table_name(TABLE)
            .index_name(INDEX)
            .key_condition_expression("#b = :b")
            .expression_attribute_names("#b", "bucket")
            .expression_attribute_values(":b", AttributeValue::S(bucket.clone()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => indexed.extend(page.items().iter().cloned()),
                Err(e) => {
                    problems.push(format!("Query {INDEX}: {e:?}"));
                    return problems;
                }
            }
        }
        let id = |i: &HashMap<String, AttributeValue>| format!("{:?}", i.get("id"));
        expected.sort_by_key(|i| id(i));
        indexed.sort_by_key(|i| id(i));
        if indexed.len() != expected.len() || indexed.iter().zip(&expected).any(|(a, b)| a != *b) {
            problems.push(format!(
                "{INDEX} {bucket}: {} entries for {} items in the table, or an entry differs from its item",
                indexed.len(),
                expected.len()
            ));
        }
    }
    problems
}

/// The last lines a function logged, as the dashboard reads them (for a failure's message).
async fn function_log(endpoint: &str, function: &str) -> String {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let Ok(uri) = format!("{endpoint}/_wildrydes/logs/{function}?limit=60").parse::<http::Uri>() else {
        return String::new();
    };
    match client.get(uri).await {
        Ok(resp) => match resp.into_body().collect().await {
            Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            Err(e) => format!("reading the log: {e}"),
        },
        Err(e) => format!("GET the log: {e}"),
    }
}

/// Every execution started (acknowledged, or found after a kill) reaches a terminal state,
/// its history runs 1..n with each event pointing back, and no face is indexed twice.
async fn verify_executions(clients: &Clients, flows: &Flows, ledger: &mut Ledger) -> Vec<String> {
    let mut problems = Vec::new();
    // name → (ARN, status), for both machines.
    let mut listed: HashMap<String, (String, String)> = HashMap::new();
    for machine in [Machine::Rider, Machine::Mix] {
        let mut pages = clients.sfn.list_executions().state_machine_arn(flows.arn(machine)).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => {
                    for e in page.executions() {
                        listed.insert(e.name.clone(), (e.execution_arn.clone(), e.status.as_str().to_string()));
                    }
                }
                Err(e) => {
                    problems.push(format!("ListExecutions: {e:?}"));
                    return problems;
                }
            }
        }
    }
    for (id, (write, _)) in &ledger.durable {
        if matches!(write, Write::Execution { .. }) && !listed.contains_key(id) {
            problems.push(format!("execution {id}: acknowledged but missing"));
        }
    }
    let deadline = Instant::now() + EXECUTION_DEADLINE;
    let names: Vec<String> = listed.keys().filter(|n| !ledger.finished.contains(*n)).cloned().collect();
    for name in names {
        if !matches!(ledger.expected(&name), Some(Write::Execution { .. })) {
            problems.push(format!("execution {name}: listed but never started"));
            continue;
        }
        let arn = listed[&name].0.clone();
        let status = loop {
            match clients.sfn.describe_execution().execution_arn(&arn).send().await {
                Ok(d) if d.status.as_str() != "RUNNING" => break Some(d.status.as_str().to_string()),
                Ok(_) if Instant::now() > deadline => break None,
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => {
                    problems.push(format!("execution {name}: DescribeExecution: {e:?}"));
                    break None;
                }
            }
        };
        let Some(status) = status else {
            problems
                .push(format!("execution {name}: still RUNNING {} s after the restart", EXECUTION_DEADLINE.as_secs()));
            continue;
        };
        let mut ids = Vec::new();
        // Whether the Index state finished, and every error the history records (to say why).
        let mut indexed = false;
        let mut errors = Vec::new();
        let mut pages = clients.sfn.get_execution_history().execution_arn(&arn).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => {
                    for e in page.events() {
                        if e.previous_event_id >= e.id {
                            problems.push(format!(
                                "execution {name}: event {} points forward to {}",
                                e.id, e.previous_event_id
                            ));
                        }
                        ids.push(e.id);
                        if e.r#type.as_str() == "TaskStateExited"
                            && e.state_exited_event_details().map(|d| d.name()) == Some("Index")
                        {
                            indexed = true;
                        }
                        let error = e
                            .lambda_function_failed_event_details()
                            .map(|d| (d.error(), d.cause()))
                            .or_else(|| e.task_failed_event_details().map(|d| (d.error(), d.cause())))
                            .or_else(|| e.execution_failed_event_details().map(|d| (d.error(), d.cause())));
                        if let Some((error, cause)) = error {
                            errors.push(format!(
                                "{} {}: {}",
                                e.r#type.as_str(),
                                error.unwrap_or_default(),
                                cause.unwrap_or_default()
                            ));
                        }
                    }
                }
                Err(e) => {
                    problems.push(format!("execution {name}: GetExecutionHistory: {e:?}"));
                    break;
                }
            }
        }
        if ids != (1..=ids.len() as i64).collect::<Vec<_>>() {
            problems.push(format!("execution {name} ({status}): history ids are not 1..n: {ids:?}"));
        }
        ledger.histories_checked += 1;
        ledger.events_checked += ids.len();
        ledger.finished.insert(name.clone());
        ledger.promote(&name);
        if indexed {
            ledger.indexed.insert(name.clone());
        }
        // A function process that exited mid-task is an error the machine catches (as on
        // AWS): the path it then takes is not the one predicted. Counted, shown, and a
        // failure at the end.
        let process_exited = errors.iter().any(|e| e.contains("Runtime.ExitError"));
        if process_exited {
            ledger.function_exits.push(format!("{name}: {errors:?}"));
        }
        if let Some(Write::Execution { indexes: true, .. }) = ledger.expected(&name)
            && (status != "SUCCEEDED" || !indexed)
            && !process_exited
        {
            problems.push(format!(
                "execution {name}: {status}, Index {}, though all its tasks succeed or are caught; errors: {errors:?}",
                if indexed { "ran" } else { "never ran" }
            ));
        }
    }
    // Faces by ExternalImageId: exactly one where Index ran, however often it ran.
    let mut faces: HashMap<String, usize> = HashMap::new();
    let mut pages =
        clients.rekognition.list_faces().collection_id(wildrydes::workshop::COLLECTION_ID).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => {
                for f in page.faces() {
                    *faces.entry(f.external_image_id().unwrap_or_default().to_string()).or_default() += 1;
                }
            }
            Err(e) => {
                problems.push(format!("ListFaces: {e:?}"));
                break;
            }
        }
    }
    for (external, count) in &faces {
        if *count > 1 {
            problems.push(format!("{external}: {count} faces indexed for one execution"));
        }
    }
    for name in &ledger.indexed {
        ledger.faces_checked += 1;
        if !faces.contains_key(name) {
            problems
                .push(format!("execution {name}: its Index state succeeded, but its face is not in the collection"));
        }
    }
    problems
}

/// Creates what the load writes into, finding out which services the server has.
async fn set_up(clients: &Clients) -> Services {
    clients.sesv2.create_email_identity().email_identity(SENDER).send().await.expect("the SES sender is created");
    let s3 = match clients.s3.create_bucket().bucket(BUCKET).send().await {
        Ok(_) => true,
        Err(e) if e.code() == Some("NotImplemented") => false,
        Err(e) => panic!("CreateBucket failed: {e:?}"),
    };
    let dynamodb = match clients
        .dynamodb
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("bucket")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().expect("key"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(INDEX)
                .key_schema(
                    KeySchemaElement::builder().attribute_name("bucket").key_type(KeyType::Hash).build().expect("key"),
                )
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .expect("index"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e) if e.code() == Some("UnknownOperationException") => false,
        Err(e) => panic!("CreateTable failed: {e:?}"),
    };
    // A table may take a moment to become ACTIVE, as on AWS.
    for _ in 0..if dynamodb { 100 } else { 0 } {
        let described = clients.dynamodb.describe_table().table_name(TABLE).send().await.expect("DescribeTable");
        if described.table().and_then(|t| t.table_status()) == Some(&aws_sdk_dynamodb::types::TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let flows = match function_binaries() {
        Some(binaries) => Some(deploy_flows(clients, binaries).await),
        None => {
            println!(
                "crash test: SKIPPED the executions: no function binaries next to {} (cargo build --workspace --bins)",
                serve_binary().display()
            );
            None
        }
    };
    Services { s3, dynamodb, flows }
}

/// The function binaries beside the server binary, built by `cargo build --workspace --bins`.
fn function_binaries() -> Option<PathBuf> {
    let dir = serve_binary().parent()?.to_path_buf();
    (dir.join("probe").is_file() && dir.join("index-face").is_file()).then_some(dir)
}

/// The workshop as `deploy` makes it, the probe function, and the mixed machine.
async fn deploy_flows(clients: &Clients, binaries: PathBuf) -> Flows {
    let outputs = deploy::deploy(clients, &DeployOptions::local(binaries.clone()), &mut |_| {})
        .await
        .expect("the workshop deploys");
    let probe = std::fs::read(binaries.join("probe")).expect("the probe binary");
    let zip = wildrydes::local::lambda::code::zip_bootstrap(&probe).expect("the probe zips");
    let probe_arn = clients
        .lambda
        .create_function()
        .function_name(PROBE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role(deploy::LOCAL_LAMBDA_ROLE)
        .handler("bootstrap")
        .timeout(30)
        .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(aws_smithy_types::Blob::new(zip)).build())
        .send()
        .await
        .expect("the probe function is created")
        .function_arn
        .expect("an ARN");
    let index_arn = &outputs.function_arns["IndexFaceFunctionArn"];
    let definition = serde_json::json!({
        "Comment": "Waits, a Map with retried and caught failures, IndexFaces, failing tasks",
        "StartAt": "Pause",
        "States": {
            "Pause": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Each"},
            "Each": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": "$.mapped",
                "ItemProcessor": {"StartAt": "Work", "States": {"Work": {
                    "Type": "Task", "Resource": probe_arn, "End": true,
                    "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1, "BackoffRate": 1.0}]
                }}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failing"}],
                "Next": "Index"
            },
            "Index": {
                "Type": "Task", "Resource": index_arn, "ResultPath": "$.face", "Next": "Failing",
                "Parameters": {"userId.$": "$.id", "s3Bucket.$": "$.bucket", "s3Key.$": "$.key"}
            },
            "Failing": {
                "Type": "Task", "Resource": probe_arn, "ResultPath": "$.failed", "Next": "Done",
                "Parameters": {"action": "error", "errorType.$": "$.failType", "errorMessage": "on purpose"},
                "Retry": [{"ErrorEquals": ["Broken"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["Broken"], "ResultPath": "$.failed", "Next": "Done"}]
            },
            "Done": {"Type": "Succeed"}
        }
    });
    let mix = clients
        .sfn
        .create_state_machine()
        .name(FLOW_MACHINE)
        .role_arn(deploy::LOCAL_STATES_ROLE)
        .definition(definition.to_string())
        .send()
        .await
        .expect("the mixed machine is created")
        .state_machine_arn;
    let rider = outputs.state_machine_arns["RiderPhotoProcessing-4"].clone();
    Flows { rider, mix }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_and_the_database_stays_intact() {
    let seed = env_number("WILDRYDES_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    let kills = env_number("WILDRYDES_CRASH_KILLS").unwrap_or(20);
    println!("crash test: seed {seed} (replay with WILDRYDES_CRASH_SEED={seed}), {kills} kills");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().expect("data directory");
    let data_dir: PathBuf = dir.path().join("data");
    let log = dir.path().join("serve.log");

    let server = Server::start(&data_dir, &log);
    let services = set_up(&clients(&server.endpoint).await).await;
    println!(
        "crash test: load = SES SendEmail{}{}{}",
        if services.s3 { " + S3 PutObject and multipart uploads" } else { " (S3 not served yet: skipped)" },
        if services.dynamodb {
            " + DynamoDB PutItem (with a global index)"
        } else {
            " (DynamoDB not served yet: skipped)"
        },
        if services.flows.is_some() {
            " + executions (rider workflow, Wait/Map/Retry/failing Tasks/IndexFaces)"
        } else {
            ""
        },
    );

    let mut ledger = Ledger::default();
    let mut server = Some(server);
    let started = Instant::now();
    let (mut acked_total, mut in_flight_total) = (0usize, 0usize);
    let mut acked_by_kind = [0usize; 4];
    for round in 0..kills {
        let running = server.take().unwrap_or_else(|| Server::start(&data_dir, &log));
        let clients = clients(&running.endpoint).await;

        // After each restart, everything written so far is checked.
        let problems = verify(&clients, &running.endpoint, &mut ledger, &services).await;
        assert!(problems.is_empty(), "after restart {round} (seed {seed}):\n{}", problems.join("\n"));

        let killed = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..WRITERS)
            .map(|w| {
                let writer_rng = Rng(rng.next());
                let prefix = format!("k{round}w{w}");
                tokio::spawn(writer(clients.clone(), writer_rng, prefix, services.clone(), killed.clone()))
            })
            .collect();
        let delay = Duration::from_millis(30 + rng.below(270));
        tokio::time::sleep(delay).await;
        killed.store(true, Ordering::SeqCst);
        let pid = running.pid();
        running.kill_9();

        for task in tasks {
            let out = task.await.expect("writer task");
            assert!(out.errors.is_empty(), "round {round} (seed {seed}, pid {pid}):\n{}", out.errors.join("\n"));
            acked_total += out.acked.len();
            for (write, _) in &out.acked {
                acked_by_kind[match write {
                    Write::Email { .. } => 0,
                    Write::Object { .. } => 1,
                    Write::Item { .. } => 2,
                    Write::Execution { .. } => 3,
                }] += 1;
            }
            in_flight_total += out.in_flight.len();
            for (write, message_id) in out.acked {
                ledger.durable.insert(write.id().to_string(), (write, message_id));
            }
            for write in out.in_flight {
                ledger.maybe.insert(write.id().to_string(), write);
            }
        }

        let integrity = integrity_check(&data_dir);
        assert_eq!(integrity, ["ok"], "PRAGMA integrity_check after kill {round} (seed {seed})");
    }

    // The last restart: everything is checked once more, then a clean stop.
    let running = Server::start(&data_dir, &log);
    let problems = verify(&clients(&running.endpoint).await, &running.endpoint, &mut ledger, &services).await;
    assert!(problems.is_empty(), "after the last restart (seed {seed}):\n{}", problems.join("\n"));
    let in_flight_stored = in_flight_total - ledger.maybe.len();
    println!(
        "crash test: {kills} kills survived; {acked_total} acknowledged writes ({} emails, {} objects, {} items, \
         {} executions), {in_flight_total} in flight at a kill ({in_flight_stored} of them found stored, intact); \
         {} acknowledged-write checks after restarts; {} execution histories ({} events) terminal and gap-free; \
         {} face checks (one wherever Index ran); {} executions saw a function \
         process exit mid-task; {} IndexFaces calls repeated an indexed image after a kill and added no face; \
         integrity_check ok {kills} times; {:.1} s",
        acked_by_kind[0],
        acked_by_kind[1],
        acked_by_kind[2],
        acked_by_kind[3],
        ledger.checks,
        ledger.histories_checked,
        ledger.events_checked,
        ledger.faces_checked,
        ledger.function_exits.len(),
        repeated_index_faces(&log),
        started.elapsed().as_secs_f64()
    );
    assert!(acked_total > 0, "the load acknowledged no write at all");
    // A function exits only when it crashes, and the probe never does: an exit is the
    // cloud's fault (e.g. a Runtime API answer lambda_runtime cannot take; its log is above).
    assert!(
        ledger.function_exits.is_empty(),
        "function processes exited mid-task (seed {seed}): {:?}",
        ledger.function_exits
    );
    let _ = Command::new("kill").args(["-s", "TERM", &running.pid().to_string()]).status();
    let status = running.wait_exit(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "serve stops cleanly at the end: {status:?}");
}

async fn signal_stops_serve_with_status_0(signal: &str) {
    let dir = tempfile::tempdir().expect("data directory");
    let data_dir = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let server = Server::start(&data_dir, &log);
    let sdk = clients(&server.endpoint).await;
    // An acknowledged write, and an idle keep-alive connection held by the SDK's pool that
    // shutdown must not wait on.
    sdk.sesv2.create_email_identity().email_identity(SENDER).send().await.expect("identity is created");

    let sent = Command::new("kill").args(["-s", signal, &server.pid().to_string()]).status().expect("kill runs");
    assert!(sent.success(), "kill -s {signal} was delivered");
    // 30 s is a hang detector, not a speed requirement: shutdown gives requests in flight
    // at most 10 s, and there are none.
    let status = server.wait_exit(Duration::from_secs(30));
    let log_text = read_log(&log);
    assert_eq!(status.and_then(|s| s.code()), Some(0), "exit status after SIG{signal}; log:\n{log_text}");
    assert!(log_text.contains("shutting down"), "serve says it is shutting down: {log_text}");

    let server = Server::start(&data_dir, &log);
    let sdk = clients(&server.endpoint).await;
    sdk.sesv2.get_email_identity().email_identity(SENDER).send().await.expect("the identity outlived the shutdown");
}

#[tokio::test]
async fn sigterm_makes_serve_exit_0() {
    signal_stops_serve_with_status_0("TERM").await;
}

#[tokio::test]
async fn sigint_makes_serve_exit_0() {
    signal_stops_serve_with_status_0("INT").await;
}
