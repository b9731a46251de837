//! The Step Functions tables: state machines, executions (with the interpreter's serialised
//! snapshot), their history events, and the commands still outstanding (task invocations and
//! timers). Every step of an execution is written by [`Tables::commit_step`] in one SQLite
//! transaction, so what the executor acts on is always already on disk.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::Value;

use crate::local::storage::{StorageError, Store};

use super::asl::HistoryEvent;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sfn_state_machines (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    definition TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    logging_configuration TEXT NOT NULL,
    tracing_configuration TEXT NOT NULL,
    revision_id TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER
);
CREATE TABLE IF NOT EXISTS sfn_executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    arn TEXT NOT NULL UNIQUE,
    state_machine_arn TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    cause TEXT,
    start_ms INTEGER NOT NULL,
    stop_ms INTEGER,
    redrive_count INTEGER NOT NULL DEFAULT 0,
    redrive_ms INTEGER,
    definition TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    revision_id TEXT,
    snapshot TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sfn_executions_by_machine ON sfn_executions(state_machine_arn, seq);
CREATE INDEX IF NOT EXISTS sfn_executions_by_status ON sfn_executions(status);
CREATE TABLE IF NOT EXISTS sfn_redrive_tokens (
    execution_arn TEXT NOT NULL,
    token TEXT NOT NULL,
    redrive_ms INTEGER NOT NULL,
    PRIMARY KEY (execution_arn, token)
);
CREATE TABLE IF NOT EXISTS sfn_events (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    previous_event_id INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    type TEXT NOT NULL,
    details TEXT,
    PRIMARY KEY (execution_arn, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sfn_pending (
    execution_arn TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    resource TEXT,
    parameters TEXT,
    timeout_seconds INTEGER,
    heartbeat_seconds INTEGER,
    fire_at_ms INTEGER,
    PRIMARY KEY (execution_arn, id)
) WITHOUT ROWID;
";

/// A state machine as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineRow {
    pub arn: String,
    pub name: String,
    pub kind: String,
    pub definition: String,
    pub role_arn: String,
    pub logging_configuration: Value,
    pub tracing_configuration: Value,
    pub revision_id: Option<String>,
    pub created_ms: i64,
    pub updated_ms: Option<i64>,
}

/// An execution as stored (without its snapshot).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    pub seq: i64,
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    pub redrive_count: i64,
    pub redrive_ms: Option<i64>,
    pub definition: String,
    pub role_arn: String,
    pub revision_id: Option<String>,
}

/// The summary the executor writes with each step.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub status: &'static str,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub stop_ms: Option<i64>,
}

/// An outstanding command, as recorded in `sfn_pending`.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    Task {
        id: String,
        resource: String,
        parameters: Value,
        timeout_seconds: Option<u64>,
        heartbeat_seconds: Option<u64>,
    },
    Timer {
        id: String,
        fire_at_ms: i64,
    },
}

impl Pending {
    pub fn id(&self) -> &str {
        match self {
            Pending::Task { id, .. } | Pending::Timer { id, .. } => id,
        }
    }
}

/// One step to make durable: history to append, the new snapshot and status, and the
/// changes to the outstanding commands.
#[derive(Debug, Default)]
pub struct Step {
    pub events: Vec<HistoryEvent>,
    pub snapshot: String,
    pub status: Option<StatusUpdate>,
    pub add: Vec<Pending>,
    pub remove: Vec<String>,
}

/// What a start found when it tried to insert a new execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    New,
    /// An execution of that ARN exists already.
    Existing(Box<ExecutionRow>),
}

