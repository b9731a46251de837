//! Function instances: each one a separate process that speaks the Lambda Runtime API to
//! this server, exactly as a `bootstrap` does on AWS.
//!
//! An instance is started on demand for an invocation, with only the environment Lambda
//! gives it, and reached at `AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:PORT/_lambda/<function>/<instance>`:
//! its own path, so the server knows which process is asking. Its `GET …/invocation/next`
//! waits for the invocation handed to it; `POST …/response` or `…/error` answers it.
//! Warm instances are kept and reused; up to [`MAX_INSTANCES_PER_FUNCTION`] run at once
//! per function and further invocations wait for one to be free.
//!
//! What can go wrong is always an answer to the caller, never a hang: the function's
//! Timeout kills the instance (`Sandbox.Timedout`), a process that exits mid-invocation
//! is `Runtime.ExitError`, a report to `/runtime/init/error` is `Runtime.InitError`, a
//! `bootstrap` that cannot be started is `Runtime.InvalidEntrypoint`.
//!
//! Memory: MemorySize is enforced with `RLIMIT_DATA` (set in `pre_exec`), which since
//! Linux 4.7 bounds the process's private writable mappings — its heap, anonymous mmaps and
//! thread stacks — so an allocation beyond the limit fails and a Rust function aborts with
//! "memory allocation failed", which the caller sees as `Runtime.ExitError`. `RLIMIT_AS`
//! was not chosen: it also counts address space that is only reserved (glibc reserves
//! 64 MB per malloc arena, tokio starts a thread per core), so a 128 MB function would fail
//! at start-up on reservations it never touches. Neither is a cgroup: page cache and
//! kernel memory are not counted, and the limit is per process, not per process tree.
//! The REPORT line's "Max Memory Used" is the process's real peak RSS (`VmHWM`).

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

use super::logs::LogSink;
use super::model::FunctionRecord;

/// Instances that may run at once for one function (AWS's default is the account's
/// concurrency; a laptop has fewer cores).
pub const MAX_INSTANCES_PER_FUNCTION: usize = 4;
/// Largest response or error a function may return (Lambda's synchronous limit).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// How an invocation ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The function's result, as the function serialised it.
    Response(Bytes),
    /// A function error: a JSON object with `errorType` and `errorMessage`.
    Error(Bytes),
}

pub struct Invoked {
    pub outcome: Outcome,
    /// This invocation's log, START to REPORT.
    pub log: String,
}

/// What the environment of every instance has in common.
pub struct RuntimeSettings {
    /// `127.0.0.1:PORT`, the host part of `AWS_LAMBDA_RUNTIME_API`.
    pub api_host: String,
    /// The local cloud's endpoint URL, for `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
}

pub struct Runtime {
    settings: RuntimeSettings,
    logs: LogSink,
    pools: Mutex<HashMap<String, Arc<Pool>>>,
    /// Every live instance by id, for the Runtime API.
    instances: Arc<Mutex<HashMap<String, Arc<Instance>>>>,
}

/// The instances of one function at one revision of its code and configuration.
struct Pool {
    record: FunctionRecord,
    code_dir: PathBuf,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Arc<Instance>>>,
    retired: AtomicBool,
}

struct SpawnError {
    message: String,
    /// The executable was momentarily busy (ETXTBSY): worth another try.
    busy: bool,
}

/// One invocation on one instance.
struct Attempt<'a> {
    pool: &'a Arc<Pool>,
    instance: Arc<Instance>,
    cold: bool,
    request_id: &'a str,
    deadline_ms: u64,
    timeout: Duration,
}

struct Invocation {
    /// Set when the process takes it with `next`.
    taken: Arc<AtomicBool>,
    request_id: String,
    payload: Bytes,
    deadline_ms: u64,
    function_arn: String,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Running,
    /// The runtime reported `/runtime/init/error`: (errorType, errorMessage).
    InitFailed(String, String),
    /// The process ended; how, in Go's words as Lambda prints them ("exit status 1").
    Exited(String),
}

