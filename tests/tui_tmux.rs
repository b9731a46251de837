//! The dashboard end to end, as a person uses it: the real `wildrydes` binary in a
//! terminal (tmux) on a fresh data directory (it starts its local cloud and deploys the
//! workshop's stack), driven by keys; every assertion reads the captured pane. Skips, saying
//! so, where tmux is not installed (`.ci/test` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The tmux session of one test run; dropping it kills it and whatever of this run's
/// processes (the dashboard, its function processes) is still there.
struct TmuxSession {
    name: String,
    data_dir: PathBuf,
}

fn tmux(args: &[&str]) -> Output {
    Command::new("tmux").args(args).output().expect("tmux runs")
}

impl TmuxSession {
    /// The dashboard on `data_dir` and `port` (0: any free one) in a tmux session named
    /// after `test`, so that the tests of one run do not share a tmux session.
    fn start(test: &str, binary: &Path, data_dir: &Path, port: u16) -> Self {
        let name = format!("wildrydes-e2e-{}-{test}", std::process::id());
        // The shell stays after the dashboard so its exit status can be read off the pane.
        let command = format!(
            "'{}' --data-dir '{}' --port {port}; echo \"EXITED $?\"; sleep 600",
            binary.display(),
            data_dir.display()
        );
        let out = tmux(&["new-session", "-d", "-s", &name, "-x", "160", "-y", "48", &command]);
        assert!(out.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&out.stderr));
        Self { name, data_dir: data_dir.to_path_buf() }
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let out = tmux(&["send-keys", "-t", &self.name, key]);
            assert!(out.status.success(), "send-keys {key}: {}", String::from_utf8_lossy(&out.stderr));
            // One key per read of the dashboard, as a person types.
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &self.name]).stdout).to_string()
    }

    /// Polls the pane until every text is on it (a bound against hanging, not a timing
    /// assertion); returns that screen.
    fn wait_for(&self, texts: &[&str], within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            if Instant::now() > deadline {
                let missing: Vec<_> = texts.iter().filter(|t| !screen.contains(**t)).collect();
                panic!("{missing:?} did not appear within {within:?}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// The processes whose executable lies in `dir`: the function processes the dashboard's
/// local cloud started from the code it unpacked into its data directory.
fn processes_in(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe.to_string_lossy().contains(&needle))
        })
        .collect()
}

