//! The `logitscope` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    passive_openmp();
    logitscope::cli::main()
}

/// OpenMP worker threads that spin while they wait make decoding collapse (5–10× slower)
/// as soon as another process, or the TUI's own thread, wants one of the cores. libtorch's
/// OpenMP runtime reads its settings once, when the library is loaded — before `main` — so
/// the binary re-executes itself with `OMP_WAIT_POLICY=passive` unless the variable is set
/// (set it to `active` to keep spinning).
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
        // `exec` returns only when it failed; then carry on with the default policy.
        let _ = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("OMP_WAIT_POLICY", "passive")
            .exec();
    }
}
