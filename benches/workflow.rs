//! The rider workflow end to end (not a test): a local cloud in a temporary directory, the
//! workshop deployed with the workspace's function binaries, then RiderPhotoProcessing-4 on
//! a happy face, timed from StartExecution to the end of DescribeExecution's RUNNING.
//! Reports p50/p95 over warm sequential runs (as the client sees them, and the executions' own
//! startDate to stopDate) and photos/s with 2 executions at once and with
//! 10 and 50, CPU-ms per photo (this process, which hosts the local cloud and its models,
//! plus the function processes), and where one photo's analysis spends its time, stage by
//! stage (decode, each model, the warps, the pipeline's own logic).
//!
//!     cargo build --workspace --bins && cargo bench --profile dev --bench workflow
//!     cargo build --release --workspace --bins && cargo bench --bench workflow   (the speed goal is release)
//!     BENCH_RUNS=50 BENCH_PAIRS=10 BENCH_CONCURRENT=10,50 BENCH_BATCHES=3 (the defaults)
//!
//! BENCH_BASE_BIN=path names this bench's binary built from another commit (in its own
//! target directory, with its functions beside it): it is run before and after this one, on
//! the same machine, and the figures are printed side by side as ratios.
//!
//! Between timed runs the face and the rider are removed (untimed), so every run takes the
//! whole happy path (detect, search, index + thumbnail, persist) rather than the duplicate one.
//! Every run uploads its own copy of the photo (new bytes, same picture), so the models run
//! each time instead of the local Rekognition's memory of a photo it has seen.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::HistoryEvent;
use support::{Deployed, cpu_seconds_with_children, deployed, env_usize, percentile, unique_jpeg, upload};
use wildrydes::cloud::Clients;
use wildrydes::local::rekognition::faces::FaceAnalyzer;
use wildrydes::local::rekognition::faces::timings::{Stage, StageTimes, measure};
use wildrydes::run;
use wildrydes::workshop::WorkshopNames;

const HAPPY: &[u8] = include_bytes!("../assets/selfies/1_happy_face.jpg");
const SAME_PERSON: &[u8] = include_bytes!("../assets/selfies/5_same_person_1.jpg");

/// Uploads a fresh copy of `photo` as `user`'s selfie and runs the workflow on it, which must
/// register the rider.
async fn fresh_run(d: &Deployed, photo: &[u8], user: &str) -> Run {
    let key = format!("{user}.jpg");
    upload(d, &key, unique_jpeg(photo, user)).await;
    let run = any_run(&d.clients, &d.names, &key, user).await;
    assert!(run.registered, "{key} as {user} did not take the happy path: {}", run.output);
    run
}

/// One execution to its end, whatever the outcome.
struct Run {
    /// Seconds on the client's clock, StartExecution to the poll that saw the end. The
    /// client polls (`run::follow`: an eighth of the time so far, 10 to 200 ms apart), so
    /// this is the first poll after the end.
    took: f64,
    registered: bool,
    output: String,
    /// Seconds from the execution's startDate to its stopDate: its own duration.
    own: f64,
    /// Each state's entered-to-exited seconds, in the order they were entered.
    states: Vec<(String, f64)>,
}

async fn any_run(clients: &Clients, names: &WorkshopNames, key: &str, user: &str) -> Run {
    let input = run::workflow_input(user, &names.photo_bucket, key);
    let started = Instant::now();
    let arn = run::start(clients, "RiderPhotoProcessing-4", &input).await.expect("start");
    // (state, entered at, seconds until it exited), in the order the states were entered.
    let mut entered: Vec<(String, f64, f64)> = Vec::new();
    let seconds = |e: &HistoryEvent| e.timestamp().as_secs_f64();
    let ending = run::follow(clients, &arn, &mut |e| {
        if let Some(d) = e.state_entered_event_details() {
            entered.push((d.name().to_string(), seconds(e), 0.0));
        } else if let Some(d) = e.state_exited_event_details()
            && let Some(state) = entered.iter_mut().rev().find(|(n, _, _)| n == d.name())
        {
            state.2 = seconds(e) - state.1;
        }
    })
    .await
    .expect("follow");
    let states = entered.into_iter().map(|(name, _, took)| (name, took)).collect();
    let took = started.elapsed().as_secs_f64();
    let output = ending.output.as_ref().map(|o| o.to_string()).unwrap_or_default();
    let registered = ending.succeeded() && !output.contains("errorInfo");
    Run { took, registered, output, own: ending.duration_seconds, states }
}

/// The median of each state's time over `runs`, in the order the states were entered: where
/// an execution's time goes, the analysis (FaceDetection) and the rest of the orchestration.
fn state_breakdown(runs: &[Vec<(String, f64)>]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in runs.iter().flatten() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let medians: Vec<String> = names
        .iter()
        .map(|name| {
            let mut v: Vec<f64> = runs.iter().flatten().filter(|(n, _)| n == name).map(|(_, s)| *s).collect();
            v.sort_by(f64::total_cmp);
            format!("{name} {:.0} ms", percentile(&v, 0.5) * 1e3)
        })
        .collect();
    medians.join(", ")
}

