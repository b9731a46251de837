//! A seeded, bounded mutation run over seed corpora: the short hostile-input run of the
//! test suite. Each case takes a seed (or an earlier accepted case), applies a few random
//! edits — byte flips, interesting bytes, tokens from a dictionary, deletions, duplicated
//! runs, splices with another seed — and calls the entry under `catch_unwind`. The same
//! `rng_seed` replays the same cases, so a failure reproduces exactly.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Outcome;

/// One run: which entry, on what seeds, how many cases.
pub struct Campaign<'a> {
    pub name: &'a str,
    pub seeds: Vec<Vec<u8>>,
    /// Fragments the format is made of (`"Type"`, `States.Format(`, `<Key>`…).
    pub dictionary: Vec<&'a [u8]>,
    pub cases: usize,
    pub rng_seed: u64,
    /// Mutated inputs are cut to this many bytes.
    pub max_len: usize,
}

/// What a run did; `failures` holds each input that broke a promise, with the panic message.
#[derive(Debug, Default)]
pub struct Report {
    pub name: String,
    pub cases: usize,
    pub accepted: usize,
    pub refused: usize,
    pub failures: Vec<(Vec<u8>, String)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} cases, {} accepted, {} refused cleanly, {} failures",
            self.name,
            self.cases,
            self.accepted,
            self.refused,
            self.failures.len()
        )
    }
}

/// Bytes that often sit on a parser's edges.
const INTERESTING: &[u8] = b"\0\x01\x7f\x80\xff{}[]()\"',:.$*?@\\<>/=-+09 \n";

/// Accepted cases kept as further seeds, so mutations build on inputs that got deep.
const MAX_POOL: usize = 512;

/// A case running this long is a hang (libFuzzer's `-timeout` as tests/fuzz/run sets it).
const HANG_AFTER: Duration = Duration::from_secs(30);

/// Watches the case in progress; a hang cannot be caught like a panic, so the watchdog
/// prints the input, escaped, and aborts the test process rather than let CI wait forever.
struct Watchdog {
    current: CaseInProgress,
}

/// When the case in progress started, and its input; `None` between cases.
type CaseInProgress = Arc<Mutex<Option<(Instant, Vec<u8>)>>>;

impl Watchdog {
    fn start(name: &str) -> Self {
        let current: CaseInProgress = Arc::default();
        let watched = Arc::downgrade(&current);
        let name = name.to_string();
        std::thread::spawn(move || {
            while let Some(current) = watched.upgrade() {
                if let Some((started, input)) = current.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
                    && started.elapsed() > HANG_AFTER
                {
                    eprintln!(
                        "{name}: one input ran over {} s, a hang:\n    input: b\"{}\"",
                        HANG_AFTER.as_secs(),
                        input.escape_ascii()
                    );
                    std::process::abort();
                }
                drop(current);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Self { current }
    }

    fn begin(&self, input: &[u8]) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), input.to_vec()));
    }

    fn end(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

pub fn run(campaign: &Campaign<'_>, entry: impl Fn(&[u8]) -> Outcome) -> Report {
    let watchdog = Watchdog::start(campaign.name);
    let mut rng = fastrand::Rng::with_seed(campaign.rng_seed);
    let mut pool: Vec<Vec<u8>> = campaign.seeds.clone();
    let mut report = Report { name: campaign.name.to_string(), ..Report::default() };
    // The hook would print every caught panic; failures are reported together instead.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for case in 0..campaign.cases {
        // The seeds themselves first, unmutated.
        let input = match campaign.seeds.get(case) {
            Some(seed) => seed.clone(),
            None => mutate(&mut rng, &pool, campaign),
        };
        report.cases += 1;
        watchdog.begin(&input);
        let outcome = catch_unwind(AssertUnwindSafe(|| entry(&input)));
        watchdog.end();
        match outcome {
            Ok(Outcome::Accepted) => {
                report.accepted += 1;
                if pool.len() < MAX_POOL {
                    pool.push(input);
                } else {
                    let i = rng.usize(campaign.seeds.len()..MAX_POOL.max(campaign.seeds.len() + 1));
                    if let Some(slot) = pool.get_mut(i) {
                        *slot = input;
                    }
                }
            }
            Ok(Outcome::Refused) => report.refused += 1,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".into());
                report.failures.push((input, message));
            }
        }
    }
    std::panic::set_hook(hook);
    report
}

fn mutate(rng: &mut fastrand::Rng, pool: &[Vec<u8>], campaign: &Campaign<'_>) -> Vec<u8> {
    let mut data = if pool.is_empty() { Vec::new() } else { pool[rng.usize(..pool.len())].clone() };
    for _ in 0..rng.usize(1..=4) {
        let len = data.len();
        match rng.u8(..8) {
            0 if len > 0 => {
                let i = rng.usize(..len);
                data[i] ^= 1 << rng.u8(..8);
            }
            1 if len > 0 => {
                let i = rng.usize(..len);
                data[i] = INTERESTING[rng.usize(..INTERESTING.len())];
            }
            2 | 3 if !campaign.dictionary.is_empty() => {
                let token = campaign.dictionary[rng.usize(..campaign.dictionary.len())];
                let at = rng.usize(..=len);
                data.splice(at..at, token.iter().copied());
            }
            4 if len > 0 => {
                let start = rng.usize(..len);
                let end = (start + rng.usize(1..=16.min(len - start).max(1))).min(len);
                data.drain(start..end);
            }
            5 if len > 0 => {
                // Repeat a run: deep nesting, long lists and long names come from here.
                let start = rng.usize(..len);
                let end = (start + rng.usize(1..=32)).min(len);
                let run = data[start..end].to_vec();
                let times = rng.usize(1..=64);
                for _ in 0..times {
                    data.splice(start..start, run.iter().copied());
                }
            }
            6 if !pool.is_empty() => {
                let other = &pool[rng.usize(..pool.len())];
                let cut = rng.usize(..=len);
                let from = rng.usize(..=other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            _ => {
                let at = rng.usize(..=len);
                data.insert(at, rng.u8(..));
            }
        }
    }
    data.truncate(campaign.max_len);
    data
}