pub struct Instance {
    function: String,
    /// Set once the process is forked: the instance is registered before, see `spawn`.
    pid: OnceLock<u32>,
    spawned: Instant,
    /// When the process first asked for an invocation: the end of its init phase.
    ready: OnceLock<Instant>,
    deliver: mpsc::Sender<Invocation>,
    receiver: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    /// The invocation being processed: its request id and where its answer goes.
    current: Mutex<Option<(String, oneshot::Sender<Outcome>)>>,
    state: watch::Sender<State>,
    kill: Arc<Notify>,
    output: Arc<OutputCapture>,
    flushers: Vec<mpsc::UnboundedSender<oneshot::Sender<()>>>,
}

/// Where an instance's output goes: the function's log, tagged with the invocation in
/// progress, and a copy for that invocation's own log (`LogType: Tail`).
struct OutputCapture {
    function: String,
    /// The instance's log stream.
    stream: String,
    sink: LogSink,
    current: Mutex<Option<(String, String)>>,
}

impl OutputCapture {
    fn line(&self, message: &str) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let request_id = current.as_ref().map(|(id, _)| id.clone());
        if let Some((_, tail)) = current.as_mut() {
            tail.push_str(message);
            tail.push('\n');
            // Only the end is ever returned; keep the copy bounded.
            if tail.len() > 64 * 1024 {
                let cut = tail.len() - 32 * 1024;
                let cut = (cut..tail.len()).find(|i| tail.is_char_boundary(*i)).unwrap_or(tail.len());
                tail.drain(..cut);
            }
        }
        // Sent under the lock, so the stored order is the order of capture.
        self.sink.append(&self.function, &self.stream, request_id.as_deref(), message);
    }

    /// Starts capturing for an invocation with its START line, under the lock, so no
    /// output of the process can come before it.
    fn begin(&self, request_id: &str) {
        let start = format!("START RequestId: {request_id} Version: $LATEST");
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        *current = Some((request_id.to_string(), format!("{start}\n")));
        self.sink.append(&self.function, &self.stream, Some(request_id), &start);
    }

    fn end(&self) -> String {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).take().map(|(_, tail)| tail).unwrap_or_default()
    }
}

