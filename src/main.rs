//! The `logitscope` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    logitscope::cli::main()
}
