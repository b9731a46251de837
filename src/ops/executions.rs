//! Executions: the list with filters and each one's outcome, user and photo; one
//! execution's detail; finding one by name or ARN; rerun, redrive and stop.

use std::sync::Arc;

use aws_sdk_sfn::types::ExecutionStatus;
use futures::StreamExt;
use serde_json::Value;

use super::failure::Verdict;
use super::history::{HistoryRow, format_time, history_rows};
use super::{Ops, OpsError, Result};

/// Which executions a list shows.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE (any case).
    pub status: Option<String>,
    /// A state machine name, e.g. RiderPhotoProcessing-4.
    pub machine: Option<String>,
    /// Newest first; at most this many (0: all).
    pub limit: usize,
}

/// One execution in a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    pub name: String,
    pub state_machine: String,
    pub status: String,
    pub started: String,
    /// "1.2 s" for a finished execution; empty while it runs.
    pub duration: String,
    pub arn: String,
    /// The rider's user id and the photo's key from the workshop's input; empty when the
    /// input is not the workshop's.
    pub user: String,
    pub photo: String,
    /// How it came out; `None` when its history could not be read (shown as unknown).
    pub verdict: Option<Verdict>,
}

impl ExecutionRow {
    /// The outcome in words, "unknown" when it could not be read.
    pub fn outcome(&self) -> String {
        self.verdict.as_ref().map(Verdict::summary).unwrap_or_else(|| "unknown".into())
    }
}

/// An opened execution: its history and the definition it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDetail {
    pub arn: String,
    pub name: String,
    pub status: String,
    pub state_machine: String,
    pub events: Vec<HistoryRow>,
    pub definition: Option<Value>,
}

impl ExecutionDetail {
    pub fn verdict(&self) -> Verdict {
        Verdict::of(&self.status, &self.events)
    }

    pub fn input(&self) -> Option<&Value> {
        self.events.iter().find(|e| e.kind == "ExecutionStarted").map(|e| &e.json["input"])
    }
}

/// What a finished execution's history says, read once: it never changes (until a redrive,
/// which changes its status and redrive count, the cache's key).
#[derive(Debug)]
pub(super) struct Facts {
    status: String,
    redrive_count: i32,
    pub(super) input: Value,
    pub(super) verdict: Verdict,
    /// The FaceIds its tasks returned, with the event's time.
    pub(super) indexed: Vec<(String, String)>,
}

const STATUSES: [&str; 6] = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];

/// An execution as ListExecutions gives it, before its facts are read.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    pub(super) row: ExecutionRow,
    start: aws_smithy_types::DateTime,
    redrive_count: i32,
}

