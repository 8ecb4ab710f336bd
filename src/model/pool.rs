//! A few worker threads that split one job (a matrix-vector product, the attention of a
//! step's heads) with the calling thread.
//!
//! A decode step runs ~200 products of 0.02–2 ms each, so the hand-off must cost
//! microseconds: the caller publishes the job and works on it at once, and the workers,
//! between jobs, first poll (yielding the core to anything runnable, so libtorch's own
//! threads never wait on them), then sleep. A general-purpose pool (where the caller waits
//! while the pool works) would add a wake-up on every call.
//!
//! Parts are *claimed*, not assigned: every participant, the caller included, takes the next
//! part nobody has started until none is left. A worker that has lost its core (two cores
//! shared with a UI thread and libtorch's OpenMP threads) therefore delays the caller by at
//! most the one part it holds, not by a fixed share of the job.

use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long an idle worker keeps polling before it sleeps: longer than the gap between two
/// products of a decode step, shorter than anything a person would notice as load.
const POLL: Duration = Duration::from_micros(300);

/// A raw pointer the parts of a job share (each writes only its own elements).
#[derive(Clone, Copy)]
pub(crate) struct Raw(pub *mut std::ffi::c_void);
// SAFETY: the parts of a job write disjoint elements, and the tensors behind the pointer
// outlive the job (`run` returns when every part has finished).
unsafe impl Send for Raw {}
unsafe impl Sync for Raw {}

impl Raw {
    /// The pointer as one to `T`.
    pub(crate) fn get<T>(self) -> *mut T {
        self.0.cast()
    }
}

/// The job of a round: a part index to run, called once per part by whoever claims it.
type Job<'a> = dyn Fn(usize) + Sync + 'a;

/// Bits of the round word: the next unclaimed part, the round's part count, how many workers
/// may take part, and above them the round number.
const PART_BITS: u32 = 10;
const HELPER_BITS: u32 = 8;
const FIELD: u64 = (1 << PART_BITS) - 1;
/// Most parts in one round (a job with more runs on the caller alone).
const MAX_PARTS: usize = FIELD as usize;
/// Most workers.
const MAX_HELPERS: usize = (1 << HELPER_BITS) - 1;

/// One round's state in one word, so that a claim is valid only for the round it was made in.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Word(u64);

impl Word {
    fn new(round: u64, helpers: usize, parts: usize) -> Self {
        Word(
            (round << (2 * PART_BITS + HELPER_BITS))
                | (helpers as u64) << (2 * PART_BITS)
                | (parts as u64) << PART_BITS,
        )
    }
    fn round(self) -> u64 {
        self.0 >> (2 * PART_BITS + HELPER_BITS)
    }
    fn helpers(self) -> usize {
        (self.0 >> (2 * PART_BITS)) as usize & MAX_HELPERS
    }
    fn parts(self) -> usize {
        (self.0 >> PART_BITS & FIELD) as usize
    }
    fn next(self) -> usize {
        (self.0 & FIELD) as usize
    }
}

struct Shared {
    /// The current round (see [`Word`]).
    word: AtomicU64,
    /// Parts of the current round that have finished.
    done: AtomicUsize,
    /// The current round's job: points at the caller's `&Job`, valid while any part of the
    /// round is claimed but not finished (see [`run`]).
    job: AtomicPtr<()>,
}

impl Shared {
    /// Claims the next part of `round`, if that round still has one.
    fn claim(&self, round: u64) -> Option<usize> {
        let mut w = Word(self.word.load(Ordering::SeqCst));
        loop {
            if w.round() != round || w.next() >= w.parts() {
                return None;
            }
            match self
                .word
                .compare_exchange_weak(w.0, w.0 + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Some(w.next()),
                Err(now) => w = Word(now),
            }
        }
    }

