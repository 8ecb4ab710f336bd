//! How many of libtorch's intra-op threads a decode step uses, chosen while decoding.
//!
//! The binary lets libtorch's OpenMP workers spin briefly between ops (`GOMP_SPINCOUNT`, see
//! `main.rs`): a decode step is ~400 short parallel regions, and workers that sleep between
//! them pay a wake-up on each. But a spinning worker that loses its core — to another
//! process, or to the TUI's own thread — stalls every op it joins, and a step becomes many
//! times slower, where fewer threads would not notice the load.
//!
//! So with the default thread count every single-token forward is timed: [`STALL_STEPS`]
//! steps in a row more than [`SLOW`]× the recent median halve the thread count at once (one
//! slow step is a hiccup, not load), and every [`INTERVAL`] steps
//! a probe runs [`PROBE_STEPS`] steps at the next count up (or, at the full count, half of
//! it) and keeps it when it is faster; a probe that loses doubles the interval (up to
//! [`MAX_INTERVAL`]), one that stalls is cut short after a single step. `--threads N` pins
//! the count instead.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::decode::math::median;

/// A step this many times slower than the recent median means the cores are contended.
pub const SLOW: f64 = 2.5;
/// Slow steps in a row that mean the cores are contended.
pub const STALL_STEPS: u32 = 2;
/// Steps between probes of the other thread count, at first.
pub const INTERVAL: u32 = 32;
/// The longest interval between probes.
pub const MAX_INTERVAL: u32 = 1024;
/// Steps a probe runs (unless its first step stalls).
pub const PROBE_STEPS: usize = 3;
/// Recent steps the medians are taken over.
const WINDOW: usize = 8;

/// The governor's state; `None` when the thread count is pinned.
static GOVERNOR: Mutex<Option<Governor>> = Mutex::new(None);

/// Lets the governor choose between one and `max` threads (no effect when `max` ≤ 1).
pub fn govern(max: i32) {
    tch::set_num_threads(max.max(1));
    let g = (max > 1).then(|| Governor::new(max));
    if let Ok(mut slot) = GOVERNOR.lock() {
        *slot = g;
    }
}

/// Fixes the thread count at `n` (`--threads N`): no governor.
pub fn pin(n: i32) {
    if let Ok(mut slot) = GOVERNOR.lock() {
        *slot = None;
    }
    tch::set_num_threads(n.max(1));
}

/// Reports the wall time of a single-token forward of the model identified by `model`
/// (timings of different models are never compared); may change the thread count.
pub(crate) fn observe(model: usize, ms: f64) {
    let Ok(mut slot) = GOVERNOR.lock() else {
        return;
    };
    if let Some(g) = slot.as_mut() {
        if let Some(threads) = g.observe(model, ms) {
            tch::set_num_threads(threads);
        }
    }
}

/// Whether the governor is choosing the thread count.
pub fn governed() -> bool {
    GOVERNOR.lock().is_ok_and(|g| g.is_some())
}

/// A probe of the other thread count.
#[derive(Debug, Clone)]
struct Probe {
    /// The count to go back to.
    from: i32,
    /// Median step at `from` before the probe.
    baseline: f64,
    samples: Vec<f64>,
}

/// The decision rule, free of libtorch (tested on made-up timings).
#[derive(Debug, Clone)]
pub struct Governor {
    max: i32,
    threads: i32,
    model: usize,
    recent: VecDeque<f64>,
    until_probe: u32,
    interval: u32,
    probe: Option<Probe>,
    /// Slow steps in a row so far.
    slow: u32,
}

impl Governor {
    /// Starts at `max` threads.
    pub fn new(max: i32) -> Self {
        Governor {
            max,
            threads: max,
            model: 0,
            recent: VecDeque::new(),
            until_probe: INTERVAL,
            interval: INTERVAL,
            probe: None,
            slow: 0,
        }
    }

    /// The thread count in force.
    pub fn threads(&self) -> i32 {
        self.threads
    }