impl Ops {
    /// Every execution the filter lets through, newest first, without their facts.
    pub(super) async fn listed(&self, filter: &ExecutionFilter) -> Result<Vec<Listed>> {
        let status = match &filter.status {
            Some(s) => {
                let upper = s.to_ascii_uppercase();
                if !STATUSES.contains(&upper.as_str()) {
                    return Err(OpsError::BadStatus(s.clone()));
                }
                Some(ExecutionStatus::from(upper.as_str()))
            }
            None => None,
        };
        let sfn = &self.clients.sfn;
        let mut machines = Vec::new();
        let mut pages = sfn.list_state_machines().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| OpsError::call("listing the state machines", &e))?;
            machines.extend(page.state_machines().iter().cloned());
        }
        if let Some(wanted) = &filter.machine {
            machines.retain(|m| m.name() == wanted || m.state_machine_arn() == wanted);
            if machines.is_empty() {
                return Err(OpsError::NoSuchStateMachine(wanted.clone()));
            }
        }
        let mut listed = Vec::new();
        for machine in &machines {
            let mut pages = sfn
                .list_executions()
                .state_machine_arn(machine.state_machine_arn())
                .set_status_filter(status.clone())
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| OpsError::call(format!("listing the executions of {}", machine.name()), &e))?;
                for e in page.executions() {
                    let duration = e
                        .stop_date()
                        .map(|stop| format!("{:.1} s", (stop.as_secs_f64() - e.start_date().as_secs_f64()).max(0.0)))
                        .unwrap_or_default();
                    listed.push(Listed {
                        row: ExecutionRow {
                            name: e.name().to_string(),
                            state_machine: machine.name().to_string(),
                            status: e.status().as_str().to_string(),
                            started: format_time(Some(e.start_date())),
                            duration,
                            arn: e.execution_arn().to_string(),
                            user: String::new(),
                            photo: String::new(),
                            verdict: None,
                        },
                        start: *e.start_date(),
                        redrive_count: e.redrive_count().unwrap_or_default(),
                    });
                }
            }
        }
        listed.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| b.row.name.cmp(&a.row.name)));
        if filter.limit > 0 {
            listed.truncate(filter.limit);
        }
        Ok(listed)
    }

    /// Executions newest first, filtered, each with its user, photo and outcome.
    pub async fn executions(&self, filter: &ExecutionFilter) -> Result<Vec<ExecutionRow>> {
        let listed = self.listed(filter).await?;
        Ok(self.with_facts(listed).await.into_iter().map(|(row, _)| row).collect())
    }

    /// Reads each execution's facts (a few at a time; finished ones from the cache) and
    /// fills in the row.
    pub(super) async fn with_facts(&self, listed: Vec<Listed>) -> Vec<(ExecutionRow, Option<Arc<Facts>>)> {
        futures::stream::iter(listed)
            .map(|l| async move {
                let facts = self.facts(&l).await.ok();
                let mut row = l.row;
                if let Some(f) = &facts {
                    row.user = f.input["userId"].as_str().unwrap_or_default().to_string();
                    row.photo = f.input["s3Key"].as_str().unwrap_or_default().to_string();
                    row.verdict = Some(f.verdict.clone());
                }
                (row, facts)
            })
            .buffered(8)
            .collect()
            .await
    }

    async fn facts(&self, listed: &Listed) -> Result<Arc<Facts>> {
        let row = &listed.row;
        let cached = self.finished.lock().ok().and_then(|c| c.get(&row.arn).cloned());
        if let Some(facts) = cached.filter(|f| f.status == row.status && f.redrive_count == listed.redrive_count) {
            return Ok(facts);
        }
        let events = self.history(&row.arn).await?;
        let facts = Arc::new(Facts {
            status: row.status.clone(),
            redrive_count: listed.redrive_count,
            input: events
                .iter()
                .find(|e| e.kind == "ExecutionStarted")
                .map(|e| e.json["input"].clone())
                .unwrap_or_default(),
            verdict: Verdict::of(&row.status, &events),
            indexed: events
                .iter()
                .filter(|e| e.kind == "LambdaFunctionSucceeded" || e.kind == "TaskSucceeded")
                .filter_map(|e| Some((e.json["output"]["FaceId"].as_str()?.to_string(), e.time.clone())))
                .collect(),
        });
        let finished = !matches!(row.status.as_str(), "RUNNING" | "PENDING_REDRIVE");
        if finished && let Ok(mut cache) = self.finished.lock() {
            cache.insert(row.arn.clone(), facts.clone());
        }
        Ok(facts)
    }

    /// Every page of an execution's history, as rows.
    pub async fn history(&self, arn: &str) -> Result<Vec<HistoryRow>> {
        let mut events = Vec::new();
        let mut pages = self.clients.sfn.get_execution_history().execution_arn(arn).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| OpsError::call(format!("reading the history of {}", short(arn)), &e))?;
            events.extend(page.events().iter().cloned());
        }
        Ok(history_rows(&events))
    }

    /// An execution's ARN from its ARN or its name (names are unique per state machine; a
    /// name found under several machines must be given as an ARN).
    pub async fn find_execution(&self, name_or_arn: &str) -> Result<String> {
        if name_or_arn.starts_with("arn:") {
            return match self.clients.sfn.describe_execution().execution_arn(name_or_arn).send().await {
                Ok(_) => Ok(name_or_arn.to_string()),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => {
                    Err(OpsError::NoSuchExecution(name_or_arn.to_string()))
                }
                Err(e) => Err(OpsError::call(format!("reading {name_or_arn}"), &e)),
            };
        }
        let listed = self.listed(&ExecutionFilter::default()).await?;
        let found: Vec<&ExecutionRow> = listed.iter().map(|l| &l.row).filter(|r| r.name == name_or_arn).collect();
        match found.as_slice() {
            [one] => Ok(one.arn.clone()),
            [] => Err(OpsError::NoSuchExecution(name_or_arn.to_string())),
            many => Err(OpsError::AmbiguousExecution {
                name: name_or_arn.to_string(),
                count: many.len(),
                machines: many.iter().map(|r| r.state_machine.as_str()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    async fn describe(&self, arn: &str) -> Result<aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput> {
        self.clients
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| OpsError::call(format!("reading {}", short(arn)), &e))
    }

    /// The execution, its history and the definition it ran.
    pub async fn execution_detail(&self, arn: &str) -> Result<ExecutionDetail> {
        let sfn = &self.clients.sfn;
        let described = self.describe(arn).await?;
        let events = self.history(arn).await?;
        let definition = match sfn.describe_state_machine_for_execution().execution_arn(arn).send().await {
            Ok(d) => serde_json::from_str(d.definition()).ok(),
            Err(_) => None,
        };
        Ok(ExecutionDetail {
            arn: arn.to_string(),
            name: described.name().unwrap_or_default().to_string(),
            status: described.status().as_str().to_string(),
            state_machine: described.state_machine_arn().rsplit(':').next().unwrap_or_default().to_string(),
            events,
            definition,
        })
    }

    /// Starts the same state machine again with the same input; the new execution's ARN.
    pub async fn rerun(&self, arn: &str) -> Result<Rerun> {
        let sfn = &self.clients.sfn;
        let described = self.describe(arn).await?;
        let machine = described.state_machine_arn().to_string();
        let started = sfn
            .start_execution()
            .state_machine_arn(&machine)
            .set_input(described.input().map(str::to_string))
            .send()
            .await
            .map_err(|e| OpsError::call(format!("rerunning {}", short(arn)), &e))?;
        Ok(Rerun {
            original: described.name().unwrap_or_else(|| short(arn)).to_string(),
            arn: started.execution_arn().to_string(),
            machine: machine.rsplit(':').next().unwrap_or_default().to_string(),
            input: described.input().unwrap_or("{}").to_string(),
        })
    }

    /// Resumes a failed execution from the state that failed. Returns the last event id
    /// before the redrive, so a follower narrates only what the redrive does.
    pub async fn redrive(&self, arn: &str) -> Result<Redrive> {
        let before = self.history(arn).await?.last().map(|e| e.id).unwrap_or_default();
        self.clients
            .sfn
            .redrive_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| OpsError::call(format!("redriving {}", short(arn)), &e))?;
        Ok(Redrive { arn: arn.to_string(), name: short(arn).to_string(), after_event: before })
    }

    pub async fn stop(&self, arn: &str) -> Result<()> {
        self.clients
            .sfn
            .stop_execution()
            .execution_arn(arn)
            .error("Stopped")
            .cause("Stopped by an operator with wildrydes")
            .send()
            .await
            .map(|_| ())
            .map_err(|e| OpsError::call(format!("stopping {}", short(arn)), &e))
    }
}

/// An execution followed to its end: how it ended, and its verdict.
#[derive(Debug, Clone)]
pub struct Followed {
    pub ending: crate::run::Ending,
    pub verdict: Verdict,
}

impl Ops {
    /// Follows an execution from the event after `after_event` to its end, handing each new
    /// event to `on_event`, then decides its verdict from the whole history.
    pub async fn follow(
        &self,
        arn: &str,
        after_event: i64,
        on_event: &mut (dyn FnMut(&aws_sdk_sfn::types::HistoryEvent) + Send),
    ) -> Result<Followed> {
        let ending = crate::run::follow_after(&self.clients, arn, after_event, on_event)
            .await
            .map_err(|e| OpsError::Other(format!("{e:#}")))?;
        let events = self.history(arn).await?;
        let verdict = Verdict::of(&ending.status, &events);
        Ok(Followed { ending, verdict })
    }
}

/// A rerun started.
#[derive(Debug, Clone, PartialEq)]
pub struct Rerun {
    /// The name of the execution rerun.
    pub original: String,
    /// The new execution's ARN.
    pub arn: String,
    pub machine: String,
    pub input: String,
}

impl Rerun {
    pub fn name(&self) -> &str {
        short(&self.arn)
    }
}

/// A redrive started.
#[derive(Debug, Clone, PartialEq)]
pub struct Redrive {
    pub arn: String,
    pub name: String,
    /// The last event of the history before the redrive.
    pub after_event: i64,
}

/// The name at the end of an ARN.
pub fn short(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}
