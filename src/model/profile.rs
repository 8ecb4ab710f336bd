//! Opt-in wall-time profile of the forward pass, op by op (`bench --profile`).
//!
//! libtorch's CPU ops run synchronously on the calling thread (their OpenMP workers join
//! before the call returns), so the wall time around a group of calls is what that group
//! costs. The architectures wrap each group in [`span`]; while no profile is recording (the
//! normal case) a span costs one thread-local flag read.

use std::cell::{Cell, RefCell};
use std::time::Instant;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static SPANS: RefCell<Vec<(&'static str, f64, u64)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f`, adding its wall time to `name` while a profile is recording on this thread.
pub fn span<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    if !ON.with(Cell::get) {
        return f();
    }
    let t0 = Instant::now();
    let out = f();
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    SPANS.with(|s| {
        let mut s = s.borrow_mut();
        match s.iter_mut().find(|(n, _, _)| *n == name) {
            Some(e) => {
                e.1 += ms;
                e.2 += 1;
            }
            None => s.push((name, ms, 1)),
        }
    });
    out
}

/// Milliseconds and call count per span name, in first-seen order.
pub type Spans = Vec<(&'static str, f64, u64)>;

/// Records the spans of everything `f` runs on this thread; returns `f`'s result and them.
pub fn record<T>(f: impl FnOnce() -> T) -> (T, Spans) {
    SPANS.with(|s| s.borrow_mut().clear());
    ON.with(|on| on.set(true));
    let out = f();
    ON.with(|on| on.set(false));
    (out, SPANS.with(|s| std::mem::take(&mut *s.borrow_mut())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_add_up_only_while_recording() {
        span("outside", || ());
        let ((), spans) = record(|| {
            for _ in 0..3 {
                span("a", || span("b", || std::hint::black_box(1)));
            }
        });
        let names: Vec<_> = spans.iter().map(|(n, _, c)| (*n, *c)).collect();
        assert_eq!(names, [("b", 3), ("a", 3)]);
        let (a, b) = (spans[1].1, spans[0].1);
        assert!(a >= b, "a span includes the spans inside it: {a} < {b}");
        let ((), again) = record(|| ());
        assert!(again.is_empty());
    }
}