    /// Takes one step's time; returns the new thread count when it changes.
    pub fn observe(&mut self, model: usize, ms: f64) -> Option<i32> {
        if model != self.model {
            // Another model's steps take another time: start the statistics afresh.
            self.model = model;
            self.recent.clear();
            if let Some(p) = self.probe.take() {
                return self.set(p.from);
            }
            return None;
        }
        if let Some(mut p) = self.probe.take() {
            p.samples.push(ms);
            let stalled = ms > SLOW * p.baseline;
            if !stalled && p.samples.len() < PROBE_STEPS {
                self.probe = Some(p);
                return None;
            }
            let won = !stalled && median(&p.samples) < 0.95 * p.baseline;
            self.until_probe = if won {
                self.interval = INTERVAL;
                self.recent = p.samples.into();
                INTERVAL
            } else {
                self.interval = (self.interval * 2).min(MAX_INTERVAL);
                self.interval
            };
            return if won { None } else { self.set(p.from) };
        }
        if self.threads > 1 && self.recent.len() >= WINDOW / 2 && ms > SLOW * self.median() {
            self.slow += 1;
            if self.slow < STALL_STEPS {
                // Kept out of the median: it may be a hiccup.
                return None;
            }
            self.slow = 0;
            self.interval = INTERVAL;
            self.until_probe = INTERVAL;
            // Half the threads may take up to twice as long unloaded; slower still means
            // they stall too, and the next step halves again.
            let expected = 2.0 * self.median();
            self.recent = VecDeque::from(vec![expected; WINDOW / 2]);
            return self.set(self.threads / 2);
        }
        self.slow = 0;
        self.recent.push_back(ms);
        if self.recent.len() > WINDOW {
            self.recent.pop_front();
        }
        self.until_probe = self.until_probe.saturating_sub(1);
        if self.until_probe > 0 || self.recent.len() < WINDOW / 2 {
            return None;
        }
        let other = if self.threads < self.max {
            (self.threads * 2).min(self.max)
        } else {
            self.threads / 2
        };
        self.probe = Some(Probe {
            from: self.threads,
            baseline: self.median(),
            samples: Vec::new(),
        });
        self.set(other)
    }

    fn median(&self) -> f64 {
        median(&self.recent.iter().copied().collect::<Vec<_>>())
    }

    fn set(&mut self, threads: i32) -> Option<i32> {
        (threads != self.threads).then(|| {
            self.threads = threads;
            threads
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds steps whose time depends on the thread count in force; returns the counts used.
    fn run(g: &mut Governor, steps: usize, cost: impl Fn(i32) -> f64) -> Vec<i32> {
        (0..steps)
            .map(|_| {
                let t = g.threads();
                g.observe(1, cost(t));
                t
            })
            .collect()
    }

    /// Whether the last 50 steps ran at `threads`, but for at most one probe.
    fn settled(used: &[i32], threads: i32) -> bool {
        let tail = &used[used.len() - 50..];
        tail.iter().filter(|&&t| t != threads).count() <= PROBE_STEPS
    }

    #[test]
    fn keeps_all_threads_while_they_are_faster() {
        let mut g = Governor::new(2);
        let used = run(&mut g, 400, |t| if t == 2 { 30.0 } else { 38.0 });
        let single = used.iter().filter(|&&t| t == 1).count();
        // Probes only, fewer and fewer of them.
        assert!(
            single > 0 && single <= 3 * 5,
            "{single} single-thread steps"
        );
        assert!(settled(&used, 2));
    }

    #[test]
    fn drops_to_one_thread_when_steps_stall_and_rarely_probes_back() {
        let mut g = Governor::new(2);
        run(&mut g, 20, |t| if t == 2 { 30.0 } else { 38.0 });
        // Another process takes a core: two spinning threads stall.
        let used = run(&mut g, 2000, |t| if t == 2 { 450.0 } else { 39.0 });
        assert_eq!(used[..3], [2, 2, 1], "two slow steps in a row are enough");
        let stalls = used.iter().filter(|&&t| t == 2).count();
        // Each probe stalls once and is cut short; the interval doubles each time.
        assert!(stalls <= 8, "{stalls} steps at two threads under load");
        // The load goes away: a probe finds two threads faster again.
        let used = run(&mut g, 1100, |t| if t == 2 { 30.0 } else { 38.0 });
        assert!(settled(&used, 2));
    }

    #[test]
    fn a_single_slow_step_is_a_hiccup() {
        let mut g = Governor::new(2);
        for i in 0..200 {
            g.observe(1, if i % 20 == 19 { 400.0 } else { 30.0 });
        }
        assert_eq!(g.threads(), 2);
    }

    #[test]
    fn many_cores_halve_under_load_and_climb_back() {
        let mut g = Governor::new(8);
        run(&mut g, 10, |t| 80.0 / f64::from(t));
        // Two other processes: 8 or 4 threads stall, 2 run at full speed.
        let used = run(&mut g, 100, |t| if t > 2 { 500.0 } else { 40.0 });
        assert_eq!(used[..5], [8, 8, 4, 4, 2], "each stall halves the count");
        assert!(settled(&used, 2));
        let used = run(&mut g, 3000, |t| 80.0 / f64::from(t));
        assert!(
            settled(&used, 8),
            "probes climb 2 → 4 → 8 once the load is gone"
        );
    }

    #[test]
    fn another_model_starts_afresh() {
        let mut g = Governor::new(2);
        run(&mut g, 10, |_| 10.0);
        // A model 3× slower is not mistaken for a stall.
        assert_eq!(g.observe(2, 30.0), None);
        for _ in 0..5 {
            assert_eq!(g.observe(2, 30.0), None);
        }
        assert_eq!(g.threads(), 2);
    }

    #[test]
    fn one_core_or_a_pinned_count_is_never_governed() {
        govern(1);
        assert!(!governed());
        pin(1);
        assert!(!governed());
    }
}
