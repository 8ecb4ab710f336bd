//! The command line: `logitscope [tui]`, `generate`, `bench`.

mod args;
mod beam;
mod bench;
mod bench_contrast;
mod bench_crowd;
mod bench_grammar;
mod bench_profile;
mod bench_spec;
mod crowd;
mod generate;
mod inspect;
mod ppl;
mod probe;
mod replay;
mod speculative;
mod tui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::engine::session::EngineError;
use crate::model::error::ModelError;

pub use args::{ban_variants, KnobArgs, ModelArgs};

/// A terminal microscope for language-model decoding.
///
/// With no subcommand, opens the TUI on the default model (SmolLM2-135M-Instruct, installed by
/// scripts/setup.sh): step through generation token by token, watch every sampling knob
/// reshape the next-token distribution, branch at any token. Press ? inside (or run
/// `logitscope keys`) for the keys.
///
/// Exit status: 0 on success; 2 for bad usage or bad input (arguments, values, a model file
/// that is missing, corrupt or inconsistent, a prompt longer than the context); 1 for a
/// failure while running (the engine, writing output or a file).
#[derive(Debug, Parser)]
#[command(name = "logitscope", version, about, long_about)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Without a subcommand: the TUI's options.
    #[command(flatten)]
    tui: tui::TuiArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Open the interactive TUI (the default).
    Tui(tui::TuiArgs),
    /// Generate text headlessly, streaming it or printing per-step JSON Lines.
    Generate(generate::GenerateArgs),
    /// Measure speed (prefill/decode, beam steps, attention capture, TUI rendering) as JSON.
    Bench(bench::BenchArgs),
    /// Perplexity of a text under a KV-cache policy (full, window:W, sinks:S,W).
    Ppl(ppl::PplArgs),
    /// Inspect the model: a prompt's attention for one layer, its logit lens, its tokens.
    Inspect(inspect::InspectArgs),
    /// Regenerate a session saved from the TUI and report the first divergence, if any.
    Replay(replay::ReplayArgs),
    /// Attribute probes for FUDGE and RAD: `probe train --data FILE.jsonl --out FILE`.
    Probe(probe::ProbeArgs),
    /// Print the TUI's key map (the same text as its ? overlay).
    Keys,
}

/// A user-facing failure: a one-line message and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: u8,
}

impl CliError {
    /// Bad usage or bad input (an argument, a value, a file): exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 2,
        }
    }

    /// A failure while running (the engine, writing output): exit code 1.
    pub fn runtime(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 1,
        }
    }
}

/// Model errors are about the file or the input (2), except [`ModelError::Other`], which is
/// raised while computing (1).
impl From<ModelError> for CliError {
    fn from(e: ModelError) -> Self {
        if e.is_bad_input() {
            CliError::usage(e.to_string())
        } else {
            CliError::runtime(e.to_string())
        }
    }
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Model(e) => e.into(),
            EngineError::Invalid(m) => CliError::usage(m),
            EngineError::Finished => CliError::runtime(e.to_string()),
        }
    }
}

/// Reading or writing failed while running (output, a recorded session): exit code 1.
impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::runtime(e.to_string())
    }
}

/// Parses the command line and runs it; errors become `error: ...` on stderr.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // Clap's message without its usage block: one line, exit 2.
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        None => tui::run(cli.tui),
        Some(Cmd::Tui(a)) => tui::run(a),
        Some(Cmd::Generate(a)) => generate::run(a),
        Some(Cmd::Bench(a)) => bench::run(a),
        Some(Cmd::Ppl(a)) => ppl::run(a),
        Some(Cmd::Inspect(a)) => inspect::run(a),
        Some(Cmd::Replay(a)) => replay::run(a),
        Some(Cmd::Probe(a)) => probe::run(a),
        Some(Cmd::Keys) => {
            print!("{}", crate::tui::widgets::help::help_text());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = e.message.lines().next().unwrap_or("").trim().to_string();
            eprintln!("error: {msg}");
            ExitCode::from(e.code)
        }
    }
}
