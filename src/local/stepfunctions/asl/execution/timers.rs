//! Timers: arming one (a `StartTimer` command the executor carries out), cancelling one,
//! and handing a fired one to the room that armed it — a Wait ends, a Retry runs the state
//! again, a Task times out (TimeoutSeconds or a missed heartbeat), the execution times out.
//!
//! May touch: the execution's timer table and command outbox.

use super::{Command, Execution, TimerKind};

impl Execution {
    /// Arms a timer for a thread (`0` for the execution's own); returns its id.
    pub(super) fn arm_timer(&mut self, prefix: &str, tid: u32, kind: TimerKind, fire_at_ms: i64) -> String {
        let id = self.new_id(prefix);
        self.timers.insert(id.clone(), (tid, kind));
        self.out_commands.push(Command::StartTimer { id: id.clone(), fire_at_ms });
        id
    }

    /// Forgets a timer and tells the executor to cancel it.
    pub(super) fn disarm_timer(&mut self, id: String) {
        self.timers.remove(&id);
        self.out_commands.push(Command::CancelTimer { id });
    }

    /// `secs` seconds after the current time, in epoch milliseconds.
    pub(super) fn seconds_from_now(&self, secs: u64) -> i64 {
        self.now.saturating_add((secs as i64).saturating_mul(1000))
    }

    pub(super) fn timer_fired(&mut self, id: &str) {
        let Some((tid, kind)) = self.timers.remove(id) else { return };
        match kind {
            TimerKind::ExecutionTimeout => self.timed_out(),
            TimerKind::Wait => self.wait_elapsed(tid),
            TimerKind::Retry => self.retry_due(tid),
            TimerKind::TaskTimeout(task) | TimerKind::Heartbeat(task) => self.task_timed_out(tid, &task),
        }
    }
}
