//! `logitscope` / `logitscope tui`: load the model (with a progress bar), then hand the session
//! to the engine thread and the terminal to the UI.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::engine::session::{Session, SessionFile};
use crate::engine::worker::{self, WorkerOptions};
use crate::model::load;
use crate::tui::{self, TuiOptions};

use super::args::{KnobArgs, ModelArgs};
use super::speculative::SpecArgs;
use super::CliError;

/// The prompt used when none is given.
pub const DEMO_PROMPT: &str = include_str!("../../assets/demo_prompt.txt");

#[derive(Debug, Args)]
pub struct TuiArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The text to continue (default: a demo prompt).
    #[arg(long)]
    prompt: Option<String>,
    /// Start generating at once.
    #[arg(long)]
    autoplay: bool,
    /// Autoplay pauses once the current timeline holds N generated tokens, where `generate
    /// --max-tokens N` would stop (space still steps past it).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_tokens: Option<u64>,
    /// Leave the mouse to the terminal (no click-to-select, no wheel knobs).
    #[arg(long)]
    no_mouse: bool,
    #[command(flatten)]
    knobs: KnobArgs,
    #[command(flatten)]
    spec: SpecArgs,
    /// Send the prompt as a user message through the model's own chat template (with the
    /// assistant's turn opened), as instruct models expect.
    #[arg(long)]
    chat: bool,
    #[command(flatten)]
    crowd: super::crowd::CrowdArgs,
    /// Reopen a session saved with `w` (its model unless --model is given): every branch is
    /// regenerated and must come out the same.
    #[arg(long, value_name = "FILE")]
    session: Option<std::path::PathBuf>,
}

pub fn run(a: TuiArgs) -> Result<(), CliError> {
    let prompt = a
        .prompt
        .clone()
        .unwrap_or_else(|| DEMO_PROMPT.trim_end().to_string());
    if prompt.is_empty() {
        return Err(CliError::usage(
            "--prompt is empty: give some text to continue",
        ));
    }
    a.knobs.to_config(None)?;
    let spec = a.spec.config()?;
    if let Some(file) = &a.session {
        let file = SessionFile::load(file).map_err(CliError::usage)?;
        eprintln!(
            "replaying {} branches, {} steps…",
            file.branches.len(),
            file.steps()
        );
        let session = super::replay::open(&file, &a.model)?;
        return start(session, &a, spec);
    }
    let path = a.model.prepare()?;
    let bar = ProgressBar::new(100).with_style(
        ProgressStyle::with_template("loading {msg:24} [{bar:40}] {percent:>3}%")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let lm = load(&path, a.model.dtype.into(), &mut |f, msg| {
        bar.set_message(msg.to_string());
        bar.set_position((f * 100.0) as u64);
    });
    bar.finish_and_clear();
    let lm = lm?;
    let config = a.knobs.to_config(Some(&lm.tok))?;
    let mut session = Session::new(lm, &prompt, config)?;
    if a.chat {
        session.set_chat(true)?;
    }
    a.knobs.attach_amateur(&a.model, &mut session)?;
    a.crowd.attach(&a.model, &mut session)?;
    if let Some(cfg) = &spec {
        a.spec.attach(cfg, &a.model, &mut session)?;
    }
    start(session, &a, spec)
}

/// Hands the session to the engine thread and the terminal to the UI.
fn start(
    session: Session,
    a: &TuiArgs,
    spec: Option<crate::engine::run::SpecConfig>,
) -> Result<(), CliError> {
    let opts = WorkerOptions {
        max_tokens: a.max_tokens.map(|n| n as usize),
    };
    let (handle, _engine) = worker::spawn_with(session, opts);
    let opts = TuiOptions {
        mouse: !a.no_mouse,
        autoplay: a.autoplay,
        speculative: spec,
        crowd: a.crowd.config(32)?,
        ..TuiOptions::default()
    };
    tui::run(handle, opts).map_err(|e| CliError::runtime(format!("{e}")))
}
