//! The Wait state: Seconds, Timestamp, SecondsPath or TimestampPath become one timer, with
//! AWS's runtime errors for a path that reads nothing, a negative or unparsable value, or a
//! delay past AWS's longest; the state leaves when its timer fires.
//!
//! May touch: the waiting thread and its timer.

use serde_json::Value;

use super::super::choice;
use super::super::definition::{State, Wait};
use super::super::path::{self, Scope};
use super::super::{Failure, to_json_text};
use super::{Execution, Phase, StateInput, Step, TimerKind};

/// The longest Wait AWS accepts: a signed 32-bit number of seconds (about 24855 days).
const MAX_WAIT_SECONDS: i64 = i32::MAX as i64;

impl Execution {
    pub(super) fn execute_wait(
        &mut self,
        tid: u32,
        state: &State,
        wait: &Wait,
        input: &StateInput<'_>,
    ) -> Result<Step, Failure> {
        let now = self.now;
        let fire_at = wait_until(wait, input.escope, now)?;
        if fire_at.saturating_sub(now) > MAX_WAIT_SECONDS * 1000 {
            return Err(Failure::runtime("Wait state delay is too long."));
        }
        let out = path::apply_io_path(input.effective, &state.output_path, input.scope)?;
        let timer = self.arm_timer("wait", tid, TimerKind::Wait, fire_at.max(now));
        self.set_phase(tid, Phase::AwaitTimer { timer, output: out });
        Ok(Step::Blocked)
    }

    /// The Wait's timer fired: the state leaves with the output it computed on entry.
    pub(super) fn wait_elapsed(&mut self, tid: u32) {
        if let Some(Phase::AwaitTimer { output, .. }) = self.threads.get(&tid).map(|t| t.phase.clone()) {
            let next = self.state_of(tid).and_then(|(_, s)| s.next.clone());
            self.set_phase(tid, Phase::Exit { output, next });
            self.queue.push_back(tid);
        }
    }
}

/// When the Wait ends, in epoch milliseconds.
fn wait_until(wait: &Wait, escope: &Scope<'_>, now: i64) -> Result<i64, Failure> {
    Ok(match wait {
        Wait::Seconds(s) => now.saturating_add((*s as i64).saturating_mul(1000)),
        Wait::Timestamp(ts) => timestamp_ms(ts).unwrap_or(now),
        Wait::SecondsPath(p) => {
            let v = path::query_scope(escope, p).map_err(|_| {
                Failure::runtime(format!("The SecondsPath parameter does not reference an input value: {p}"))
            })?;
            let shown = to_json_text(&v);
            let secs = match &v {
                Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|_| i64::MAX)),
                _ => None,
            };
            let Some(secs) = secs else {
                return Err(Failure::runtime(format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {p} == {shown}"
                )));
            };
            if secs < 0 {
                return Err(Failure::runtime(format!(
                    "The SecondsPath parameter references a negative value: {p} == {shown}"
                )));
            }
            if secs > MAX_WAIT_SECONDS {
                return Err(Failure::runtime("Wait state delay is too long."));
            }
            now.saturating_add(secs.saturating_mul(1000))
        }
        Wait::TimestampPath(p) => {
            let v = path::query_scope(escope, p).map_err(|_| {
                Failure::runtime(format!("The TimestampPath parameter does not reference an input value: {p}"))
            })?;
            let shown = v.as_str().map(str::to_string).unwrap_or_else(|| to_json_text(&v));
            match v.as_str().and_then(timestamp_ms) {
                Some(ms) => ms,
                None => {
                    return Err(Failure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {shown}"
                    )));
                }
            }
        }
    })
}

fn timestamp_ms(s: &str) -> Option<i64> {
    choice::parse_timestamp(s).map(|n| (n / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{reload, start, timers, types};
    use super::super::{Event, ExecutionStatus};

    #[test]
    fn wait_arms_a_timer_and_state_survives_serialisation() {
        let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "Next": "D"}, "D": {"Type": "Succeed"}}});
        let (ex, _, cmds) = start(def, json!({"k": 1}));
        let (timer, at) = timers(&cmds)[0].clone();
        assert_eq!(at, 61_000);
        let mut restored = reload(&ex);
        let (events, _) = restored.on(Event::TimerFired { id: timer }, at);
        assert_eq!(
            types(&events),
            ["WaitStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]
        );
        assert_eq!(events[0].id, 3);
        assert_eq!(restored.status(), &ExecutionStatus::Succeeded { output: json!({"k": 1}) });
    }
}
