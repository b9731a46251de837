//! Runs the pure JSONPath execution cases of `../shared/asl-conformance` (recorded against
//! AWS by LocalStack) through the interpreter, with a virtual clock for Wait timers, and
//! compares status, output, error, cause and event types. Prints `N passed, N failed` per
//! feature and the failing ids; asserts a floor so regressions fail the build.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use wildrydes::local::stepfunctions::asl::{Command, Definition, Event, Execution, ExecutionContext, ExecutionStatus};

/// Cases passing when this floor was last raised; raise it as the interpreter improves.
const PASS_FLOOR: usize = 715;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/asl-conformance")
}

/// Literal pieces of an expected string once its placeholders are cut out.
fn pattern_pieces(expected: &str, placeholders: &[String]) -> Vec<String> {
    let mut text = expected.to_string();
    for p in placeholders {
        if !p.is_empty() {
            text = text.replace(p.as_str(), "\u{0}");
        }
    }
    text = text.replace("111111111111", "\u{0}");
    // `<...>` tokens are placeholders too.
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find('<') {
        match rest[start..].find('>') {
            Some(end) if !rest[start + 1..start + end].contains(['<', ' ', '"']) && end > 1 => {
                out.push_str(&rest[..start]);
                out.push('\u{0}');
                rest = &rest[start + end + 1..];
            }
            _ => {
                out.push_str(&rest[..=start]);
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(rest);
    out.split('\u{0}').map(str::to_string).collect()
}

fn string_matches(expected: &str, actual: &str, placeholders: &[String]) -> bool {
    let pieces = pattern_pieces(expected, placeholders);
    if pieces.len() == 1 {
        return expected == actual;
    }
    let mut pos = 0;
    for (i, piece) in pieces.iter().enumerate() {
        if i == 0 {
            if !actual.starts_with(piece.as_str()) {
                return false;
            }
            pos = piece.len();
        } else if i == pieces.len() - 1 {
            return actual.len() >= pos + piece.len() && actual.ends_with(piece.as_str());
        } else {
            match actual[pos..].find(piece.as_str()) {
                Some(off) => pos += off + piece.len(),
                None => return false,
            }
        }
    }
    true
}

fn value_matches(expected: &Value, actual: &Value, ph: &[String]) -> bool {
    match (expected, actual) {
        (Value::String(e), Value::String(a)) => string_matches(e, a, ph),
        (Value::String(e), other) => {
            pattern_pieces(e, ph).len() > 1 && pattern_pieces(e, ph).iter().all(|p| p.is_empty()) || {
                let _ = other;
                false
            }
        }
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| value_matches(x, y, ph))
        }
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len() && e.iter().all(|(k, v)| a.get(k).is_some_and(|w| value_matches(v, w, ph)))
        }
        _ => expected == actual,
    }
}

struct Outcome {
    status: String,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    event_types: Vec<String>,
    /// (id, previousEventId) of every event.
    links: Vec<(u64, u64)>,
}

/// `recorded_date` is `dd-mm-yyyy, HH:MM:SS` (UTC).
fn recorded_ms(case: &Value) -> Option<i64> {
    let text = case["source"]["recorded_date"].as_str()?;
    let (date, clock) = text.split_once(", ")?;
    let d: Vec<i64> = date.split('-').filter_map(|x| x.parse().ok()).collect();
    let t: Vec<i64> = clock.split(':').filter_map(|x| x.parse().ok()).collect();
    if d.len() != 3 || t.len() != 3 {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(d[1]).ok()?).ok()?;
    let day = time::Date::from_calendar_date(i32::try_from(d[2]).ok()?, month, u8::try_from(d[0]).ok()?).ok()?;
    let at = day.with_hms(u8::try_from(t[0]).ok()?, u8::try_from(t[1]).ok()?, u8::try_from(t[2]).ok()?).ok()?;
    Some(at.assume_utc().unix_timestamp() * 1000)
}

