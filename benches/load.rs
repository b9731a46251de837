//! Load (not a test): N executions of the rider workflow submitted at once through the Step
//! Functions API of a fresh local cloud, each on its own photo. Checks that every execution
//! reaches a terminal state and none is lost; reports throughput, p50/p99 latency (start to
//! stop, as DescribeExecution dates them), the outcomes, and the peak resident memory of the
//! cloud with its function processes.
//!
//!     cargo build --workspace --bins && cargo bench --profile dev --bench load
//!     BENCH_EXECUTIONS=1000 (the default)
//!
//! The photos cycle through the workshop's cases (a new face, sunglasses, a group, no face,
//! one person twice), each upload a new file of the same picture, so the models run for every
//! execution and every path of the workflow is under load: first sign-ups, refusals, and
//! duplicates of a face indexed moments before.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{deployed, env_usize, percentile, resident_kib_with_children, unique_jpeg, upload};
use wildrydes::run;

const PHOTOS: [&[u8]; 5] = [
    include_bytes!("../assets/selfies/1_happy_face.jpg"),
    include_bytes!("../assets/selfies/2_sunglass_face.jpg"),
    include_bytes!("../assets/selfies/3_multiple_faces.jpg"),
    include_bytes!("../assets/selfies/4_no_face.jpg"),
    include_bytes!("../assets/selfies/5_same_person_1.jpg"),
];

#[tokio::main]
async fn main() {
    let n = env_usize("BENCH_EXECUTIONS", 1000);
    let d = Arc::new(deployed().await);
    let machine = wildrydes::deploy::find_state_machine(&d.clients, "RiderPhotoProcessing-4")
        .await
        .expect("list state machines")
        .expect("RiderPhotoProcessing-4 is deployed");

    let t = Instant::now();
    for i in 0..n {
        upload(&d, &format!("load/{i}.jpg"), unique_jpeg(PHOTOS[i % PHOTOS.len()], &format!("load {i}"))).await;
    }
    println!("uploaded {n} photos in {:.1} s (untimed below)", t.elapsed().as_secs_f64());

    // Peak memory of the cloud and its functions, sampled while the load runs.
    let peak = Arc::new(AtomicU64::new(resident_kib_with_children()));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(resident_kib_with_children(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };

    // All at once: every StartExecution in flight together.
    let submitted = Instant::now();
    let starts: Vec<_> = (0..n)
        .map(|i| {
            let d = d.clone();
            let machine = machine.clone();
            tokio::spawn(async move {
                let input =
                    run::workflow_input(&format!("load_user_{i}"), &d.names.photo_bucket, &format!("load/{i}.jpg"));
                d.clients.sfn.start_execution().state_machine_arn(machine).input(input).send().await
            })
        })
        .collect();
    let mut arns = Vec::with_capacity(n);
    for start in starts {
        match start.await.expect("the start task ran") {
            Ok(out) => arns.push(out.execution_arn),
            Err(e) => panic!("StartExecution was refused under load: {}", wildrydes::cloud::error_message(&e)),
        }
    }
    println!("{n} StartExecution calls accepted in {:.1} s", submitted.elapsed().as_secs_f64());

    // Wait for every execution to end (bounded: a lost execution fails the bench, not hangs it).
    let deadline = Instant::now() + Duration::from_secs(3 * 3600);
    let mut endings = Vec::with_capacity(n);
    for arn in &arns {
        loop {
            let e = d.clients.sfn.describe_execution().execution_arn(arn).send().await.expect("describe");
            if e.status().as_str() != "RUNNING" {
                let latency = e.stop_date().map(|s| s.as_secs_f64() - e.start_date().as_secs_f64()).unwrap_or(f64::NAN);
                endings.push((e.status().as_str().to_string(), latency, e.output().unwrap_or_default().to_string()));
                break;
            }
            assert!(Instant::now() < deadline, "{arn} is still RUNNING after 3 hours");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let wall = submitted.elapsed().as_secs_f64();
    sampler.abort();

    let listed = {
        let mut count = 0;
        let mut pages = d.clients.sfn.list_executions().state_machine_arn(&machine).into_paginator().send();
        while let Some(page) = pages.next().await {
            count += page.expect("list executions").executions().len();
        }
        count
    };
    assert_eq!(listed, n, "every submitted execution is listed, none lost, none doubled");

    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for (status, _, output) in &endings {
        // A sign-up's output carries the Parallel's result; a refusal's is the notification's
        // message, which says when the face was already registered.
        let path = if output.contains("parallelResult") {
            "signed up"
        } else if output.contains("already exists") {
            "refused: already registered"
        } else {
            "refused: photo"
        };
        *outcomes.entry(format!("{status} ({path})")).or_default() += 1;
    }
    let mut latencies: Vec<f64> = endings.iter().map(|(_, l, _)| *l).collect();
    latencies.sort_by(f64::total_cmp);
    println!("{n} executions, all terminal, {listed} listed; outcomes: {outcomes:?}");
    println!(
        "throughput {:.2} executions/s ({wall:.1} s from the first start to the last end); \
         latency p50 {:.1} s p99 {:.1} s max {:.1} s; peak resident memory {:.0} MiB (cloud + function processes)",
        n as f64 / wall,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1],
        peak.load(Ordering::Relaxed) as f64 / 1024.0
    );
    if let Ok(d) = Arc::try_unwrap(d) {
        d.cloud.shutdown().await;
    }
}
