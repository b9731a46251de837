//! Function logs, as CloudWatch keeps them for Lambda: the process's stdout and stderr line
//! by line, between the runtime's START, END and REPORT lines.
//!
//! Lines go through one writer task that inserts them in batches (one SQLite transaction
//! per batch, not per line) into `lambda_logs`, and trims each function to its newest
//! [`MAX_LINES_PER_FUNCTION`] lines, so a chatty function cannot fill the disk. Each line
//! belongs to the stream of the instance that wrote it, named as Lambda names them
//! (`2026/12/06/[$LATEST]<instance id>`); the CloudWatch Logs API (`local::cloudwatch_logs`)
//! reads them through [`groups`], [`streams`] and [`events`].

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

/// Adds the stream column to a table made before lines had streams; lines without one
/// read as [`UNNAMED_STREAM`].
pub fn migrate(conn: &rusqlite::Connection) -> Result<(), StorageError> {
    let has_stream = conn.prepare("SELECT 1 FROM pragma_table_info('lambda_logs') WHERE name = 'stream'")?.exists([])?;
    if !has_stream {
        conn.execute_batch("ALTER TABLE lambda_logs ADD COLUMN stream TEXT;")?;
    }
    Ok(())
}

/// The stream of lines stored before lines had streams.
pub const UNNAMED_STREAM: &str = "[$LATEST]00000000000000000000000000000000";

/// The stream an instance writes to, as Lambda names them: the day it started and its id.
pub fn stream_name(instance_id: &str) -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!("{:04}/{:02}/{:02}/[$LATEST]{instance_id}", today.year(), u8::from(today.month()), today.day())
}

/// One line of a function's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub timestamp_ms: i64,
    /// The instance's stream (see [`stream_name`]).
    #[serde(skip)]
    pub stream: String,
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

    pub fn append(&self, function: &str, stream: &str, request_id: Option<&str>, message: &str) {
        let message = truncate(message);
        let line = LogLine {
            timestamp_ms: now_ms(),
            stream: stream.to_string(),
            request_id: request_id.map(str::to_string),
            message,
        };
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
            "INSERT INTO lambda_logs (function, stream, timestamp_ms, request_id, message) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (function, line) in &lines {
            stmt.execute(params![function, line.stream, line.timestamp_ms, line.request_id, line.message])?;
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
        "SELECT timestamp_ms, request_id, message, stream FROM (
             SELECT id, timestamp_ms, request_id, message, stream FROM lambda_logs WHERE function = ?1
             ORDER BY id DESC LIMIT ?2) ORDER BY id ASC",
    )?;
    let rows = stmt.query_map(params![function, limit], |row| {
        Ok(LogLine {
            timestamp_ms: row.get(0)?,
            request_id: row.get(1)?,
            message: row.get(2)?,
            stream: row.get::<_, Option<String>>(3)?.unwrap_or_else(|| UNNAMED_STREAM.into()),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A function's log group as CloudWatch describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub function: String,
    pub first_ms: i64,
    pub stored_bytes: i64,
}

/// Every function that has logged, by name.
pub fn groups(conn: &rusqlite::Connection) -> Result<Vec<Group>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT function, MIN(timestamp_ms), SUM(LENGTH(CAST(message AS BLOB))) FROM lambda_logs \
         GROUP BY function ORDER BY function",
    )?;
    let rows = stmt
        .query_map([], |row| Ok(Group { function: row.get(0)?, first_ms: row.get(1)?, stored_bytes: row.get(2)? }))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// One instance's stream of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub name: String,
    pub first_ms: i64,
    pub last_ms: i64,
    pub stored_bytes: i64,
}

/// The streams of `function`, by name.
pub fn streams(conn: &rusqlite::Connection, function: &str) -> Result<Vec<Stream>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT COALESCE(stream, '{UNNAMED_STREAM}') AS s, MIN(timestamp_ms), MAX(timestamp_ms), \
         SUM(LENGTH(CAST(message AS BLOB))) FROM lambda_logs WHERE function = ?1 GROUP BY s ORDER BY s"
    ))?;
    let rows = stmt.query_map(params![function], |row| {
        Ok(Stream { name: row.get(0)?, first_ms: row.get(1)?, last_ms: row.get(2)?, stored_bytes: row.get(3)? })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// One stored line with its position, for paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub stream: String,
    pub timestamp_ms: i64,
    pub message: String,
}

/// Which lines [`events`] reads.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only these streams (`None`: all of the function's).
    pub streams: Option<Vec<String>>,
    pub start_ms: Option<i64>,
    /// Exclusive, as CloudWatch's `endTime`.
    pub end_ms: Option<i64>,
    /// Lines after this id (oldest first) or, with `newest_first`, before it.
    pub after_id: Option<i64>,
    pub newest_first: bool,
    pub limit: usize,
}

/// A function's lines, in id order (the order they were written), filtered and paged.
pub fn events(conn: &rusqlite::Connection, function: &str, q: &EventQuery) -> Result<Vec<Event>, StorageError> {
    let order = if q.newest_first { "DESC" } else { "ASC" };
    let cursor = if q.newest_first { "id < ?5" } else { "id > ?5" };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, COALESCE(stream, '{UNNAMED_STREAM}'), timestamp_ms, message FROM lambda_logs \
         WHERE function = ?1 AND timestamp_ms >= ?2 AND timestamp_ms < ?3 AND ({cursor} OR ?5 IS NULL) \
         AND (?4 IS NULL OR COALESCE(stream, '{UNNAMED_STREAM}') IN (SELECT value FROM json_each(?4))) \
         ORDER BY id {order} LIMIT ?6"
    ))?;
    let streams = q.streams.as_ref().map(|s| serde_json::to_string(s).unwrap_or_default());
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(
        params![function, q.start_ms.unwrap_or(i64::MIN), q.end_ms.unwrap_or(i64::MAX), streams, q.after_id, limit],
        |row| Ok(Event { id: row.get(0)?, stream: row.get(1)?, timestamp_ms: row.get(2)?, message: row.get(3)? }),
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
