//! The `logitscope` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    passive_openmp();
    logitscope::cli::main()
}

/// How long libtorch's OpenMP workers spin between ops before they sleep (libgomp's
/// `GOMP_SPINCOUNT`, in pause iterations: tens of microseconds). A decode step is hundreds of
/// short parallel regions: workers that sleep at once (`OMP_WAIT_POLICY=passive`) pay a
/// wake-up on each, ~1.5× slower; workers that spin for good stall every op as soon as another
/// process wants a core (10× slower). A short spin bridges the gaps inside a step and sleeps
/// between steps; `model::threads` falls back to one thread when the cores are contended.
const SPIN: &str = "2000";

/// libtorch's OpenMP runtime reads its settings once, when the library is loaded — before
/// `main` — so the binary re-executes itself with `OMP_WAIT_POLICY=passive` and
/// `GOMP_SPINCOUNT` set unless `OMP_WAIT_POLICY` is set (set it to keep other settings).
fn passive_openmp() {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("OMP_WAIT_POLICY").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let spin = std::env::var("GOMP_SPINCOUNT").unwrap_or_else(|_| SPIN.into());
        // `exec` returns only when it failed; then carry on with the default policy.
        let _ = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("OMP_WAIT_POLICY", "passive")
            .env("GOMP_SPINCOUNT", spin)
            .exec();
    }
}