impl Drop for TmuxSession {
    fn drop(&mut self) {
        let _ = tmux(&["kill-session", "-t", &self.name]);
        for pid in processes_in(&self.data_dir) {
            // SAFETY: kill(2) with a pid this run started; no memory is involved.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

/// The binary under test, and whether the end-to-end tests can run here.
fn dashboard_binary() -> Option<PathBuf> {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed (`.ci/test` installs it with apt-get)");
        return None;
    }
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_wildrydes"));
    let functions = binary.parent().map(|d| d.join("face-detection"));
    assert!(
        functions.as_ref().is_some_and(|f| f.is_file()),
        "the function binaries are missing next to {}: build them first with `cargo build --workspace --bins`",
        binary.display()
    );
    Some(binary)
}

/// A port nobody listens on now, for a local cloud two dashboards share.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).expect("a free port").port()
}

/// Whether anything answers on the port.
fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Waits (bounded, not a timing assertion) until `done` holds.
fn eventually(what: &str, within: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within {within:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A dashboard on a fresh data directory (kept while its tmux session lives), once its Lab is up.
fn fresh_dashboard(test: &str) -> Option<(tempfile::TempDir, TmuxSession, String)> {
    let binary = dashboard_binary()?;
    let dir = tempfile::tempdir().expect("temporary data directory");
    let terminal = TmuxSession::start(test, &binary, dir.path(), 0);
    let lab = wait_for_the_lab(&terminal);
    Some((dir, terminal, lab))
}

impl TmuxSession {
    /// `q`, and the dashboard ends with status 0.
    fn quit(&self) {
        self.keys(&["q"]);
        self.wait_for(&["EXITED 0"], Duration::from_secs(60));
    }
}

/// The Lab as a fresh start leaves it: the stack deployed (section 2), the rest to the attendee.
fn wait_for_the_lab(terminal: &TmuxSession) -> String {
    terminal.wait_for(&["Lab: the rider-photo workshop", "Create RiderPhotoProcessing-1"], Duration::from_secs(600));
    terminal.wait_for(&["✔ done", "○ to do"], Duration::from_secs(60))
}

#[test]
fn the_lab_runs_the_workshop_from_an_empty_collection_through_machine_1s_two_photos() {
    let Some((_dir, terminal, lab)) = fresh_dashboard("lab") else { return };

    // The stack is there, the collection and the machines are the attendee's to make.
    let row = |screen: &str, text: &str| screen.lines().find(|l| l.contains(text)).unwrap_or_default().to_string();
    assert!(row(&lab, "Deploy buckets, table, functions").contains("✔ done"), "{lab}");
    assert!(row(&lab, "Create the collection rider-photos").contains("○ to do"), "{lab}");
    assert!(row(&lab, "Create RiderPhotoProcessing-1").contains("○ to do"), "{lab}");
    assert!(row(&lab, "Run 1_happy_face.jpg as user_a").contains("RiderPhotoProcessing-1 is not created yet"), "{lab}");
    // Numbered as the workshop's sections; the word for the workshop is the workshop.
    assert!(row(&lab, "Create the collection").contains(" 1.  Create the collection"), "{lab}");
    assert!(row(&lab, "Create RiderPhotoProcessing-1").contains(" 3.  Create"), "{lab}");
    assert!(row(&lab, "Create RiderPhotoProcessing-4").contains(" 6.  Create"), "{lab}");
    assert!(!lab.to_lowercase().contains("seed"), "{lab}");

    // Section 1: the collection, from empty.
    terminal.keys(&["Enter"]);
    terminal.wait_for(&["Collection rider-photos: created"], Duration::from_secs(60));
    let lab = terminal.wait_for(&["rider-photos: 0 faces"], Duration::from_secs(30));
    assert!(row(&lab, "Create the collection rider-photos").contains("✔ done"), "{lab}");

    // Section 3: machine 1, then the two photos the workshop runs on it.
    terminal.keys(&["j", "j", "Enter"]);
    terminal.wait_for(&["RiderPhotoProcessing-1 is ready"], Duration::from_secs(60));
    terminal.keys(&["j"]);
    terminal.wait_for(&["Enter runs RiderPhotoProcessing-1 on 1_happy_face.jpg as user_a"], Duration::from_secs(10));
    terminal.keys(&["Enter"]);
    terminal.wait_for(&["1_happy_face.jpg as user_a: SUCCEEDED", "passed the checks"], Duration::from_secs(300));
    terminal.keys(&["j", "Enter"]);
    terminal.wait_for(
        &["2_sunglass_face.jpg as user_b: SUCCEEDED", "refused: the face wears sunglasses"],
        Duration::from_secs(300),
    );
    let lab = terminal.wait_for(&["SUCCEEDED — refused: the face wears sunglasses"], Duration::from_secs(30));
    for step in ["Run 1_happy_face.jpg as user_a", "Run 2_sunglass_face.jpg as user_b", "Create RiderPhotoProcessing-1"]
    {
        assert!(row(&lab, step).contains("✔ done"), "{step}: {lab}");
    }

    // The cursor stays on its step across another view and a refresh: Enter would run it again.
    terminal.keys(&["2"]);
    terminal.wait_for(&["Executions (2"], Duration::from_secs(30));
    terminal.keys(&["1", "F5"]);
    let lab = terminal
        .wait_for(&["Enter runs RiderPhotoProcessing-1 on 2_sunglass_face.jpg as user_b"], Duration::from_secs(10));
    assert!(row(&lab, "Run 2_sunglass_face.jpg as user_b").contains('›'), "{lab}");

    terminal.quit();
}

#[test]
fn replay_steps_through_a_caught_refusal_on_the_graph() {
    let Some((_dir, terminal, _)) = fresh_dashboard("replay") else { return };

    // Machine 1 and the sunglasses photo: caught by FaceDetection's Catch.
    terminal.keys(&["j", "j", "Enter"]);
    terminal.wait_for(&["RiderPhotoProcessing-1 is ready"], Duration::from_secs(60));
    terminal.keys(&["j", "j", "Enter"]);
    terminal.wait_for(&["2_sunglass_face.jpg as user_b: SUCCEEDED"], Duration::from_secs(300));

    // The execution opens on its failing event; → starts the replay there.
    terminal.keys(&["e"]);
    terminal.wait_for(&["LambdaFunctionFailed", "PhotoDoesNotMeetRequirementError"], Duration::from_secs(30));
    terminal.keys(&["Right"]);
    let failed = terminal.wait_for(&["Replay ", "state FaceDetection — failed"], Duration::from_secs(10));
    assert!(failed.contains("PhotoDoesNotMeetRequirementError"), "the event's error beside the graph: {failed}");
    // One event on, FaceDetection leaves through its Catch; one more, the refusal path starts.
    terminal.keys(&["Right"]);
    terminal.wait_for(&["TaskStateExited", "state FaceDetection — caught"], Duration::from_secs(10));
    terminal.keys(&["Right"]);
    let caught = terminal.wait_for(
        &["TaskStateEntered", "FaceDetection caught", "PhotoDoesNotMeetRequirement entered"],
        Duration::from_secs(10),
    );
    assert!(caught.contains("\"userId\": \"user_b\""), "the state's input beside the graph: {caught}");
    // Back to the start: only the execution started, nothing reached yet.
    for _ in 0..12 {
        terminal.keys(&["Left"]);
    }
    let start = terminal.wait_for(&["event 1 of", "ExecutionStarted"], Duration::from_secs(10));
    assert!(!start.contains("FaceDetection caught"), "{start}");
    // Esc leaves the replay for the history, Esc again the execution.
    terminal.keys(&["Escape"]);
    let history = terminal.wait_for(&["Elapsed", "ExecutionStarted"], Duration::from_secs(10));
    assert!(!history.contains("Replay "), "{history}");
    terminal.quit();
}

/// The processes of this binary whose command line names `dir`, and `serve` or not: the
/// local cloud started for the dashboards, or the dashboards themselves.
fn wildrydes_on(dir: &Path, serve: bool) -> Vec<u32> {
    let needle = dir.to_string_lossy().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
            let args: Vec<String> =
                cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).to_string()).collect();
            args.first().is_some_and(|a| a.ends_with("/wildrydes"))
                && args.contains(&needle)
                && args.iter().any(|a| a == "serve") == serve
        })
        .collect()
}

