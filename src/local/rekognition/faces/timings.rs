//! Where a photo's analysis spends its time, stage by stage (decode, each model, the
//! warps that feed them), so the next person sees it without a profiler. Off unless a
//! caller asks with [`measure`] on its own thread: the service pays one thread-local check
//! per stage, never a clock read. It touches nothing but its thread-local record.

use std::cell::RefCell;
use std::time::{Duration, Instant};

/// A stage of the analysis. `Warp` is every crop, window and letterbox sampled for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Decode,
    Warp,
    BlazeFace,
    MoveNet,
    FaceMesh,
    Iris,
    Dlib,
}

impl Stage {
    pub const ALL: [Stage; 7] =
        [Stage::Decode, Stage::Warp, Stage::BlazeFace, Stage::MoveNet, Stage::FaceMesh, Stage::Iris, Stage::Dlib];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Warp => "warps",
            Stage::BlazeFace => "BlazeFace",
            Stage::MoveNet => "MoveNet",
            Stage::FaceMesh => "Face Mesh",
            Stage::Iris => "Iris",
            Stage::Dlib => "dlib",
        }
    }
}

/// Time and calls per stage of one measured piece of work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageTimes {
    spent: [Duration; Stage::ALL.len()],
    calls: [u32; Stage::ALL.len()],
    /// The whole measured work, stages and everything between them.
    pub total: Duration,
}

impl StageTimes {
    pub fn spent(&self, stage: Stage) -> Duration {
        self.spent[stage as usize]
    }

    pub fn calls(&self, stage: Stage) -> u32 {
        self.calls[stage as usize]
    }

    /// What no stage accounts for: the pipeline's own logic (NMS, geometry, statistics).
    pub fn rest(&self) -> Duration {
        self.total.saturating_sub(self.spent.iter().sum())
    }
}

thread_local! {
    static RECORD: RefCell<Option<StageTimes>> = const { RefCell::new(None) };
}

/// Runs `work` on this thread with every stage inside it timed.
pub fn measure<R>(work: impl FnOnce() -> R) -> (R, StageTimes) {
    let outer = RECORD.with(|r| r.borrow_mut().replace(StageTimes::default()));
    let started = Instant::now();
    let out = work();
    let total = started.elapsed();
    let mut times = RECORD.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer)).unwrap_or_default();
    times.total = total;
    (out, times)
}

/// Runs `work` as one call of `stage`, timed when this thread is measuring.
pub fn timed<R>(stage: Stage, work: impl FnOnce() -> R) -> R {
    if !RECORD.with(|r| r.borrow().is_some()) {
        return work();
    }
    let started = Instant::now();
    let out = work();
    let took = started.elapsed();
    RECORD.with(|r| {
        if let Some(times) = r.borrow_mut().as_mut() {
            times.spent[stage as usize] += took;
            times.calls[stage as usize] += 1;
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_recorded_only_inside_measure() {
        timed(Stage::Iris, || ());
        let ((), times) = measure(|| {
            timed(Stage::Warp, || std::thread::sleep(Duration::from_millis(2)));
            timed(Stage::Warp, || ());
        });
        assert_eq!(times.calls(Stage::Warp), 2);
        assert_eq!(times.calls(Stage::Iris), 0, "a call outside measure is not counted");
        assert!(times.spent(Stage::Warp) >= Duration::from_millis(2));
        assert!(times.total >= times.spent(Stage::Warp));
    }
}