fn run_case(case: &Value) -> Result<Outcome, String> {
    let definition = Definition::from_value(&case["definition"]).map_err(|d| format!("definition rejected: {d:?}"))?;
    let input = case["input"].clone();
    let context = ExecutionContext {
        execution_arn: "arn:aws:states:us-east-1:111111111111:execution:conformance-sm:conformance-exec".into(),
        name: "conformance-exec".into(),
        role_arn: "arn:aws:iam::111111111111:role/conformance".into(),
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:conformance-sm".into(),
        state_machine_name: "conformance-sm".into(),
        redrive_count: 0,
    };
    // Start the virtual clock when AWS ran the case, so Wait timestamps keep their meaning.
    let mut now: i64 = recorded_ms(case).unwrap_or(1_700_000_000_000);
    let (mut ex, mut events, mut commands) = Execution::start(std::sync::Arc::new(definition), input, context, now);
    let mut timers: BTreeMap<String, i64> = BTreeMap::new();
    let mut steps = 0;
    loop {
        for c in commands.drain(..) {
            match c {
                Command::StartTimer { id, fire_at_ms } => {
                    timers.insert(id, fire_at_ms);
                }
                Command::CancelTimer { id } => {
                    timers.remove(&id);
                }
                Command::InvokeTask { resource, .. } => return Err(format!("task {resource} is not pure")),
                Command::CancelTask { .. } => {}
            }
        }
        if !ex.is_running() {
            break;
        }
        steps += 1;
        let Some((id, at)) = timers.iter().min_by_key(|(_, at)| **at).map(|(i, a)| (i.clone(), *a)) else {
            return Err("execution is stuck: running with nothing outstanding".into());
        };
        if steps > 100_000 {
            return Err("too many steps".into());
        }
        timers.remove(&id);
        now = now.max(at);
        let (e, c) = ex.on(Event::TimerFired { id }, now);
        events.extend(e);
        commands = c;
    }
    let (status, output, error, cause) = match ex.status().clone() {
        ExecutionStatus::Succeeded { output } => ("SUCCEEDED", Some(output), None, None),
        ExecutionStatus::Failed { error, cause } => ("FAILED", None, error, cause),
        ExecutionStatus::TimedOut { error, cause } => ("TIMED_OUT", None, error, cause),
        ExecutionStatus::Aborted { error, cause } => ("ABORTED", None, error, cause),
        ExecutionStatus::Running => ("RUNNING", None, None, None),
    };
    Ok(Outcome {
        status: status.into(),
        output,
        error,
        cause,
        event_types: events.iter().map(|e| e.event_type.clone()).collect(),
        links: events.iter().map(|e| (e.id, e.previous_event_id)).collect(),
    })
}

fn check(case: &Value, got: &Outcome) -> Result<(), String> {
    let exp = &case["expected"];
    let mut ph: Vec<String> = case["placeholders"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    // LocalStack's snapshot transformers also replace timestamps with "date" (FORMAT.md).
    ph.push("date".into());
    if exp["status"].as_str() != Some(got.status.as_str()) {
        return Err(format!(
            "status {} != expected {} (error {:?}, cause {:?})",
            got.status, exp["status"], got.error, got.cause
        ));
    }
    if let Some(out) = exp.get("output") {
        let actual = got.output.clone().unwrap_or(Value::Null);
        let ok = if exp.get("output_is_raw_text").and_then(Value::as_bool) == Some(true) {
            value_matches(out, &Value::String(serde_json::to_string(&actual).unwrap_or_default()), &ph)
        } else {
            value_matches(out, &actual, &ph)
        };
        if !ok {
            return Err(format!("output {} != expected {}", actual, out));
        }
    }
    if let Some(e) = exp.get("error").and_then(Value::as_str)
        && !string_matches(e, got.error.as_deref().unwrap_or(""), &ph)
    {
        return Err(format!("error {:?} != expected {e:?}", got.error));
    }
    if let Some(c) = exp.get("cause").and_then(Value::as_str)
        && !string_matches(c, got.cause.as_deref().unwrap_or(""), &ph)
    {
        return Err(format!("cause {:?} != expected {c:?}", got.cause));
    }
    if let Some(types) = exp.get("event_types").and_then(Value::as_array) {
        let mut want: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
        // Some recordings are of GetExecutionHistory with reverseOrder.
        if want.last() == Some(&"ExecutionStarted") {
            want.reverse();
        }
        if want != got.event_types.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(format!("event types {:?} != expected {:?}", got.event_types, want));
        }
    }
    Ok(())
}

/// Whether every event's previousEventId equals the recorded one (`None`: nothing recorded
/// to compare, or the event types differ already).
fn links_match(case: &Value, got: &Outcome) -> Option<Result<(), String>> {
    let events = case["expected"]["events"].as_array()?;
    let mut want: Vec<(u64, u64)> =
        events.iter().filter_map(|e| Some((e["id"].as_u64()?, e["previousEventId"].as_u64()?))).collect();
    want.sort();
    if want.len() != got.links.len() || want.is_empty() {
        return None;
    }
    let bad: Vec<String> = want
        .iter()
        .zip(&got.links)
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("event {}: previousEventId {} != expected {}", w.0, g.1, w.1))
        .collect();
    Some(if bad.is_empty() { Ok(()) } else { Err(bad.join("; ")) })
}

