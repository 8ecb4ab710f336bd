//! `logitscope replay FILE`: regenerates a saved session headlessly and reports the first
//! divergence, if any; `--json` then prints the current branch in `generate --json`'s schema.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::engine::session::{Session, SessionFile};
use crate::model::load;

use super::args::ModelArgs;
use super::generate::{prompt_json, step_json};
use super::CliError;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A session saved from the TUI (`w`).
    file: PathBuf,
    /// The model to replay on (default: the one the file names).
    #[command(flatten)]
    model: ModelArgs,
    /// After replaying, print the current branch as JSON Lines (prompt, steps, done) in the
    /// schema of `generate --json`.
    #[arg(long)]
    json: bool,
}

/// Loads the file's model (or `--model`) and replays the file into a new session.
pub fn open(file: &SessionFile, model: &ModelArgs) -> Result<Session, CliError> {
    let mut m = model.clone();
    if m.model.is_none() {
        m.model = Some(PathBuf::from(&file.model));
    }
    let path = m.prepare()?;
    let lm = load(&path, m.dtype.into(), &mut |_, _| {})?;
    let first = file
        .branches
        .first()
        .and_then(|b| b.steps.first())
        .map(|s| s.config.clone())
        .unwrap_or_default();
    let mut s = Session::new(lm, &file.prompt, first)?;
    if let Some(d) = s.replay(file)? {
        let tok = &s.loaded().tok;
        return Err(CliError::runtime(format!(
            "the session diverges at branch {} step {}: recorded {:?} (id {}), regenerated {:?} (id {}) — another model, precision or build?",
            d.branch,
            d.step + 1,
            tok.display(d.recorded),
            d.recorded,
            tok.display(d.regenerated),
            d.regenerated
        )));
    }
    Ok(s)
}

pub fn run(a: ReplayArgs) -> Result<(), CliError> {
    let file = SessionFile::load(&a.file).map_err(CliError::usage)?;
    let s = open(&file, &a.model)?;
    let mut out = std::io::stdout().lock();
    if !a.json {
        writeln!(
            out,
            "replayed {} branches, {} steps: no divergence",
            file.branches.len(),
            file.steps()
        )?;
        return Ok(());
    }
    let tok = &s.loaded().tok;
    writeln!(out, "{}", prompt_json(&s))?;
    for rec in s.steps() {
        writeln!(out, "{}", step_json(rec, 5, &s))?;
    }
    let text = tok.decode(&s.steps().iter().map(|r| r.token_id).collect::<Vec<_>>());
    writeln!(out, "{}", json!({"type": "done", "text": text}))?;
    Ok(())
}