/// `n` new photos started at once, `batches` times: photos/s over the batches' wall time and
/// CPU-ms per photo. Every other photo is the second person; copies of one person after the
/// first are refused as already registered (still a whole detection each), so the outcome
/// counts are printed too.
async fn concurrent(d: &Deployed, n: usize, batches: usize) -> f64 {
    let (mut wall, mut registered, mut photos) = (0.0, 0, 0);
    let cpu = cpu_seconds_with_children();
    for b in 0..batches {
        let t = Instant::now();
        let runs = (0..n).map(|i| async move {
            let user = format!("many_{n}_{b}_{i}");
            let key = format!("{user}.jpg");
            upload(d, &key, unique_jpeg(if i % 2 == 0 { HAPPY } else { SAME_PERSON }, &user)).await;
            any_run(&d.clients, &d.names, &key, &user).await
        });
        let ends = futures::future::join_all(runs).await;
        wall += t.elapsed().as_secs_f64();
        registered += ends.iter().filter(|e| e.registered).count();
        photos += ends.len();
        forget_riders(&d.clients, &d.names).await;
    }
    let cpu_ms = (cpu_seconds_with_children() - cpu) * 1e3 / photos as f64;
    println!(
        "{n} concurrent executions: {photos} photos in {wall:.1} s = {:.2} photos/s, {cpu_ms:.0} CPU-ms per photo ({registered} registered, {} refused as already registered)",
        photos as f64 / wall,
        photos - registered
    );
    photos as f64 / wall
}