    /// Runs parts of `round` until none is left unclaimed.
    fn work_on(&self, round: u64) {
        while let Some(part) = self.claim(round) {
            // SAFETY: a claimed, unfinished part keeps the round open, so `run` has not
            // returned and the pointer is this round's job (set before the round began).
            let job = unsafe { *self.job.load(Ordering::Acquire).cast::<&Job<'static>>() };
            job(part);
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

struct Pool {
    shared: &'static Shared,
    workers: Mutex<Vec<Thread>>,
    /// One caller at a time; another caller meanwhile runs its job alone.
    busy: Mutex<()>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        shared: Box::leak(Box::new(Shared {
            word: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
        })),
        workers: Mutex::new(Vec::new()),
        busy: Mutex::new(()),
    })
}

/// Runs `job(0)`, …, `job(parts - 1)` on the calling thread and up to `threads - 1` workers,
/// each part exactly once, and returns when all have finished. A job of more than
/// [`MAX_PARTS`] parts, or one that arrives while another caller holds the pool, runs on the
/// calling thread alone.
pub(crate) fn run(parts: usize, threads: usize, job: &Job<'_>) {
    let pool = pool();
    let guard = (parts > 1 && threads > 1 && parts <= MAX_PARTS)
        .then(|| pool.busy.try_lock().ok())
        .flatten();
    let Some(_guard) = guard else {
        (0..parts).for_each(job);
        return;
    };
    let helpers = (threads - 1).min(MAX_HELPERS);
    let workers: Vec<Thread> = {
        let mut w = pool.workers.lock().unwrap_or_else(|e| e.into_inner());
        while w.len() < helpers {
            let index = w.len();
            let shared = pool.shared;
            // The round before this call's: the worker must not take this call's round
            // for one it has already seen.
            let seen = Word(shared.word.load(Ordering::SeqCst)).round();
            match thread::Builder::new()
                .name(format!("logitscope-gemv-{index}"))
                .spawn(move || work(shared, index, seen))
            {
                Ok(h) => w.push(h.thread().clone()),
                Err(_) => break,
            }
        }
        w.iter().take(helpers).cloned().collect()
    };
    let shared = pool.shared;
    // The round is open from the store of its word until `done` reaches `parts`; `job`
    // lives on this frame until then.
    shared.job.store(
        (&job as *const &Job<'_>).cast_mut().cast(),
        Ordering::Release,
    );
    shared.done.store(0, Ordering::Relaxed);
    let round = Word(shared.word.load(Ordering::SeqCst)).round() + 1;
    shared
        .word
        .store(Word::new(round, workers.len(), parts).0, Ordering::SeqCst);
    for t in &workers {
        t.unpark();
    }
    shared.work_on(round);
    let mut spins = 0u32;
    while shared.done.load(Ordering::Acquire) != parts {
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }
    shared.job.store(std::ptr::null_mut(), Ordering::Release);
}

/// A worker's loop: wait for a new round, help with it if it is one of its helpers.
fn work(shared: &'static Shared, index: usize, mut seen: u64) {
    loop {
        let since = Instant::now();
        let mut polls = 0u32;
        let word = loop {
            let w = Word(shared.word.load(Ordering::SeqCst));
            if w.round() != seen {
                break w;
            }
            polls += 1;
            if polls < 32 {
                std::hint::spin_loop();
            } else if since.elapsed() < POLL {
                thread::yield_now();
            } else {
                // `run` publishes the round before unparking, so a wake-up is never lost.
                thread::park();
            }
        };
        seen = word.round();
        if index < word.helpers() {
            shared.work_on(seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn every_part_runs_exactly_once() {
        for threads in [1, 2, 3, 5] {
            for parts in [1, 2, 7, 64] {
                let counts: Vec<AtomicU32> = (0..parts).map(|_| AtomicU32::new(0)).collect();
                for _ in 0..50 {
                    run(parts, threads, &|p| {
                        counts[p].fetch_add(1, Ordering::Relaxed);
                    });
                }
                for (p, c) in counts.iter().enumerate() {
                    assert_eq!(
                        c.load(Ordering::Relaxed),
                        50,
                        "part {p} of {parts}, {threads} threads"
                    );
                }
            }
        }
    }

    #[test]
    fn concurrent_callers_each_finish_their_own_job() {
        let total = AtomicU32::new(0);
        thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..200 {
                        run(9, 2, &|_| {
                            total.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 3 * 200 * 9);
    }
}