/// The Runtime API call a process made, parsed from its path.
pub enum RuntimeCall<'a> {
    Next,
    Response(&'a str),
    Error(&'a str),
    InitError,
}

/// What the Runtime API answers a process: a status and a JSON body, or for `next`, an event.
pub enum RuntimeReply {
    Status(u16, serde_json::Value),
    Event { request_id: String, deadline_ms: u64, function_arn: String, trace_id: String, payload: Bytes },
}

impl Runtime {
    pub fn new(settings: RuntimeSettings, logs: LogSink) -> Self {
        Self { settings, logs, pools: Mutex::new(HashMap::new()), instances: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// Invokes `record`'s function (its code unpacked in `code_dir`) with `payload`.
    pub async fn invoke(&self, record: &FunctionRecord, code_dir: &Path, payload: Bytes) -> Invoked {
        let pool = self.pool_for(record, code_dir);
        // Pools never close their semaphore; if one did, the invocation would run without
        // a permit rather than fail.
        let permit: Option<OwnedSemaphorePermit> = pool.permits.clone().acquire_owned().await.ok();
        let request_id = uuid::Uuid::new_v4().to_string();
        let timeout = Duration::from_secs(u64::from(record.timeout));
        let deadline_ms = u64::try_from(super::logs::now_ms()).unwrap_or(0) + timeout.as_millis() as u64;
        let mut attempts = 0;
        let invoked = loop {
            attempts += 1;
            let (instance, cold) = match self.take_instance(&pool).await {
                Ok(found) => found,
                Err(message) => break self.unstartable(record, &request_id, &message),
            };
            let attempt = Attempt { pool: &pool, instance, cold, request_id: &request_id, deadline_ms, timeout };
            match self.run(attempt, payload.clone(), attempts < 2).await {
                Some(invoked) => break invoked,
                // A warm instance died while idle, before it took the invocation: a fresh one gets it.
                None => continue,
            }
        };
        drop(permit);
        invoked
    }

    /// A warm instance of the pool, or a new one (`true`: a cold start).
    async fn take_instance(&self, pool: &Arc<Pool>) -> Result<(Arc<Instance>, bool), String> {
        loop {
            let reused = pool.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match reused {
                Some(instance) if *instance.state.borrow() == State::Running => return Ok((instance, false)),
                Some(dead) => dead.stop(),
                None => break,
            }
        }
        // ETXTBSY: another thread of this server forked while a code file was open for
        // writing (an unpack in progress); the fork closes it at its exec, so try again.
        let mut busy_retries = 0;
        loop {
            match self.spawn(pool) {
                Ok(instance) => return Ok((instance, true)),
                Err(SpawnError { busy: true, .. }) if busy_retries < 50 => {
                    busy_retries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(SpawnError { message, .. }) => return Err(message),
            }
        }
    }

    /// The answer when no process could be started (no or no executable `bootstrap`).
    fn unstartable(&self, record: &FunctionRecord, request_id: &str, message: &str) -> Invoked {
        let log = format!("START RequestId: {request_id} Version: $LATEST\n{message}\nEND RequestId: {request_id}\n");
        let stream = super::logs::stream_name(&uuid::Uuid::new_v4().simple().to_string());
        for line in log.lines() {
            self.logs.append(&record.name, &stream, Some(request_id), line);
        }
        let body = json!({
            "errorType": "Runtime.InvalidEntrypoint",
            "errorMessage": format!("RequestId: {request_id} Error: {message}"),
        });
        Invoked { outcome: Outcome::Error(Bytes::from(body.to_string())), log }
    }

    /// Runs one invocation on one instance. `None` when `may_retry` and the instance turned
    /// out to be dead before it took the invocation.
    async fn run(&self, attempt: Attempt<'_>, payload: Bytes, may_retry: bool) -> Option<Invoked> {
        let Attempt { pool, instance, cold, request_id, deadline_ms, timeout } = attempt;
        let record = &pool.record;
        let started = Instant::now();
        instance.output.begin(request_id);
        let (reply_tx, reply_rx) = oneshot::channel();
        let taken = Arc::new(AtomicBool::new(false));
        let invocation = Invocation {
            request_id: request_id.to_string(),
            payload,
            deadline_ms,
            function_arn: record.arn(&self.settings.region),
            reply: reply_tx,
            taken: taken.clone(),
        };
        // The channel holds one invocation, and an instance is given one at a time.
        let delivered = instance.deliver.try_send(invocation).is_ok();

        enum End {
            Answered(Outcome),
            Failed(State),
            TimedOut,
        }
        let end = if delivered {
            tokio::select! {
                biased;
                reply = reply_rx => match reply {
                    Ok(outcome) => End::Answered(outcome),
                    // The answer was dropped: the process went away mid-request.
                    Err(_) => End::Failed(instance.wait_ended().await),
                },
                failed = instance.wait_ended() => End::Failed(failed),
                _ = tokio::time::sleep(timeout) => End::TimedOut,
            }
        } else {
            End::Failed(State::Exited("the instance could not take the invocation".into()))
        };
        let finished = Instant::now();

        if matches!(end, End::Failed(_)) && !cold && may_retry && !taken.load(Ordering::SeqCst) {
            instance.stop();
            instance.output.end();
            return None;
        }
        let error = |error_type: &str, message: String| {
            Outcome::Error(Bytes::from(json!({ "errorType": error_type, "errorMessage": message }).to_string()))
        };
        let (outcome, healthy, status) = match end {
            End::Answered(outcome) => (outcome, true, None),
            End::TimedOut => {
                let message = format!("Task timed out after {:.2} seconds", timeout.as_secs_f64());
                instance.output.line(&format!("{} {request_id} {message}", rfc3339_now()));
                (error("Sandbox.Timedout", format!("RequestId: {request_id} Error: {message}")), false, Some("timeout"))
            }
            End::Failed(State::InitFailed(error_type, message)) => {
                let text = format!("RequestId: {request_id} Error: {error_type}: {message}");
                instance.output.line(&text);
                (error("Runtime.InitError", text), false, Some("error"))
            }
            End::Failed(State::Exited(how)) => {
                let text = if how == "exit status 0" {
                    format!("RequestId: {request_id} Error: Runtime exited without providing a reason")
                } else {
                    format!("RequestId: {request_id} Error: Runtime exited with error: {how}")
                };
                instance.output.line(&text);
                instance.output.line("Runtime.ExitError");
                (error("Runtime.ExitError", text), false, Some("error"))
            }
            End::Failed(State::Running) => (
                error("Runtime.Unknown", format!("RequestId: {request_id} Error: the instance was lost")),
                false,
                Some("error"),
            ),
        };
        if !healthy {
            instance.stop();
        }
        instance.flush_output().await;

        let ready = instance.ready.get().copied();
        let init = if cold { ready.map(|ready| ready.saturating_duration_since(instance.spawned)) } else { None };
        let run_start = ready.filter(|r| *r > started).unwrap_or(started);
        let duration_ms = finished.saturating_duration_since(run_start).as_secs_f64() * 1000.0;
        let max_memory = instance.pid.get().copied().and_then(peak_rss_mb).unwrap_or(0);
        let mut report = format!(
            "REPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {max_memory} MB",
            duration_ms.ceil() as u64,
            record.memory_size,
        );
        if let Some(init) = init {
            report.push_str(&format!("\tInit Duration: {:.2} ms", init.as_secs_f64() * 1000.0));
        }
        if let Some(status) = status {
            report.push_str(&format!("\tStatus: {status}"));
        }
        instance.output.line(&format!("END RequestId: {request_id}"));
        instance.output.line(&report);
        let log = instance.output.end();

        if healthy && !pool.retired.load(Ordering::SeqCst) && *instance.state.borrow() == State::Running {
            pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(instance);
        } else {
            instance.stop();
        }
        Some(Invoked { outcome, log })
    }

    /// The pool for this revision of the function; an older one is retired.
    fn pool_for(&self, record: &FunctionRecord, code_dir: &Path) -> Arc<Pool> {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pool) = pools.get(&record.name)
            && pool.record.revision_id == record.revision_id
        {
            return pool.clone();
        }
        let pool = Arc::new(Pool {
            record: record.clone(),
            code_dir: code_dir.to_path_buf(),
            permits: Arc::new(Semaphore::new(MAX_INSTANCES_PER_FUNCTION)),
            idle: Mutex::new(Vec::new()),
            retired: AtomicBool::new(false),
        });
        if let Some(old) = pools.insert(record.name.clone(), pool.clone()) {
            old.retire();
        }
        pool
    }

    /// Stops the function's warm instances (its code or configuration changed, or it was
    /// deleted); instances busy with an invocation finish it and then stop.
    pub fn retire(&self, function: &str) {
        let old = self.pools.lock().unwrap_or_else(|p| p.into_inner()).remove(function);
        if let Some(old) = old {
            old.retire();
        }
    }

    /// Stops every instance, busy or not (the server is shutting down).
    pub fn stop_all(&self) {
        let pools: Vec<_> = self.pools.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, p)| p).collect();
        for pool in pools {
            pool.retire();
        }
        let instances: Vec<_> = self.instances.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        for instance in instances {
            instance.stop();
        }
    }

    pub fn instance_count(&self, function: &str) -> usize {
        self.instances.lock().unwrap_or_else(|p| p.into_inner()).values().filter(|i| i.function == function).count()
    }

    fn spawn(&self, pool: &Arc<Pool>) -> Result<Arc<Instance>, SpawnError> {
        let record = &pool.record;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let bootstrap = pool.code_dir.join("bootstrap");
        if !bootstrap.is_file() {
            return Err(SpawnError {
                busy: false,
                message: "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]".into(),
            });
        }
        let mut command = tokio::process::Command::new(&bootstrap);
        command
            .current_dir(&pool.code_dir)
            .env_clear()
            .envs(self.environment(record, &pool.code_dir, &id))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so stopping it also stops whatever it started.
            .process_group(0);
        let limit = u64::from(record.memory_size) * 1024 * 1024;
        // SAFETY: the closure runs between fork and exec and only calls setrlimit, which
        // is async-signal-safe; it touches no memory of the parent.
        unsafe {
            command.pre_exec(move || {
                let rlimit = libc::rlimit { rlim_cur: limit as libc::rlim_t, rlim_max: limit as libc::rlim_t };
                if libc::setrlimit(libc::RLIMIT_DATA, &rlimit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // The instance is registered before the fork: a process that starts fast (a Rust
        // binary, in a few ms) asks the Runtime API for its first event at once, and an
        // unknown instance would get a 404 that lambda_runtime answers with a panic.
        let output = Arc::new(OutputCapture {
            function: record.name.clone(),
            stream: super::logs::stream_name(&id),
            sink: self.logs.clone(),
            current: Mutex::new(None),
        });
        let (stdout_flush, stdout_flushed) = mpsc::unbounded_channel();
        let (stderr_flush, stderr_flushed) = mpsc::unbounded_channel();
        let (deliver, receiver) = mpsc::channel(1);
        let (state, _) = watch::channel(State::Running);
        let kill = Arc::new(Notify::new());
        let instance = Arc::new(Instance {
            function: record.name.clone(),
            pid: OnceLock::new(),
            spawned: Instant::now(),
            ready: OnceLock::new(),
            deliver,
            receiver: tokio::sync::Mutex::new(receiver),
            current: Mutex::new(None),
            state,
            kill: kill.clone(),
            output: output.clone(),
            flushers: vec![stdout_flush, stderr_flush],
        });
        self.instances.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), instance.clone());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                self.instances.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                return Err(SpawnError {
                    busy: e.raw_os_error() == Some(libc::ETXTBSY),
                    message: format!("fork/exec {}: {e}", bootstrap.display()),
                });
            }
        };
        if let Some(pid) = child.id() {
            let _ = instance.pid.set(pid);
        }
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(read_output(stdout, output.clone(), stdout_flushed));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(read_output(stderr, output, stderr_flushed));
        }
        tokio::spawn(supervise(child, kill, Arc::downgrade(&instance), self.instances.clone(), id));
        Ok(instance)
    }

    fn environment(&self, record: &FunctionRecord, code_dir: &Path, instance: &str) -> Vec<(String, String)> {
        let s = &self.settings;
        let task_root = code_dir.display().to_string();
        let date = time::OffsetDateTime::now_utc();
        let stream = format!("{:04}/{:02}/{:02}/[$LATEST]{instance}", date.year(), date.month() as u8, date.day());
        let mut env = vec![
            // With a base path the value needs its scheme: `lambda_runtime` parses it as an
            // `http::Uri`, which reads "host:port/path" only as "http://host:port/path".
            ("AWS_LAMBDA_RUNTIME_API".into(), format!("http://{}/_lambda/{}/{instance}", s.api_host, record.name)),
            ("AWS_REGION".into(), s.region.clone()),
            ("AWS_DEFAULT_REGION".into(), s.region.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), record.name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), record.memory_size.to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{}", record.name)),
            ("AWS_LAMBDA_LOG_STREAM_NAME".into(), stream),
            ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
            ("AWS_ACCESS_KEY_ID".into(), s.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), s.secret_key.clone()),
            ("AWS_ENDPOINT_URL".into(), s.endpoint.clone()),
            ("LAMBDA_TASK_ROOT".into(), task_root.clone()),
            ("LAMBDA_RUNTIME_DIR".into(), task_root.clone()),
            ("LD_LIBRARY_PATH".into(), format!("{task_root}:{task_root}/lib")),
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("LANG".into(), "en_US.UTF-8".into()),
            ("TZ".into(), ":UTC".into()),
        ];
        if let Some(handler) = &record.handler {
            env.push(("_HANDLER".into(), handler.clone()));
        }
        // The function's own variables last: they may override AWS_ENDPOINT_URL (reserved
        // names were refused when they were set).
        for (key, value) in &record.environment {
            env.retain(|(k, _)| k != key);
            env.push((key.clone(), value.clone()));
        }
        env
    }

    fn instance(&self, id: &str) -> Option<Arc<Instance>> {
        self.instances.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Serves one Runtime API call of instance `instance_id` of `function`.
    pub async fn runtime_call(
        &self,
        function: &str,
        instance_id: &str,
        call: RuntimeCall<'_>,
        body: Result<Bytes, ()>,
    ) -> RuntimeReply {
        let Some(instance) = self.instance(instance_id).filter(|i| i.function == function) else {
            return RuntimeReply::Status(
                404,
                json!({"errorType": "InvalidRuntimeInstance", "errorMessage": "No such function instance"}),
            );
        };
        match call {
            RuntimeCall::Next => {
                let _ = instance.ready.set(Instant::now());
                let mut receiver = instance.receiver.lock().await;
                let received = tokio::select! {
                    invocation = receiver.recv() => invocation,
                    _ = instance.wait_ended() => None,
                };
                drop(receiver);
                let Some(invocation) = received else {
                    return RuntimeReply::Status(
                        410,
                        json!({"errorType": "InstanceStopped", "errorMessage": "The instance is stopping"}),
                    );
                };
                invocation.taken.store(true, Ordering::SeqCst);
                *instance.current.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((invocation.request_id.clone(), invocation.reply));
                RuntimeReply::Event {
                    trace_id: trace_id(),
                    request_id: invocation.request_id,
                    deadline_ms: invocation.deadline_ms,
                    function_arn: invocation.function_arn,
                    payload: invocation.payload,
                }
            }
            RuntimeCall::Response(request_id) | RuntimeCall::Error(request_id) => {
                let is_error = matches!(call, RuntimeCall::Error(_));
                let reply = {
                    let mut current = instance.current.lock().unwrap_or_else(|p| p.into_inner());
                    match current.take() {
                        Some((id, reply)) if id == request_id => Some(reply),
                        other => {
                            *current = other;
                            None
                        }
                    }
                };
                let Some(reply) = reply else {
                    return RuntimeReply::Status(
                        400,
                        json!({"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"}),
                    );
                };
                let outcome = match body {
                    Err(()) => {
                        let _ = reply.send(Outcome::Error(Bytes::from(
                            json!({
                                "errorType": "Function.ResponseSizeTooLarge",
                                "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
                            })
                            .to_string(),
                        )));
                        return RuntimeReply::Status(
                            413,
                            json!({"errorType": "RequestEntityTooLarge", "errorMessage": "Response payload too large"}),
                        );
                    }
                    Ok(body) if is_error => Outcome::Error(normalise_error(&body)),
                    Ok(body) => Outcome::Response(body),
                };
                let _ = reply.send(outcome);
                RuntimeReply::Status(202, json!({"status": "OK"}))
            }
            RuntimeCall::InitError => {
                let (error_type, message) = match body {
                    Ok(body) => {
                        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                        (
                            value.get("errorType").and_then(|v| v.as_str()).unwrap_or("Runtime.Unknown").to_string(),
                            value.get("errorMessage").and_then(|v| v.as_str()).unwrap_or("").to_string(),
                        )
                    }
                    Err(()) => ("Runtime.Unknown".into(), "init error report too large".into()),
                };
                instance.state.send_if_modified(|state| {
                    if *state == State::Running {
                        *state = State::InitFailed(error_type.clone(), message.clone());
                        true
                    } else {
                        false
                    }
                });
                RuntimeReply::Status(202, json!({"status": "OK"}))
            }
        }
    }
}

