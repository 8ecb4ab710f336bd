//! A few worker threads that split one matrix-vector product with the calling thread.
//!
//! A decode step runs ~200 products of 0.02–2 ms each, so the hand-off must cost
//! microseconds: the caller publishes the job and works on its own share at once, and the
//! workers, between jobs, first poll (yielding the core to anything runnable, so libtorch's
//! own threads never wait on them), then sleep. A general-purpose pool (where the caller
//! waits while the pool works) would add a wake-up on every call.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long an idle worker keeps polling before it sleeps: longer than the gap between two
/// products of a decode step, shorter than anything a person would notice as load.
const POLL: Duration = Duration::from_micros(300);

/// The job of a round: a part index to run, called by every participant.
type Job<'a> = dyn Fn(usize) + Sync + 'a;

struct Shared {
    /// The round (bumped once per job) above the low byte, and in the low byte how many
    /// workers take part in it (workers `0..helpers`): one word, so a worker never pairs a
    /// round with another round's count.
    round: AtomicU64,
    /// Workers of this round that have not finished.
    pending: AtomicUsize,
    /// The job, valid while `pending > 0` (see [`run`]).
    job: Mutex<Option<&'static Job<'static>>>,
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
            round: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            job: Mutex::new(None),
        })),
        workers: Mutex::new(Vec::new()),
        busy: Mutex::new(()),
    })
}

/// Runs `job(0)`, …, `job(parts - 1)`, part 0 on the calling thread and the others on
/// workers, and returns when all have finished.
pub(crate) fn run(parts: usize, job: &Job<'_>) {
    let pool = pool();
    let guard = (parts > 1).then(|| pool.busy.try_lock().ok()).flatten();
    let Some(_guard) = guard else {
        (0..parts).for_each(job);
        return;
    };
    let helpers = (parts - 1).min(255);
    let workers: Vec<Thread> = {
        let mut w = pool.workers.lock().unwrap_or_else(|e| e.into_inner());
        while w.len() < helpers {
            let index = w.len();
            let shared = pool.shared;
            // The round before this call's: the worker must not take this call's round
            // for one it has already seen.
            let seen = shared.round.load(Ordering::SeqCst);
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
    // SAFETY: the reference outlives its use — this function does not return before every
    // worker of the round has finished with it (`pending` reaches zero), and the slot is
    // cleared before returning.
    let job_static = unsafe { std::mem::transmute::<&Job<'_>, &'static Job<'static>>(job) };
    *shared.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(job_static);
    shared.pending.store(workers.len(), Ordering::SeqCst);
    let round = (shared.round.load(Ordering::SeqCst) >> 8) + 1;
    shared
        .round
        .store(round << 8 | workers.len() as u64, Ordering::SeqCst);
    for t in &workers {
        t.unpark();
    }
    job(0);
    // Parts no worker could take (a failed spawn) run here.
    (workers.len() + 1..parts).for_each(job);
    let mut spins = 0u32;
    while shared.pending.load(Ordering::Acquire) != 0 {
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            thread::yield_now();
        }
    }
    *shared.job.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// A worker's loop: wait for a new round, run part `index + 1` if it takes part.
fn work(shared: &'static Shared, index: usize, mut seen: u64) {
    loop {
        let since = Instant::now();
        let mut polls = 0u32;
        loop {
            let round = shared.round.load(Ordering::SeqCst);
            if round != seen {
                seen = round;
                break;
            }
            polls += 1;
            if polls < 32 {
                std::hint::spin_loop();
            } else if since.elapsed() < POLL {
                thread::yield_now();
            } else {
                // `run` bumps the round before unparking, so a wake-up is never lost.
                thread::park();
            }
        }
        if index as u64 >= seen & 0xff {
            continue;
        }
        let job = *shared.job.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(job) = job {
            job(index + 1);
        }
        shared.pending.fetch_sub(1, Ordering::Release);
    }
}
