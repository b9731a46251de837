//! The rider workflow end to end (not a test): a local cloud in a temporary directory, the
//! workshop deployed with the workspace's function binaries, then RiderPhotoProcessing-4 on
//! a happy face, timed from StartExecution to the end of DescribeExecution's RUNNING.
//! Reports p50/p95 over warm sequential runs and photos/s with 2 executions at once.
//!
//!     cargo build --workspace --bins && cargo bench --profile dev --bench workflow
//!     BENCH_RUNS=50 BENCH_PAIRS=10 (the defaults)
//!
//! Between timed runs the face and the rider are removed (untimed), so every run takes the
//! whole happy path (detect, search, index + thumbnail, persist) rather than the duplicate one.
//! Every run uploads its own copy of the photo (new bytes, same picture), so the models run
//! each time instead of the local Rekognition's memory of a photo it has seen.

mod support;

use std::time::Instant;

use support::{Deployed, deployed, env_usize, percentile, unique_jpeg, upload};
use wildrydes::cloud::Clients;
use wildrydes::run;
use wildrydes::workshop::WorkshopNames;

const HAPPY: &[u8] = include_bytes!("../assets/selfies/1_happy_face.jpg");
const SAME_PERSON: &[u8] = include_bytes!("../assets/selfies/5_same_person_1.jpg");

/// Uploads a fresh copy of `photo` as `user`'s selfie and runs the workflow on it.
async fn fresh_run(d: &Deployed, photo: &[u8], user: &str) -> f64 {
    let key = format!("{user}.jpg");
    upload(d, &key, unique_jpeg(photo, user)).await;
    one_run(&d.clients, &d.names, &key, user).await
}

async fn one_run(clients: &Clients, names: &WorkshopNames, key: &str, user: &str) -> f64 {
    let input = run::workflow_input(user, &names.photo_bucket, key);
    let started = Instant::now();
    let arn = run::start(clients, "RiderPhotoProcessing-4", &input).await.expect("start");
    let ending = run::follow(clients, &arn, &mut |_| {}).await.expect("follow");
    let took = started.elapsed().as_secs_f64();
    let output = ending.output.as_ref().map(|o| o.to_string()).unwrap_or_default();
    assert!(
        ending.succeeded() && !output.contains("errorInfo"),
        "{key} as {user} did not take the happy path: {output}"
    );
    took
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
    let d = deployed().await;
    let (clients, names) = (&d.clients, &d.names);

    // Warm-up: function instances started, models loaded.
    for _ in 0..2 {
        fresh_run(&d, HAPPY, "warmup").await;
        forget_riders(clients, names).await;
    }
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        times.push(fresh_run(&d, HAPPY, &format!("rider_{i}")).await);
        forget_riders(clients, names).await;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "happy face, warm, sequential: n={runs} p50 {:.0} ms  p95 {:.0} ms  min {:.0} ms  max {:.0} ms",
        percentile(&times, 0.5) * 1e3,
        percentile(&times, 0.95) * 1e3,
        times[0] * 1e3,
        times[times.len() - 1] * 1e3
    );

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
    d.cloud.shutdown().await;
}
