//! A Lambda function for testing a Lambda runtime (the local cloud's, or AWS's): its input
//! says what it does, so one binary exercises every path of the Runtime API.
//!
//! Input `{"action": …}`:
//! - `echo` (or no action): returns the input unchanged.
//! - `sleep` + `ms`: sleeps, then returns `{"slept": ms, "instance": AWS_LAMBDA_RUNTIME_API}`.
//! - `error` + `errorType` + `errorMessage`: fails with that error type and message.
//! - `panic` + `message`: panics inside the handler.
//! - `exit` + `code`: ends the process at once (no response, no error report).
//! - `print` + `stdout`/`stderr`: writes those lines, then returns `{"printed": true}`.
//! - `env`: returns the process's whole environment as an object.
//! - `allocate` + `mb`: allocates and touches that many MiB, returns `{"allocated": mb}`.
//! - `context`: returns the invocation context the runtime received.
//!
//! With `PROBE_INIT_ERROR` in its environment the probe reports that message to
//! `/runtime/init/error` (as a runtime whose initialisation failed does) and exits 1.

use std::io::{Read, Write};

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let input = event.payload;
    let action = input.get("action").and_then(Value::as_str).unwrap_or("echo");
    let text = |key: &str| input.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let number = |key: &str| input.get(key).and_then(Value::as_u64).unwrap_or(0);
    match action {
        "echo" => Ok(input),
        "sleep" => {
            let ms = number("ms");
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            // Which instance ran it (its Runtime API path is its own).
            Ok(json!({ "slept": ms, "instance": std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default() }))
        }
        "error" => Err(Diagnostic { error_type: text("errorType"), error_message: text("errorMessage") }),
        "panic" => panic!("{}", text("message")),
        "exit" => std::process::exit(i32::try_from(number("code")).unwrap_or(1)),
        "print" => {
            for line in text("stdout").lines() {
                println!("{line}");
            }
            for line in text("stderr").lines() {
                eprintln!("{line}");
            }
            Ok(json!({ "printed": true }))
        }
        "env" => Ok(Value::Object(std::env::vars().map(|(k, v)| (k, Value::String(v))).collect())),
        "allocate" => {
            let mb = usize::try_from(number("mb")).unwrap_or(usize::MAX);
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            for _ in 0..mb {
                // Touch every page so the memory is really committed, not just reserved.
                blocks.push(vec![1u8; 1024 * 1024]);
            }
            Ok(json!({ "allocated": blocks.len() }))
        }
        "context" => Ok(json!({
            "requestId": event.context.request_id,
            "invokedFunctionArn": event.context.invoked_function_arn,
            "deadlineMs": event.context.deadline,
            "traceId": event.context.xray_trace_id,
        })),
        other => {
            Err(Diagnostic { error_type: "UnknownAction".into(), error_message: format!("no such action: {other}") })
        }
    }
}

/// Posts to `/runtime/init/error` by hand: `lambda_runtime` itself only reports init
/// errors for SnapStart, but every runtime may, and the local cloud must handle it.
fn report_init_error(message: &str) -> std::io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(std::io::Error::other)?;
    let api = api.trim_start_matches("http://").to_string();
    let (host, base) =
        api.split_once('/').map(|(h, p)| (h.to_string(), format!("/{p}"))).unwrap_or((api, String::new()));
    let body = json!({ "errorType": "Probe.InitFailed", "errorMessage": message }).to_string();
    let mut stream = std::net::TcpStream::connect(&host)?;
    write!(
        stream,
        "POST {base}/2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {host}\r\n\
         Lambda-Runtime-Function-Error-Type: Probe.InitFailed\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    if let Ok(message) = std::env::var("PROBE_INIT_ERROR") {
        eprintln!("probe: init failed: {message}");
        if let Err(e) = report_init_error(&message) {
            eprintln!("probe: could not report the init error: {e}");
        }
        std::process::exit(1);
    }
    lambda_runtime::run(service_fn(handle)).await
}
