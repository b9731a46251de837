//! The dashboard end to end, as a person uses it: the real `wildrydes` binary in a
//! terminal (tmux) on a fresh data directory (it starts its local cloud on a free port and deploys
//! the workshop), driven by keys; every assertion reads the captured pane. Skips, saying
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
    fn start(binary: &Path, data_dir: &Path) -> Self {
        let name = format!("wildrydes-e2e-{}", std::process::id());
        // The shell stays after the dashboard so its exit status can be read off the pane.
        let command = format!(
            "'{}' --data-dir '{}' --port 0; echo \"EXITED $?\"; sleep 600",
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

#[test]
fn the_dashboard_runs_the_lab_shows_the_execution_and_face_and_deletes_it() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed (`.ci/test` installs it with apt-get)");
        return;
    }
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_wildrydes"));
    let functions = binary.parent().map(|d| d.join("face-detection"));
    assert!(
        functions.as_ref().is_some_and(|f| f.is_file()),
        "the function binaries are missing next to {}: build them first with `cargo build --workspace --bins`",
        binary.display()
    );
    let dir = tempfile::tempdir().expect("temporary data directory");
    let terminal = TmuxSession::start(&binary, dir.path());

    // It deploys on a fresh local cloud, then opens on the Lab with the resources done.
    let lab = terminal
        .wait_for(&["Lab: the rider-photo workshop", "Create RiderPhotoProcessing-4"], Duration::from_secs(600));
    assert!(lab.contains("connected") || lab.contains("connecting"), "the status bar: {lab}");
    terminal.wait_for(&["✔ done"], Duration::from_secs(60));

    // Step 7: the happy face, run from the Lab.
    terminal.keys(&["j", "j", "j", "j", "j", "j"]);
    terminal
        .wait_for(&["Run 1_happy_face.jpg as user_a ", "Enter runs RiderPhotoProcessing-4"], Duration::from_secs(10));
    terminal.keys(&["Enter"]);
    terminal.wait_for(&["1_happy_face.jpg as user_a: SUCCEEDED", "user_a registered"], Duration::from_secs(300));

    // Its execution in Executions, its face in Faces.
    terminal.keys(&["2"]);
    terminal.wait_for(&["Executions (1", "RiderPhotoProcessing-4", "SUCCEEDED"], Duration::from_secs(30));
    terminal.keys(&["4"]);
    terminal.wait_for(&["Faces in the collection (1)", "user_a"], Duration::from_secs(30));

    // Step 8: sunglasses; the Lab names the failing state and the reason.
    // Back on the Lab the cursor is where it was (the happy face): one down.
    terminal.keys(&["1", "j"]);
    terminal.wait_for(&["Run 2_sunglass_face.jpg as user_b "], Duration::from_secs(10));
    terminal.keys(&["Enter"]);
    let refused = terminal
        .wait_for(&["2_sunglass_face.jpg as user_b: SUCCEEDED", "refused at FaceDetection"], Duration::from_secs(300));
    assert!(refused.contains("sunglasses"), "the reason is shown: {refused}");
    // `e` opens the execution it started, on the failing event.
    terminal.keys(&["e"]);
    terminal
        .wait_for(&["LambdaFunctionFailed", "PhotoDoesNotMeetRequirementError", "sunglasses"], Duration::from_secs(30));

    // Delete the face (Ctrl-D; `d` describes it), after a confirmation that names the user.
    terminal.keys(&["Escape", "4"]);
    terminal.wait_for(&["Faces in the collection (1)", "user_a"], Duration::from_secs(30));
    terminal.keys(&["C-d"]);
    terminal.wait_for(&["Delete the face of user user_a"], Duration::from_secs(10));
    terminal.keys(&["y"]);
    terminal.wait_for(&["Faces in the collection (0)"], Duration::from_secs(30));

    // q quits cleanly, and the local cloud's function processes (running until now) go with it.
    assert!(!processes_in(dir.path()).is_empty(), "the functions ran as processes from the data directory");
    terminal.keys(&["q"]);
    terminal.wait_for(&["EXITED 0"], Duration::from_secs(60));
    assert_eq!(processes_in(dir.path()), Vec::<u32>::new(), "no function process is left behind");
}