/// Where one new photo's analysis (decode, detect, the largest face's identity vector)
/// spends its time, in this process: the median of `runs` over each stage.
fn stage_breakdown(runs: usize) {
    let analyzer = FaceAnalyzer::load_default().expect("the face models");
    let mut all: Vec<StageTimes> = (0..runs)
        .map(|i| {
            let bytes = unique_jpeg(HAPPY, &format!("stages_{i}"));
            let (_, times) = measure(|| {
                let image = analyzer.decode(&bytes).expect("decodes");
                let faces = analyzer.detect(&image).expect("detects");
                analyzer.embed(&image, &faces[0]).expect("embeds");
            });
            times
        })
        .collect();
    let median = |f: &dyn Fn(&StageTimes) -> Duration| {
        let mut v: Vec<Duration> = all.iter().map(f).collect();
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    let mut line = format!("one photo's analysis, median of {runs}: total {:.1} ms =", median(&|t| t.total));
    for stage in Stage::ALL {
        line += &format!(" {} {:.1} ms ({}×),", stage.name(), median(&|t| t.spent(stage)), all[0].calls(stage));
    }
    line += &format!(" the pipeline's own logic {:.1} ms", median(&|t| t.rest()));
    println!("{line}");
    all.clear();
}

/// The figures another build of this bench printed: (label, value) of p50, p95 and each
/// photos/s line.
fn base_figures(bin: &str) -> Vec<(String, f64)> {
    // Without BENCH_BASE_BIN: the base would otherwise run its own base, itself, without end.
    let out = std::process::Command::new(bin)
        .arg("--bench")
        .env_remove("BENCH_BASE_BIN")
        .output()
        .expect("the base bench runs");
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{}", text.lines().map(|l| format!("  base: {l}\n")).collect::<String>());
    let number_before = |l: &str, unit: &str| -> Option<f64> {
        let at = l.find(unit)?;
        l[..at].trim_end().rsplit(' ').next()?.parse().ok()
    };
    let mut figures = Vec::new();
    for l in text.lines() {
        if l.starts_with("happy face, warm, sequential") {
            let p50 = l.split("p50 ").nth(1).and_then(|r| number_before(r, "ms"));
            let p95 = l.split("p95 ").nth(1).and_then(|r| number_before(r, "ms"));
            figures.extend(p50.map(|v| ("sequential p50 ms".to_string(), v)));
            figures.extend(p95.map(|v| ("sequential p95 ms".to_string(), v)));
        } else if l.starts_with("  the same runs, the execution's own") {
            let p50 = l.split("p50 ").nth(1).and_then(|r| number_before(r, "ms"));
            figures.extend(p50.map(|v| ("sequential execution p50 ms".to_string(), v)));
        } else if let Some((head, _)) = l.split_once(" concurrent executions")
            && let Some(v) = number_before(l, "photos/s")
        {
            figures.push((format!("{head} concurrent photos/s"), v));
        }
    }
    figures
}

/// Removes every indexed face and stored rider, so the next run is a first sign-up again.
async fn forget_riders(clients: &Clients, names: &WorkshopNames) {
    let faces = clients.rekognition.list_faces().collection_id(&names.collection).send().await.expect("list faces");
    let ids: Vec<String> = faces.faces().iter().filter_map(|f| f.face_id().map(str::to_string)).collect();
    if !ids.is_empty() {
        clients
            .rekognition
            .delete_faces()
            .collection_id(&names.collection)
            .set_face_ids(Some(ids))
            .send()
            .await
            .unwrap();
    }
    let riders = clients.dynamodb.scan().table_name(&names.riders_table).send().await.unwrap();
    for item in riders.items() {
        if let Some(user) = item.get("Username") {
            clients
                .dynamodb
                .delete_item()
                .table_name(&names.riders_table)
                .key("Username", user.clone())
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::main]
async fn main() {
    let runs = env_usize("BENCH_RUNS", 50);
    let pairs = env_usize("BENCH_PAIRS", 10);
    let base_bin = std::env::var("BENCH_BASE_BIN").ok();
    let base_before = base_bin.as_deref().map(base_figures);
    match wildrydes::local::rekognition::engine::engine() {
        Ok(engine) => println!("face models on {}", engine.describe()),
        Err(e) => println!("face models: {e}"),
    }
    let d = deployed().await;
    let (clients, names) = (&d.clients, &d.names);

    // Warm-up: function instances started, models loaded.
    for _ in 0..2 {
        fresh_run(&d, HAPPY, "warmup").await;
        forget_riders(clients, names).await;
    }
    let (mut times, mut service, mut states) = (Vec::new(), Vec::new(), Vec::new());
    let cpu = cpu_seconds_with_children();
    for i in 0..runs {
        let run = fresh_run(&d, HAPPY, &format!("rider_{i}")).await;
        times.push(run.took);
        service.push(run.own);
        states.push(run.states);
        forget_riders(clients, names).await;
    }
    let cpu_ms = (cpu_seconds_with_children() - cpu) * 1e3 / runs as f64;
    times.sort_by(f64::total_cmp);
    service.sort_by(f64::total_cmp);
    let mut figures = vec![
        ("sequential p50 ms".to_string(), percentile(&times, 0.5) * 1e3),
        ("sequential p95 ms".to_string(), percentile(&times, 0.95) * 1e3),
    ];
    println!(
        "happy face, warm, sequential: n={runs} p50 {:.0} ms  p95 {:.0} ms  min {:.0} ms  max {:.0} ms  {cpu_ms:.0} CPU-ms per photo",
        percentile(&times, 0.5) * 1e3,
        percentile(&times, 0.95) * 1e3,
        times[0] * 1e3,
        times[times.len() - 1] * 1e3
    );
    figures.push(("sequential CPU-ms per photo".to_string(), cpu_ms));
    println!(
        "  the same runs, the execution's own startDate to stopDate: p50 {:.0} ms  p95 {:.0} ms",
        percentile(&service, 0.5) * 1e3,
        percentile(&service, 0.95) * 1e3
    );
    figures.push(("sequential execution p50 ms".to_string(), percentile(&service, 0.5) * 1e3));
    println!("  state by state, median: {}", state_breakdown(&states));

    // Two different people at once, as two riders signing up at the same moment.
    let mut busy = 0.0;
    for i in 0..pairs {
        let (user_a, user_b) = (format!("pair_a_{i}"), format!("pair_b_{i}"));
        let t = Instant::now();
        tokio::join!(fresh_run(&d, HAPPY, &user_a), fresh_run(&d, SAME_PERSON, &user_b),);
        busy += t.elapsed().as_secs_f64();
        forget_riders(clients, names).await;
    }
    println!(
        "2 concurrent executions: {} photos in {busy:.1} s = {:.2} photos/s",
        2 * pairs,
        (2 * pairs) as f64 / busy
    );
    figures.push(("2 concurrent photos/s".to_string(), (2 * pairs) as f64 / busy));
    let batches = env_usize("BENCH_BATCHES", 3);
    let widths = std::env::var("BENCH_CONCURRENT").unwrap_or_else(|_| "10,50".into());
    for n in widths.split(',').filter_map(|n| n.trim().parse::<usize>().ok()) {
        let rate = concurrent(&d, n, if n >= 50 { 1 } else { batches }).await;
        figures.push((format!("{n} concurrent photos/s"), rate));
    }
    d.cloud.shutdown().await;
    stage_breakdown(env_usize("BENCH_STAGE_RUNS", 10));
    if let (Some(bin), Some(before)) = (base_bin.as_deref(), base_before) {
        let after = base_figures(bin);
        for (label, new) in &figures {
            let base: Vec<f64> = before.iter().chain(&after).filter(|(l, _)| l == label).map(|(_, v)| *v).collect();
            if base.is_empty() {
                continue;
            }
            let mean = base.iter().sum::<f64>() / base.len() as f64;
            println!("against the base ({label}): base {base:.2?}, this {new:.2} = {:.2}× the base", new / mean);
        }
    }
}