impl Pool {
    fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
        let idle: Vec<_> = self.idle.lock().unwrap_or_else(|p| p.into_inner()).drain(..).collect();
        for instance in idle {
            instance.stop();
        }
    }
}

impl Instance {
    fn stop(&self) {
        self.kill.notify_one();
    }

    /// Waits until the instance is no longer running and says how it ended.
    async fn wait_ended(&self) -> State {
        let mut state = self.state.subscribe();
        loop {
            let current = state.borrow_and_update().clone();
            if current != State::Running {
                return current;
            }
            if state.changed().await.is_err() {
                return State::Exited("unknown".into());
            }
        }
    }

    /// Waits until everything the process wrote so far is in the log.
    async fn flush_output(&self) {
        for flusher in &self.flushers {
            let (tx, rx) = oneshot::channel();
            if flusher.send(tx).is_ok() {
                let _ = rx.await;
            }
        }
    }
}

/// Owns the process: waits for it to exit, or kills it (and its group) when told to.
async fn supervise(
    mut child: tokio::process::Child,
    kill: Arc<Notify>,
    instance: std::sync::Weak<Instance>,
    registry: Arc<Mutex<HashMap<String, Arc<Instance>>>>,
    id: String,
) {
    let pid = child.id();
    let status = tokio::select! {
        status = child.wait() => status,
        _ = kill.notified() => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: plain syscall; a negative pid addresses the process group we created.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
            let _ = child.start_kill();
            child.wait().await
        }
    };
    let how = match status {
        Ok(status) => describe_exit(status),
        Err(e) => format!("wait failed: {e}"),
    };
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // Whatever the bootstrap left running in its group goes with it.
        // SAFETY: as above.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    registry.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    if let Some(instance) = instance.upgrade() {
        instance.state.send_if_modified(|state| {
            if *state == State::Running {
                *state = State::Exited(how);
                true
            } else {
                false
            }
        });
    }
}