pub fn init(store: &Store) -> Result<(), StorageError> {
    store.call_blocking(|c| Ok(c.execute_batch(SCHEMA)?))
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

fn json_col(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

const SM_COLUMNS: &str = "arn, name, type, definition, role_arn, logging_configuration, tracing_configuration, \
                          revision_id, created_ms, updated_ms";

fn sm_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StateMachineRow> {
    Ok(StateMachineRow {
        arn: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        definition: r.get(3)?,
        role_arn: r.get(4)?,
        logging_configuration: json_col(r.get(5)?),
        tracing_configuration: json_col(r.get(6)?),
        revision_id: r.get(7)?,
        created_ms: r.get(8)?,
        updated_ms: r.get(9)?,
    })
}

const EX_COLUMNS: &str = "seq, arn, state_machine_arn, name, status, input, output, error, cause, start_ms, stop_ms, \
                          redrive_count, redrive_ms, definition, role_arn, revision_id";

fn ex_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExecutionRow> {
    Ok(ExecutionRow {
        seq: r.get(0)?,
        arn: r.get(1)?,
        state_machine_arn: r.get(2)?,
        name: r.get(3)?,
        status: r.get(4)?,
        input: r.get(5)?,
        output: r.get(6)?,
        error: r.get(7)?,
        cause: r.get(8)?,
        start_ms: r.get(9)?,
        stop_ms: r.get(10)?,
        redrive_count: r.get(11)?,
        redrive_ms: r.get(12)?,
        definition: r.get(13)?,
        role_arn: r.get(14)?,
        revision_id: r.get(15)?,
    })
}

pub fn get_state_machine(c: &Connection, arn: &str) -> Result<Option<StateMachineRow>, StorageError> {
    let sql = format!("SELECT {SM_COLUMNS} FROM sfn_state_machines WHERE arn = ?1");
    Ok(c.query_row(&sql, [arn], sm_from_row).optional()?)
}

pub fn get_state_machine_by_name(c: &Connection, name: &str) -> Result<Option<StateMachineRow>, StorageError> {
    let sql = format!("SELECT {SM_COLUMNS} FROM sfn_state_machines WHERE name = ?1");
    Ok(c.query_row(&sql, [name], sm_from_row).optional()?)
}

pub fn insert_state_machine(c: &Connection, sm: &StateMachineRow) -> Result<(), StorageError> {
    c.execute(
        &format!("INSERT INTO sfn_state_machines ({SM_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        params![
            sm.arn,
            sm.name,
            sm.kind,
            sm.definition,
            sm.role_arn,
            sm.logging_configuration.to_string(),
            sm.tracing_configuration.to_string(),
            sm.revision_id,
            sm.created_ms,
            sm.updated_ms
        ],
    )?;
    Ok(())
}

pub fn update_state_machine(c: &Connection, sm: &StateMachineRow) -> Result<(), StorageError> {
    c.execute(
        "UPDATE sfn_state_machines SET definition = ?2, role_arn = ?3, logging_configuration = ?4, \
         tracing_configuration = ?5, revision_id = ?6, updated_ms = ?7 WHERE arn = ?1",
        params![
            sm.arn,
            sm.definition,
            sm.role_arn,
            sm.logging_configuration.to_string(),
            sm.tracing_configuration.to_string(),
            sm.revision_id,
            sm.updated_ms
        ],
    )?;
    Ok(())
}

pub fn delete_state_machine(c: &Connection, arn: &str) -> Result<bool, StorageError> {
    Ok(c.execute("DELETE FROM sfn_state_machines WHERE arn = ?1", [arn])? > 0)
}

/// State machines ordered by name, after `after` (exclusive), at most `limit`.
pub fn list_state_machines(
    c: &Connection,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StateMachineRow>, StorageError> {
    let sql = format!("SELECT {SM_COLUMNS} FROM sfn_state_machines WHERE name > ?1 ORDER BY name LIMIT ?2");
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map(params![after.unwrap_or(""), limit as i64], sm_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get_execution(c: &Connection, arn: &str) -> Result<Option<ExecutionRow>, StorageError> {
    let sql = format!("SELECT {EX_COLUMNS} FROM sfn_executions WHERE arn = ?1");
    Ok(c.query_row(&sql, [arn], ex_from_row).optional()?)
}

/// Executions of a state machine, newest first, older than `before_seq`, at most `limit`;
/// `redriven` keeps only those redriven at least once (`Some(true)`) or never (`Some(false)`).
pub fn list_executions(
    c: &Connection,
    state_machine_arn: &str,
    status: Option<&str>,
    redriven: Option<bool>,
    before_seq: Option<i64>,
    limit: usize,
) -> Result<Vec<ExecutionRow>, StorageError> {
    let sql = format!(
        "SELECT {EX_COLUMNS} FROM sfn_executions WHERE state_machine_arn = ?1 AND (?2 IS NULL OR status = ?2) \
         AND (?5 IS NULL OR (redrive_count > 0) = ?5) AND seq < ?3 ORDER BY seq DESC LIMIT ?4"
    );
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt.query_map(
        params![state_machine_arn, status, before_seq.unwrap_or(i64::MAX), limit as i64, redriven],
        ex_from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Inserts a new execution with its first step, unless one with that ARN exists.
pub fn insert_execution(c: &mut Connection, row: &ExecutionRow, step: &Step) -> Result<Inserted, StorageError> {
    let tx = c.transaction()?;
    let existing = {
        let sql = format!("SELECT {EX_COLUMNS} FROM sfn_executions WHERE arn = ?1");
        tx.query_row(&sql, [&row.arn], ex_from_row).optional()?
    };
    if let Some(existing) = existing {
        return Ok(Inserted::Existing(Box::new(existing)));
    }
    tx.execute(
        "INSERT INTO sfn_executions (arn, state_machine_arn, name, status, input, start_ms, redrive_count, \
         definition, role_arn, revision_id, snapshot) VALUES (?1, ?2, ?3, 'RUNNING', ?4, ?5, 0, ?6, ?7, ?8, ?9)",
        params![
            row.arn,
            row.state_machine_arn,
            row.name,
            row.input,
            row.start_ms,
            row.definition,
            row.role_arn,
            row.revision_id,
            step.snapshot
        ],
    )?;
    write_step(&tx, &row.arn, step)?;
    tx.commit()?;
    Ok(Inserted::New)
}

/// Makes one step of an execution durable.
pub fn commit_step(c: &mut Connection, arn: &str, step: &Step) -> Result<(), StorageError> {
    let tx = c.transaction()?;
    tx.execute("UPDATE sfn_executions SET snapshot = ?2 WHERE arn = ?1", params![arn, step.snapshot])?;
    write_step(&tx, arn, step)?;
    tx.commit()?;
    Ok(())
}

fn write_step(tx: &Transaction<'_>, arn: &str, step: &Step) -> Result<(), StorageError> {
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO sfn_events (execution_arn, id, previous_event_id, timestamp_ms, type, details) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for e in &step.events {
            insert.execute(params![
                arn,
                e.id as i64,
                e.previous_event_id as i64,
                e.timestamp_ms,
                e.event_type,
                e.details.as_ref().map(|d| d.to_string())
            ])?;
        }
    }
    {
        let mut delete = tx.prepare_cached("DELETE FROM sfn_pending WHERE execution_arn = ?1 AND id = ?2")?;
        for id in &step.remove {
            delete.execute(params![arn, id])?;
        }
    }
    {
        let mut add = tx.prepare_cached(
            "INSERT OR REPLACE INTO sfn_pending (execution_arn, id, kind, resource, parameters, timeout_seconds, \
             heartbeat_seconds, fire_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for p in &step.add {
            match p {
                Pending::Task { id, resource, parameters, timeout_seconds, heartbeat_seconds } => {
                    add.execute(params![
                        arn,
                        id,
                        "task",
                        resource,
                        parameters.to_string(),
                        timeout_seconds.map(|t| t as i64),
                        heartbeat_seconds.map(|t| t as i64),
                        None::<i64>
                    ])?
                }
                Pending::Timer { id, fire_at_ms } => add.execute(params![
                    arn,
                    id,
                    "timer",
                    None::<String>,
                    None::<String>,
                    None::<i64>,
                    None::<i64>,
                    fire_at_ms
                ])?,
            };
        }
    }
    if let Some(s) = &step.status {
        tx.execute(
            "UPDATE sfn_executions SET status = ?2, output = ?3, error = ?4, cause = ?5, stop_ms = ?6 WHERE arn = ?1",
            params![arn, s.status, s.output, s.error, s.cause, s.stop_ms],
        )?;
        if s.status != "RUNNING" {
            tx.execute("DELETE FROM sfn_pending WHERE execution_arn = ?1", [arn])?;
        }
    }
    Ok(())
}

/// A closed execution as a redrive needs it.
pub struct Snapshot {
    pub status: String,
    pub redrive_count: i64,
    /// The interpreter's state (without the definition).
    pub snapshot: String,
    /// The definition's text the execution started with.
    pub definition: String,
}

/// An execution's status, redrive count, interpreter snapshot and definition.
pub fn snapshot(c: &Connection, arn: &str) -> Result<Option<Snapshot>, StorageError> {
    Ok(c.query_row(
        "SELECT status, redrive_count, snapshot, definition FROM sfn_executions WHERE arn = ?1",
        [arn],
        |r| Ok(Snapshot { status: r.get(0)?, redrive_count: r.get(1)?, snapshot: r.get(2)?, definition: r.get(3)? }),
    )
    .optional()?)
}

/// Commits a redrive: the execution is RUNNING again (or closed again, when the redriven
/// state fails at once), its count goes up, and the step is written. `false` when the
/// execution is no longer closed with `redrive_count` (another redrive won).
pub fn commit_redrive(
    c: &mut Connection,
    arn: &str,
    redrive_count: i64,
    now_ms: i64,
    client_token: Option<&str>,
    step: &Step,
) -> Result<bool, StorageError> {
    let tx = c.transaction()?;
    let changed = tx.execute(
        "UPDATE sfn_executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL, stop_ms = NULL, \
         redrive_count = redrive_count + 1, redrive_ms = ?2, snapshot = ?3 \
         WHERE arn = ?1 AND status IN ('FAILED', 'TIMED_OUT', 'ABORTED') AND redrive_count = ?4",
        params![arn, now_ms, step.snapshot, redrive_count],
    )?;
    if changed == 0 {
        return Ok(false);
    }
    write_step(&tx, arn, step)?;
    if let Some(token) = client_token {
        // AWS answers the last 10 tokens of a successful redrive idempotently.
        tx.execute(
            "INSERT OR REPLACE INTO sfn_redrive_tokens (execution_arn, token, redrive_ms) VALUES (?1, ?2, ?3)",
            params![arn, token, now_ms],
        )?;
        tx.execute(
            "DELETE FROM sfn_redrive_tokens WHERE execution_arn = ?1 AND token NOT IN \
             (SELECT token FROM sfn_redrive_tokens WHERE execution_arn = ?1 ORDER BY redrive_ms DESC LIMIT 10)",
            [arn],
        )?;
    }
    tx.commit()?;
    Ok(true)
}

/// How long AWS honours a redrive's client token.
pub const REDRIVE_TOKEN_MS: i64 = 15 * 60 * 1000;

/// When a redrive with this client token happened, if it is one of the execution's last
/// 10 and is younger than 15 minutes: the same request again is answered with that date.
pub fn redrive_by_token(c: &Connection, arn: &str, token: &str, now_ms: i64) -> Result<Option<i64>, StorageError> {
    Ok(c.query_row(
        "SELECT redrive_ms FROM sfn_redrive_tokens WHERE execution_arn = ?1 AND token = ?2 AND redrive_ms > ?3",
        params![arn, token, now_ms - REDRIVE_TOKEN_MS],
        |r| r.get(0),
    )
    .optional()?)
}

/// How many executions are open (RUNNING), for AWS's open-executions quota.
pub fn open_executions(c: &Connection) -> Result<i64, StorageError> {
    Ok(c.query_row("SELECT COUNT(*) FROM sfn_executions WHERE status = 'RUNNING'", [], |r| r.get(0))?)
}

/// A running execution to resume: its snapshot, definition and outstanding commands.
pub struct Resumable {
    pub arn: String,
    pub snapshot: String,
    pub definition: String,
    pub pending: Vec<Pending>,
    pub last_event_id: u64,
}

pub fn running_executions(c: &Connection) -> Result<Vec<Resumable>, StorageError> {
    let mut stmt =
        c.prepare("SELECT arn, snapshot, definition FROM sfn_executions WHERE status = 'RUNNING' ORDER BY seq")?;
    let rows: Vec<(String, String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
    let mut pending_stmt = c.prepare(
        "SELECT id, kind, resource, parameters, timeout_seconds, heartbeat_seconds, fire_at_ms FROM sfn_pending \
         WHERE execution_arn = ?1",
    )?;
    let mut last_stmt = c.prepare("SELECT COALESCE(MAX(id), 0) FROM sfn_events WHERE execution_arn = ?1")?;
    let mut out = Vec::new();
    for (arn, snapshot, definition) in rows {
        let pending = pending_stmt
            .query_map([&arn], |r| {
                let id: String = r.get(0)?;
                let kind: String = r.get(1)?;
                Ok(if kind == "task" {
                    Pending::Task {
                        id,
                        resource: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        parameters: json_col(r.get(3)?),
                        timeout_seconds: opt_u64(r.get(4)?),
                        heartbeat_seconds: opt_u64(r.get(5)?),
                    }
                } else {
                    Pending::Timer { id, fire_at_ms: r.get::<_, Option<i64>>(6)?.unwrap_or(0) }
                })
            })?
            .collect::<Result<_, _>>()?;
        let last: i64 = last_stmt.query_row([&arn], |r| r.get(0))?;
        out.push(Resumable { arn, snapshot, definition, pending, last_event_id: u64::try_from(last).unwrap_or(0) });
    }
    Ok(out)
}

/// History events of an execution in id order, from `from_id` (inclusive) going forward or
/// backward, at most `limit`.
pub fn history(
    c: &Connection,
    arn: &str,
    from_id: Option<u64>,
    reverse: bool,
    limit: usize,
) -> Result<Vec<HistoryEvent>, StorageError> {
    let sql = if reverse {
        "SELECT id, previous_event_id, timestamp_ms, type, details FROM sfn_events WHERE execution_arn = ?1 \
         AND id <= ?2 ORDER BY id DESC LIMIT ?3"
    } else {
        "SELECT id, previous_event_id, timestamp_ms, type, details FROM sfn_events WHERE execution_arn = ?1 \
         AND id >= ?2 ORDER BY id ASC LIMIT ?3"
    };
    let from = match (from_id, reverse) {
        (Some(id), _) => i64::try_from(id).unwrap_or(i64::MAX),
        (None, true) => i64::MAX,
        (None, false) => 0,
    };
    let mut stmt = c.prepare(sql)?;
    let rows = stmt.query_map(params![arn, from, limit as i64], |r| {
        Ok(HistoryEvent {
            id: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
            previous_event_id: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            timestamp_ms: r.get(2)?,
            event_type: r.get(3)?,
            details: r.get::<_, Option<String>>(4)?.and_then(|d| serde_json::from_str(&d).ok()),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks an execution that cannot be resumed as failed, with a closing history event, so
/// it never stays RUNNING forever.
pub fn fail_unresumable(
    c: &mut Connection,
    arn: &str,
    last_event_id: u64,
    now_ms: i64,
    cause: &str,
) -> Result<(), StorageError> {
    let event = HistoryEvent {
        id: last_event_id + 1,
        previous_event_id: last_event_id,
        timestamp_ms: now_ms,
        event_type: "ExecutionFailed".into(),
        details: Some(serde_json::json!({"error": "States.Runtime", "cause": cause})),
    };
    let step = Step {
        events: vec![event],
        snapshot: String::new(),
        status: Some(StatusUpdate {
            status: "FAILED",
            output: None,
            error: Some("States.Runtime".into()),
            cause: Some(cause.into()),
            stop_ms: Some(now_ms),
        }),
        add: Vec::new(),
        remove: Vec::new(),
    };
    let tx = c.transaction()?;
    write_step(&tx, arn, &step)?;
    tx.commit()?;
    Ok(())
}