fn kill_9(pid: u32) {
    // SAFETY: kill(2) with a pid this test started; no memory is involved.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
}

#[test]
fn a_second_dashboard_keeps_its_local_cloud_when_the_first_quits() {
    let Some(binary) = dashboard_binary() else { return };
    let dir = tempfile::tempdir().expect("temporary data directory");
    let port = free_port();
    let first = TmuxSession::start("first", &binary, dir.path(), port);
    wait_for_the_lab(&first);
    let second = TmuxSession::start("second", &binary, dir.path(), port);
    wait_for_the_lab(&second);
    assert_eq!(wildrydes_on(dir.path(), true).len(), 1, "one local cloud, of its own, for both");

    // The first, which started the cloud, quits; the second still works on it.
    first.quit();
    second.keys(&["Enter"]);
    second.wait_for(&["Collection rider-photos: created"], Duration::from_secs(60));
    second.keys(&["F5"]);
    let screen = second.wait_for(&["rider-photos: 0 faces", "connected"], Duration::from_secs(30));
    assert!(!screen.contains("unreachable"), "{screen}");

    // The last one, killed with -9, gives nothing back: its lease runs out, and then the
    // cloud stops by itself.
    let dashboards = wildrydes_on(dir.path(), false);
    assert_eq!(dashboards.len(), 1, "{dashboards:?}");
    assert!(listening(port));
    kill_9(dashboards[0]);
    second.wait_for(&["EXITED 137"], Duration::from_secs(30));
    eventually("the local cloud stopping", Duration::from_secs(120), || !listening(port));
    eventually("its function processes ending", Duration::from_secs(60), || processes_in(dir.path()).is_empty());

    // A dashboard whose cloud is gone after all says what to run.
    let third = TmuxSession::start("third", &binary, dir.path(), port);
    wait_for_the_lab(&third);
    let clouds = wildrydes_on(dir.path(), true);
    assert_eq!(clouds.len(), 1, "a new cloud: {clouds:?}");
    kill_9(clouds[0]);
    third.keys(&["F5"]);
    third.wait_for(&["the local cloud has stopped: run `wildrydes serve --data-dir"], Duration::from_secs(30));
    third.quit();
}

#[test]
fn the_demo_key_runs_every_step_and_the_faces_it_made_can_be_deleted() {
    let Some((dir, terminal, _)) = fresh_dashboard("demo") else { return };

    // `a` runs every step still to do, in the workshop's order, each as expected.
    terminal.keys(&["a"]);
    terminal.wait_for(&["“Every step at once” finished"], Duration::from_secs(1200));
    let lab = terminal.wait_for(&["Same person again as user_f"], Duration::from_secs(10));
    assert!(!lab.contains("≠ other") && !lab.contains("✖ failed") && !lab.contains("⟳ running"), "{lab}");
    terminal.keys(&["F5"]);
    let row = |screen: &str, text: &str| screen.lines().find(|l| l.contains(text)).unwrap_or_default().to_string();
    let lab = terminal.wait_for(&["refused: the face is already registered"], Duration::from_secs(30));
    for step in ["Create RiderPhotoProcessing-4", "Run 3_multiple_faces.jpg as user_c", "Same person again as user_f"] {
        assert!(row(&lab, step).contains("✔ done"), "{step}: {lab}");
    }

    // Its executions in Executions, its faces in Faces: user_a (section 5) and user_e.
    terminal.keys(&["2"]);
    terminal.wait_for(&["RiderPhotoProcessing-4", "RiderPhotoProcessing-1"], Duration::from_secs(30));
    terminal.keys(&["4"]);
    terminal.wait_for(&["Faces in the collection (2)", "user_a", "user_e"], Duration::from_secs(30));

    // Delete a face, after a confirmation that names the user.
    terminal.keys(&["g", "C-d"]);
    let asked = terminal.wait_for(&["Delete the face of user"], Duration::from_secs(10));
    assert!(asked.contains("user_a") || asked.contains("user_e"), "{asked}");
    terminal.keys(&["y"]);
    terminal.wait_for(&["Faces in the collection (1)"], Duration::from_secs(30));

    // q quits cleanly; the local cloud it started, with nobody else on it, stops by itself
    // and its function processes (running until now) go with it.
    assert!(!processes_in(dir.path()).is_empty(), "the functions ran as processes from the data directory");
    terminal.quit();
    eventually("the function processes ending", Duration::from_secs(120), || processes_in(dir.path()).is_empty());
}
