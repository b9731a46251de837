//! The moto differential suite: the same boto3 script (`differential.py`) against moto's
//! server and against `wildrydes serve`, both started here on free ports. The script masks
//! what is generated (times, request ids, tokens, owner ids, the account and region in
//! ARNs); this module compares the rest leaf by leaf and fails on every difference that
//! `DIFFERENCES.md` does not list with its reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{Moto, ServerProcess, test_venv};

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat")
}

/// Runs the script against one endpoint; returns its records by step name, in order.
fn run_script(venv: &Path, endpoint: &str, key: &str, extra: &[&str]) -> Vec<(String, Value)> {
    let output = Command::new(venv.join("bin/python"))
        .arg(here().join("differential.py"))
        .args([endpoint, key, key])
        .args(extra)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "the differential script failed against {endpoint}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    records
        .as_array()
        .expect("a list of records")
        .iter()
        .map(|r| (r["step"].as_str().unwrap_or_default().to_string(), r.clone()))
        .collect()
}

/// Every leaf of `value` under `path`: `a.b[0].c` → its JSON text.
fn flatten(path: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(&format!("{path}.{k}"), v, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), v, out);
            }
        }
        leaf => {
            out.insert(path.to_string(), leaf.to_string());
        }
    }
}

/// One line per leaf that differs: `path: moto=… wildrydes=…`, keyed by path.
fn differences(moto: &[(String, Value)], ours: &[(String, Value)]) -> BTreeMap<String, String> {
    let leaves = |records: &[(String, Value)]| {
        let mut out = BTreeMap::new();
        for (step, record) in records {
            let mut body = record.clone();
            if let Some(map) = body.as_object_mut() {
                map.remove("step");
            }
            flatten(step, &body, &mut out);
        }
        out
    };
    let (theirs, mine) = (leaves(moto), leaves(ours));
    let mut diffs = BTreeMap::new();
    for path in theirs.keys().chain(mine.keys()) {
        let (a, b) = (theirs.get(path), mine.get(path));
        if a != b {
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(absent)".into());
            diffs.insert(path.clone(), format!("moto={} wildrydes={}", show(a), show(b)));
        }
    }
    diffs
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => text.starts_with(head) && (head.len()..=text.len()).any(|i| glob(rest, &text[i..])),
    }
}

/// A listed pattern covers a path it matches, and everything below a path it matches.
fn covers(pattern: &str, path: &str) -> bool {
    path.char_indices()
        .filter(|(_, c)| *c == '.' || *c == '[')
        .map(|(i, _)| i)
        .chain([path.len()])
        .any(|end| glob(pattern, &path[..end]))
}

/// The patterns of DIFFERENCES.md: the backticked first cell of each table row.
fn listed(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(p, _)| p.to_string()))
        .collect()
}

#[test]
fn listing_patterns_cover_paths_and_their_children() {
    assert!(covers(
        "sfn.create_state_machine.InvalidDefinition",
        "sfn.create_state_machine.InvalidDefinition.error.code"
    ));
    assert!(covers("s3.*.ChecksumCRC32", "s3.put_object a/1.txt.response.ChecksumCRC32"));
    assert!(covers(
        "s3.list_objects_v2*.Contents[*].ChecksumAlgorithm",
        "s3.list_objects_v2.prefix.response.Contents[1].ChecksumAlgorithm[0]"
    ));
    assert!(covers("ddb.query.count", "ddb.query.count.status"));
    assert!(!covers("ddb.query.count", "ddb.query.counted.status"), "a pattern ends at a path boundary");
    assert!(!covers("s3.get_object.status", "s3.get_object.range.status"));
    assert_eq!(listed("| path | why |\n|---|---|\n| `a.b` | moto is wrong |\nprose `x`\n"), vec!["a.b".to_string()]);
}

#[test]
fn boto3_against_moto_and_serve_differs_only_where_listed() {
    let Some(venv) = test_venv("boto3_against_moto_and_serve_differs_only_where_listed") else { return };
    let moto_bin = venv.join("bin/moto_server");
    if !moto_bin.exists() {
        eprintln!(
            "SKIPPED boto3_against_moto_and_serve_differs_only_where_listed: no moto_server in {}",
            venv.display()
        );
        return;
    }
    let moto = Moto::spawn(&moto_bin);
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let theirs = run_script(&venv, &moto.endpoint, "testing", &["moto"]);
    let ours = run_script(&venv, &server.endpoint, "wildrydes", &[]);

    let diffs = differences(&theirs, &ours);
    let list_path = here().join("DIFFERENCES.md");
    let list_text = std::fs::read_to_string(&list_path).expect("tests/compat/DIFFERENCES.md is readable");
    let patterns = listed(&list_text);
    let unlisted: Vec<String> = diffs
        .iter()
        .filter(|(path, _)| !patterns.iter().any(|p| covers(p, path)))
        .map(|(path, d)| format!("{path}: {d}"))
        .collect();
    let unused: Vec<&String> = patterns.iter().filter(|p| !diffs.keys().any(|path| covers(p, path))).collect();
    println!(
        "moto differential: {} steps, {} differing leaves, {} listed differences, {} unlisted",
        ours.len(),
        diffs.len(),
        patterns.len(),
        unlisted.len()
    );
    if !unused.is_empty() {
        eprintln!("listed in DIFFERENCES.md but no longer different (remove them): {unused:?}");
    }
    assert!(
        unlisted.is_empty(),
        "{} differences between moto and wildrydes are not listed in {}:\n{}",
        unlisted.len(),
        list_path.display(),
        unlisted.join("\n")
    );
}