/// Cases whose every previousEventId matched AWS's when this floor was last raised.
const LINK_FLOOR: usize = 274;

#[test]
fn pure_jsonpath_cases_match_aws_recordings() {
    let dir = corpus_dir();
    let Ok(index_text) = std::fs::read_to_string(dir.join("index.json")) else {
        println!("asl-conformance corpus not found at {}: skipping", dir.display());
        return;
    };
    let index: Vec<Value> = serde_json::from_str(&index_text).unwrap_or_default();
    let mut per_feature: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut failures = Vec::new();
    let mut links = (0usize, 0usize);
    let mut link_failures = Vec::new();
    for entry in &index {
        if entry["kind"] != "execution" || entry["pure"] != true || entry["ql"] != "JSONPath" {
            continue;
        }
        let Some(file) = entry["file"].as_str() else { continue };
        let Ok(text) = std::fs::read_to_string(dir.join("cases").join(file)) else { continue };
        let Ok(case) = serde_json::from_str::<Value>(&text) else { continue };
        let id = case["id"].as_str().unwrap_or(file).to_string();
        let got = run_case(&case);
        let result = got.as_ref().map_err(Clone::clone).and_then(|got| check(&case, got));
        let ok = result.is_ok();
        if ok && let Ok(got) = &got {
            match links_match(&case, got) {
                Some(Ok(())) => links.0 += 1,
                Some(Err(e)) => {
                    links.1 += 1;
                    link_failures.push(format!("{id}: {e}"));
                }
                None => {}
            }
        }
        if ok {
            passed += 1;
        } else {
            failed += 1;
            failures.push(format!("{id}: {}", result.err().unwrap_or_default()));
        }
        let mut features: Vec<String> = case["features"]
            .as_array()
            .map(|a| {
                a.iter().filter_map(|f| f.as_str().map(|s| s.split(':').next().unwrap_or(s).to_string())).collect()
            })
            .unwrap_or_default();
        features.sort();
        features.dedup();
        for f in features {
            let e = per_feature.entry(f).or_default();
            if ok {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
    }
    for (f, (p, n)) in &per_feature {
        println!("{f}: {p} passed, {n} failed");
    }
    for f in &failures {
        let short: String = f.chars().take(600).collect();
        println!("FAILED {short}");
    }
    for f in &link_failures {
        let short: String = f.chars().take(400).collect();
        println!("LINKS {short}");
    }
    println!("previousEventId: {} cases match AWS, {} differ", links.0, links.1);
    println!("TOTAL: {passed} passed, {failed} failed");
    assert!(links.0 >= LINK_FLOOR, "previousEventId fidelity regressed: {} match, floor {LINK_FLOOR}", links.0);
    assert!(passed >= PASS_FLOOR, "conformance regressed: {passed} passed, floor {PASS_FLOOR}");
}

/// Cases of `validation_cases.json` (asl-validator's judgement, not AWS's) that
/// ValidateStateMachineDefinition and CreateStateMachine agreed with when this was raised.
const VALIDATION_FLOOR: usize = 94;

#[tokio::test]
async fn validation_cases_are_judged_like_asl_validator() {
    let path = corpus_dir().join("validation_cases.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("{} not found: skipping", path.display());
        return;
    };
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    let cloud = crate::common::TestCloud::start().await;
    let sfn = &cloud.clients.sfn;
    let (mut passed, mut failed) = (0usize, 0usize);
    for (i, case) in cases.iter().enumerate() {
        let id = case["id"].as_str().unwrap_or("?");
        let expected = case["expected_valid"].as_bool().unwrap_or(false);
        let definition = case["definition"].to_string();
        let validated = sfn.validate_state_machine_definition().definition(&definition).send().await;
        let valid = match &validated {
            Ok(out) => out.result == aws_sdk_sfn::types::ValidateStateMachineDefinitionResultCode::Ok,
            Err(e) => panic!("{id}: ValidateStateMachineDefinition failed: {e:?}"),
        };
        // CreateStateMachine must agree with the validator on every definition.
        let created = sfn
            .create_state_machine()
            .name(format!("validation-{i}"))
            .definition(&definition)
            .role_arn("arn:aws:iam::000000000000:role/conformance")
            .send()
            .await;
        assert_eq!(created.is_ok(), valid, "{id}: CreateStateMachine and ValidateStateMachineDefinition disagree");
        if valid == expected {
            passed += 1;
        } else {
            failed += 1;
            let diags = validated
                .ok()
                .map(|o| o.diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect::<Vec<_>>())
                .unwrap_or_default();
            let short: String = format!("{diags:?}").chars().take(300).collect();
            println!("VALIDATION {id}: expected valid={expected}, got {valid} {short}");
        }
    }
    println!("validation cases: {passed} passed, {failed} failed");
    assert!(passed >= VALIDATION_FLOOR, "validation regressed: {passed} passed, floor {VALIDATION_FLOOR}");
}

/// Pure JSONPath TestState cases (no mocks) that matched AWS when this was raised.
const TEST_STATE_FLOOR: usize = 27;

#[tokio::test]
async fn test_state_cases_match_aws_recordings() {
    let dir = corpus_dir();
    let Ok(index_text) = std::fs::read_to_string(dir.join("index.json")) else {
        println!("asl-conformance corpus not found at {}: skipping", dir.display());
        return;
    };
    let index: Vec<Value> = serde_json::from_str(&index_text).unwrap_or_default();
    let cloud = crate::common::TestCloud::start().await;
    // The app's own client: TestState goes to the SDK's `sync-` host, which cloud.rs handles.
    let sfn = &cloud.clients.sfn;
    let (mut passed, mut failed) = (0usize, 0usize);
    for entry in &index {
        if entry["kind"] != "test_state" || entry["pure"] != true || entry["ql"] != "JSONPath" {
            continue;
        }
        let Some(file) = entry["file"].as_str() else { continue };
        let Ok(text) = std::fs::read_to_string(dir.join("cases").join(file)) else { continue };
        let Ok(case) = serde_json::from_str::<Value>(&text) else { continue };
        let req = &case["test_state_request"];
        if req.get("mock").is_some() || req.get("variables").is_some() {
            continue;
        }
        let id = case["id"].as_str().unwrap_or(file).to_string();
        let ph: Vec<String> = case["placeholders"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let level = req["inspectionLevel"].as_str().unwrap_or("INFO");
        let out = sfn
            .test_state()
            .definition(case["definition"].to_string())
            .input(req["input"].to_string())
            .inspection_level(aws_sdk_sfn::types::InspectionLevel::from(level))
            .set_state_name(req["stateName"].as_str().map(str::to_string))
            .send()
            .await;
        let want = &case["expected"]["test_state_response"];
        let result = match out {
            Err(e) => Err(format!("TestState failed: {e:?}")),
            Ok(out) => {
                let mut got = serde_json::Map::new();
                got.insert(
                    "status".into(),
                    Value::String(out.status.map(|s| s.as_str().to_string()).unwrap_or_default()),
                );
                let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.to_string()));
                if let Some(o) = &out.output {
                    got.insert("output".into(), parse(o));
                }
                for (k, v) in [("nextState", &out.next_state), ("error", &out.error), ("cause", &out.cause)] {
                    if let Some(v) = v {
                        got.insert(k.into(), Value::String(v.clone()));
                    }
                }
                if let Some(d) = &out.inspection_data {
                    let mut m = serde_json::Map::new();
                    for (k, v) in [
                        ("input", &d.input),
                        ("afterInputPath", &d.after_input_path),
                        ("afterParameters", &d.after_parameters),
                        ("result", &d.result),
                        ("afterResultSelector", &d.after_result_selector),
                        ("afterResultPath", &d.after_result_path),
                    ] {
                        if let Some(v) = v {
                            m.insert(k.into(), parse(v));
                        }
                    }
                    got.insert("inspectionData".into(), Value::Object(m));
                }
                let got = Value::Object(got);
                if value_matches(want, &got, &ph) { Ok(()) } else { Err(format!("got {got} != expected {want}")) }
            }
        };
        match result {
            Ok(()) => passed += 1,
            Err(e) => {
                failed += 1;
                let short: String = e.chars().take(500).collect();
                println!("TESTSTATE {id}: {short}");
            }
        }
    }
    println!("TestState cases: {passed} passed, {failed} failed");
    assert!(passed >= TEST_STATE_FLOOR, "TestState regressed: {passed} passed, floor {TEST_STATE_FLOOR}");
}
