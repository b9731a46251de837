//! What the workflow benches share: a local cloud in a temporary directory with the workshop
//! deployed from the workspace's function binaries, unique photos, percentiles and memory.

#![allow(dead_code)] // each bench uses its own part of this

use std::path::PathBuf;

use wildrydes::cloud::{Clients, Target};
use wildrydes::deploy::{self, DeployOptions};
use wildrydes::local::{LocalCloud, LocalCloudConfig};
use wildrydes::workshop::WorkshopNames;

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The function binaries beside this bench's profile directory (`target/<profile>/`).
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench knows where it is");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<bench>");
    assert!(
        profile_dir.join("face-detection").is_file(),
        "build the functions first: cargo build --workspace --bins (same profile as the bench)"
    );
    profile_dir.to_path_buf()
}

pub struct Deployed {
    pub cloud: LocalCloud,
    pub clients: Clients,
    pub names: WorkshopNames,
    _dir: tempfile::TempDir,
}

/// A fresh local cloud with the workshop deployed; prints how long the deploy took.
pub async fn deployed() -> Deployed {
    let dir = tempfile::tempdir().expect("temporary data directory");
    let mut config = LocalCloudConfig::new(dir.path().to_path_buf());
    config.port = 0;
    let cloud = LocalCloud::start(config).await.expect("local cloud");
    let clients = Clients::for_target(&Target::local(cloud.endpoint())).await;
    let t = std::time::Instant::now();
    deploy::deploy(&clients, &DeployOptions::local(binaries_dir()), &mut |_| {}).await.expect("deploy");
    println!("deploy to an empty local cloud: {:.1} s", t.elapsed().as_secs_f64());
    Deployed { cloud, clients, names: WorkshopNames::local(), _dir: dir }
}

/// The same picture as new bytes: a JPEG comment segment (`FF FE`) with `tag` right after the
/// start-of-image marker. Every rider's photo is a different file, and the local Rekognition
/// remembers analyses by the bytes' hash, so a bench that reused one file would time the
/// cache instead of the models.
pub fn unique_jpeg(jpeg: &[u8], tag: &str) -> Vec<u8> {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG");
    let text = tag.as_bytes();
    let length = u16::try_from(text.len() + 2).expect("a short tag");
    let mut out = Vec::with_capacity(jpeg.len() + text.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(text);
    out.extend_from_slice(&jpeg[2..]);
    out
}

pub async fn upload(d: &Deployed, key: &str, bytes: Vec<u8>) {
    d.clients.s3.put_object().bucket(&d.names.photo_bucket).key(key).body(bytes.into()).send().await.expect("upload");
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// This process and all its descendants (the function processes), read from /proc; only
/// this process where there is no /proc.
fn self_and_descendants() -> Vec<String> {
    fn children(pid: &str) -> Vec<String> {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
        tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
            .flat_map(|c| c.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect()
    }
    let mut all = Vec::new();
    let mut pending = vec![std::process::id().to_string()];
    while let Some(pid) = pending.pop() {
        pending.extend(children(&pid));
        all.push(pid);
    }
    all
}

/// Resident memory in KiB of this process and all its descendants (the function processes),
/// read from /proc; 0 where there is no /proc.
pub fn resident_kib_with_children() -> u64 {
    fn rss(pid: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
    self_and_descendants().iter().map(|pid| rss(pid)).sum()
}

/// CPU seconds (user + system) used so far by this process and its live descendants, and
/// by the descendants that have ended; 0 where there is no /proc.
pub fn cpu_seconds_with_children() -> f64 {
    // SAFETY: sysconf reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = |pid: &str| -> u64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
        // Fields after the command name (which may hold spaces): state is field 3, utime 14,
        // stime 15, cutime 16, cstime 17.
        let Some((_, rest)) = stat.rsplit_once(") ") else { return 0 };
        rest.split_whitespace().skip(11).take(4).filter_map(|v| v.parse::<u64>().ok()).sum()
    };
    self_and_descendants().iter().map(|pid| cpu(pid)).sum::<u64>() as f64 / ticks
}
