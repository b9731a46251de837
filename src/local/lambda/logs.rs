//! Function logs, as CloudWatch keeps them for Lambda: the process's stdout and stderr line
//! by line, between the runtime's START, END and REPORT lines.
//!
//! Lines go through one writer task that inserts them in batches (one SQLite transaction
//! per batch, not per line) into `lambda_logs`, and trims each function to its newest
//! [`MAX_LINES_PER_FUNCTION`] lines, so a chatty function cannot fill the disk.

use std::collections::BTreeSet;

use rusqlite::params;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::super::storage::{StorageError, Store};

pub const MAX_LINES_PER_FUNCTION: i64 = 10_000;
/// Longer lines are cut (CloudWatch's own limit on an event is 256 KB).
pub const MAX_LINE_BYTES: usize = 256 * 1024;
/// How many queued lines one transaction takes at most.
const BATCH: usize = 1_000;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS lambda_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    function TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    request_id TEXT,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lambda_logs_by_function ON lambda_logs(function, id);
";

/// One line of a function's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub timestamp_ms: i64,
    /// The invocation the line belongs to; `None` for output outside any invocation
    /// (a process starting up, or printing after it answered).
    pub request_id: Option<String>,
    pub message: String,
}

enum Command {
    Line {
        function: String,
        line: LogLine,
    },
    /// Answered once every line sent before it is written.
    Sync(oneshot::Sender<()>),
}

/// Where every instance sends its output. Cheap to clone.
#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::UnboundedSender<Command>,
}

pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl LogSink {
    /// Starts the writer task on `store` (the schema must exist).
    pub fn start(store: Store) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store, rx));
        Self { tx }
    }

    pub fn append(&self, function: &str, request_id: Option<&str>, message: &str) {
        let message = truncate(message);
        let line = LogLine { timestamp_ms: now_ms(), request_id: request_id.map(str::to_string), message };
        // The writer stops only with the runtime; a line sent then has nowhere to go anyway.
        let _ = self.tx.send(Command::Line { function: function.to_string(), line });
    }

    /// Waits until every line appended so far is in the database.
    pub async fn sync(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Sync(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn truncate(message: &str) -> String {
    if message.len() <= MAX_LINE_BYTES {
        return message.to_string();
    }
    let mut end = MAX_LINE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [line truncated]", &message[..end])
}

async fn write_loop(store: Store, mut rx: mpsc::UnboundedReceiver<Command>) {
    while let Some(first) = rx.recv().await {
        let mut lines = Vec::new();
        let mut syncs = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Line { function, line } => lines.push((function, line)),
                Command::Sync(ack) => syncs.push(ack),
            }
            if lines.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !lines.is_empty()
            && let Err(e) = store.call(move |conn| insert(conn, lines)).await
        {
            tracing::warn!("could not store function logs: {e}");
        }
        for ack in syncs {
            let _ = ack.send(());
        }
    }
}

fn insert(conn: &mut rusqlite::Connection, lines: Vec<(String, LogLine)>) -> Result<(), StorageError> {
    let tx = conn.transaction()?;
    let mut functions = BTreeSet::new();
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO lambda_logs (function, timestamp_ms, request_id, message) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (function, line) in &lines {
            stmt.execute(params![function, line.timestamp_ms, line.request_id, line.message])?;
            functions.insert(function.clone());
        }
    }
    for function in functions {
        tx.execute(
            "DELETE FROM lambda_logs WHERE function = ?1 AND id <= (
                 SELECT id FROM lambda_logs WHERE function = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            params![function, MAX_LINES_PER_FUNCTION],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The newest `limit` lines of `function`, oldest first.
pub fn read(conn: &rusqlite::Connection, function: &str, limit: usize) -> Result<Vec<LogLine>, StorageError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT timestamp_ms, request_id, message FROM (
             SELECT id, timestamp_ms, request_id, message FROM lambda_logs WHERE function = ?1
             ORDER BY id DESC LIMIT ?2) ORDER BY id ASC",
    )?;
    let rows = stmt.query_map(params![function, limit], |row| {
        Ok(LogLine { timestamp_ms: row.get(0)?, request_id: row.get(1)?, message: row.get(2)? })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