/// An exit status as Lambda (in Go) prints it: "exit status 1", "signal: killed".
fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(libc::SIGKILL) => "signal: killed".into(),
        Some(libc::SIGABRT) => "signal: aborted".into(),
        Some(libc::SIGSEGV) => "signal: segmentation fault".into(),
        Some(libc::SIGTERM) => "signal: terminated".into(),
        Some(signal) => format!("signal: {signal}"),
        None => "exit status unknown".into(),
    }
}

/// A function error as the caller sees it: the runtime's JSON object, or, if the runtime
/// sent something else, that text as the message of an unknown error.
fn normalise_error(body: &[u8]) -> Bytes {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) if value.is_object() => Bytes::from(value.to_string()),
        _ => Bytes::from(
            json!({"errorType": "Runtime.Unknown", "errorMessage": String::from_utf8_lossy(body)}).to_string(),
        ),
    }
}

/// Peak resident memory of a live process in MB, from `/proc/<pid>/status`.
fn peak_rss_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.div_ceil(1024))
}

fn trace_id() -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let random = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{now:08x}-{};Parent={};Sampled=0", &random[..24], &parent[..16])
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Reads a process's stdout or stderr into its log line by line. A flush request makes it
/// read everything already in the pipe first (counted with `FIONREAD`), so output written
/// before a process answered is in that invocation's log, deterministically.
async fn read_output<R>(
    mut pipe: R,
    output: Arc<OutputCapture>,
    mut flushes: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
) where
    R: tokio::io::AsyncRead + AsRawFd + Unpin,
{
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let emit = |pending: &mut Vec<u8>, all: bool| {
        while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=pos).collect();
            output.line(String::from_utf8_lossy(&line[..line.len() - 1]).trim_end_matches('\r'));
        }
        if (all && !pending.is_empty()) || pending.len() > super::logs::MAX_LINE_BYTES {
            output.line(&String::from_utf8_lossy(pending));
            pending.clear();
        }
    };
    let mut open = true;
    loop {
        tokio::select! {
            read = pipe.read(&mut buf), if open => match read {
                Ok(0) | Err(_) => {
                    emit(&mut pending, true);
                    open = false;
                }
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    emit(&mut pending, false);
                }
            },
            request = flushes.recv() => {
                let Some(ack) = request else { break };
                if open {
                    let mut remaining = bytes_in_pipe(pipe.as_raw_fd());
                    while remaining > 0 {
                        let want = remaining.min(buf.len());
                        match pipe.read(&mut buf[..want]).await {
                            Ok(0) | Err(_) => {
                                open = false;
                                break;
                            }
                            Ok(n) => {
                                pending.extend_from_slice(&buf[..n]);
                                remaining -= n;
                            }
                        }
                    }
                }
                emit(&mut pending, true);
                let _ = ack.send(());
            }
        }
    }
}

/// Bytes waiting to be read in a pipe.
fn bytes_in_pipe(fd: std::os::fd::RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points to a live local.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    if rc == 0 { usize::try_from(n).unwrap_or(0) } else { 0 }
}
