//! `--samples N --select ...`: a crowd of samples and the one MBR or a vote chooses; and
//! `--ensemble-prompt` / `--ensemble-model` / `--combine`: output ensembling.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};

use crate::decode::crowd::{Combine, Selection};
use crate::engine::crowd::{CrowdConfig, CrowdRun};
use crate::engine::session::Session;
use crate::model::{load, Loaded};

use super::args::ModelArgs;
use super::generate::{prompt_json, trace_json};
use super::CliError;

/// Options of crowds and ensembles.
#[derive(Debug, Clone, Args)]
pub struct CrowdArgs {
    /// Draw N samples of the prompt in one batched forward per step (each row with its own
    /// RNG stream: the JSON's `seed` replays a row alone with --seed) and choose one with
    /// --select. For MBR, epsilon sampling (e.g. --epsilon 0.02) is what Freitag et
    /// al. recommend for the candidates (leave --top-k unset).
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// How to choose among the samples: mbr:chrf (default), mbr:bleu (sacrebleu's sentence
    /// chrF / BLEU of each sample against each other), mbr:embed (cosine of mean last-layer
    /// hidden states), vote (self-consistency: the majority answer, ties to the more probable
    /// sample) or vote:weighted (votes weighted by sequence probability).
    #[arg(long, value_name = "METHOD", requires = "samples")]
    pub select: Option<String>,
    /// The answer a vote counts: the last match of this regex in a sample
    /// (default: the last number, -?\d+(\.\d+)?).
    #[arg(long, value_name = "REGEX", requires = "samples")]
    pub answer_regex: Option<String>,
    /// Output ensembling: also run this prompt for the same question (repeatable); at every
    /// step the members' next-token distributions are combined (--combine).
    #[arg(long, value_name = "TEXT")]
    pub ensemble_prompt: Vec<String>,
    /// Output ensembling: also this model (same vocabulary) on the prompt (repeatable).
    #[arg(long, value_name = "PATH")]
    pub ensemble_model: Vec<PathBuf>,
    /// How the ensemble combines: mean (of probabilities: a mixture) or product (the mean of
    /// log-probabilities, renormalised: a product of experts).
    #[arg(long, value_name = "HOW", default_value = "mean")]
    pub combine: String,
}

impl CrowdArgs {
    /// The crowd's configuration, when --samples is given (validated).
    pub fn config(&self, max_tokens: usize) -> Result<Option<CrowdConfig>, CliError> {
        let Some(samples) = self.samples else {
            return Ok(None);
        };
        let select: Selection = match &self.select {
            Some(s) => s.parse().map_err(CliError::usage)?,
            None => "mbr:chrf".parse().map_err(CliError::usage)?,
        };
        Ok(Some(CrowdConfig {
            samples,
            max_tokens,
            select,
            answer_regex: self.answer_regex.clone(),
        }))
    }

    /// The combination rule when members are given.
    pub fn combine(&self) -> Result<Option<Combine>, CliError> {
        let c: Combine = self.combine.parse().map_err(CliError::usage)?;
        let any = !self.ensemble_prompt.is_empty() || !self.ensemble_model.is_empty();
        Ok(any.then_some(c))
    }

    /// Adds the ensemble's members to the session and turns the stage on.
    pub fn attach(&self, model: &ModelArgs, s: &mut Session) -> Result<(), CliError> {
        let Some(combine) = self.combine()? else {
            return Ok(());
        };
        for p in &self.ensemble_prompt {
            s.add_member(Some(p), None)?;
        }
        for path in &self.ensemble_model {
            if !path.exists() {
                return Err(CliError::usage(format!(
                    "--ensemble-model {}: no such model file or directory",
                    path.display()
                )));
            }
            let lm: Loaded = load(path, model.dtype.into(), &mut |_, _| {})?;
            s.add_member(None, Some(lm))?;
        }
        let mut cfg = s.config().clone();
        cfg.ensemble = Some(combine);
        s.set_config(cfg)?;
        Ok(())
    }
}

/// Draws the crowd on the session's prompt and knobs and prints it: text, or JSON Lines (each
/// row's step records tagged with `row`, then one `select` record).
pub fn run(s: &Session, cfg: CrowdConfig, json: bool, top: usize) -> Result<(), CliError> {
    let lm = s.loaded();
    let mut run = CrowdRun::start(lm, s.prompt_ids(), s.config(), cfg)?;
    while !run.is_done() {
        run.step(lm)?;
    }
    let view = run.view();
    let out = std::io::stdout();
    let mut out = out.lock();
    let Some(o) = &view.outcome else {
        return Err(CliError::runtime("the crowd finished without a choice"));
    };
    if !json {
        for smp in &view.samples {
            let mark = if smp.row == o.chosen { "*" } else { " " };
            let text = smp.text.replace('\n', "↵");
            writeln!(out, "{mark}#{} ({:.2}): {text}", smp.row, smp.logprob)?;
        }
        writeln!(out, "chosen #{} by {}", o.chosen, o.select)?;
        return Ok(());
    }
    let tok = &lm.tok;
    writeln!(out, "{}", prompt_json(s))?;
    for (row, traces) in run.traces().iter().enumerate() {
        for (i, t) in traces.iter().enumerate() {
            let mut v = trace_json(i, t, top, tok);
            v["row"] = json!(row);
            writeln!(out, "{v}")?;
        }
    }
    let (method, utility) = match o.select {
        Selection::Mbr(u) => ("mbr", Some(u.to_string())),
        Selection::Vote { weighted: false } => ("vote", None),
        Selection::Vote { weighted: true } => ("vote:weighted", None),
    };
    let mut sel = json!({
        "type": "select", "method": method, "utility": utility,
        "samples": view.samples.iter().map(|x| {
            let mut v = json!({"row": x.row, "seed": x.seed, "text": x.text, "ids": x.ids,
                               "logprob": x.logprob});
            if let Some(a) = &x.answer { v["answer"] = json!(a); }
            v
        }).collect::<Vec<_>>(),
        "chosen": o.chosen,
    });
    if !o.matrix.is_empty() {
        sel["matrix"] = json!(o.matrix);
        sel["expected"] = json!(o.expected);
    }
    if matches!(o.select, Selection::Vote { .. }) {
        let votes: serde_json::Map<String, Value> =
            o.votes.iter().map(|(a, n)| (a.clone(), json!(n))).collect();
        sel["votes"] = Value::Object(votes);
    }
    writeln!(out, "{sel}")?;
    Ok(())
}
