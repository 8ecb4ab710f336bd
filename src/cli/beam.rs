//! `logitscope generate --beams B`: beam search, diverse beam search and stochastic beam
//! search from the command line, as text or JSON Lines (one record per step, then `done`).

use std::io::Write;

use clap::Args;
use serde_json::{json, Value};

use crate::decode::beam::{BeamConfig, BeamStep, EarlyStopping};
use crate::engine::beam::BeamRun;
use crate::model::load;
use crate::model::tokenizer::Tok;

use super::args::{KnobArgs, ModelArgs};
use super::CliError;

/// Beam search options of `generate`.
#[derive(Debug, Clone, Args)]
pub struct BeamArgs {
    /// Beam search with B beams instead of sampling (the sampler's penalties, n-gram blocking,
    /// bans and biases still apply to every beam).
    #[arg(long, value_name = "B")]
    pub beams: Option<usize>,
    /// Hypothesis score = sum of log-probabilities / length^X (> 0 favours long ones).
    #[arg(long, value_name = "X", allow_hyphen_values = true)]
    pub length_penalty: Option<f32>,
    /// When to stop: true (B hypotheses finished), false (heuristic), never (exact bound).
    #[arg(long, value_name = "WHEN", value_parser = EarlyStopping::parse)]
    pub early_stopping: Option<EarlyStopping>,
    /// How many hypotheses to print (default: all B).
    #[arg(long = "return", value_name = "N")]
    pub num_return: Option<usize>,
    /// Diverse beam search: split the beams into G groups.
    #[arg(long, value_name = "G")]
    pub groups: Option<usize>,
    /// Hamming diversity penalty between groups (needs --groups).
    #[arg(long, value_name = "LAMBDA")]
    pub diversity: Option<f32>,
    /// Stochastic beam search: sample the continuations without replacement (uses --seed and
    /// the temperature and truncation knobs).
    #[arg(long)]
    pub beam_sample: bool,
}

/// One-line usage errors for beam options given without `--beams`.
fn orphan_flags(b: &BeamArgs) -> Option<&'static str> {
    [
        (b.length_penalty.is_some(), "--length-penalty"),
        (b.early_stopping.is_some(), "--early-stopping"),
        (b.num_return.is_some(), "--return"),
        (b.groups.is_some(), "--groups"),
        (b.diversity.is_some(), "--diversity"),
        (b.beam_sample, "--beam-sample"),
    ]
    .into_iter()
    .find_map(|(given, name)| given.then_some(name))
}

impl BeamArgs {
    /// Whether beam search was asked for; errors on beam options without `--beams`.
    pub fn wanted(&self) -> Result<bool, CliError> {
        match (self.beams, orphan_flags(self)) {
            (None, Some(flag)) => Err(CliError::usage(format!("{flag} needs --beams"))),
            (beams, _) => Ok(beams.is_some()),
        }
    }

    /// The validated search configuration (end-of-sequence ids are the model's, set later).
    fn config(&self, knobs: &KnobArgs, max_new_tokens: usize) -> Result<BeamConfig, CliError> {
        let beams = self.beams.unwrap_or(1);
        let d = BeamConfig::default();
        let cfg = BeamConfig {
            beams,
            groups: self.groups.unwrap_or(1),
            diversity: self.diversity.unwrap_or(0.0),
            length_penalty: self.length_penalty.unwrap_or(d.length_penalty),
            early_stopping: self.early_stopping.unwrap_or_default(),
            num_return: self.num_return.unwrap_or(beams),
            max_new_tokens,
            sample: self.beam_sample,
            seed: knobs.seed,
            knobs: knobs.to_config(None)?,
            ..d
        };
        cfg.validate().map_err(CliError::usage)?;
        Ok(cfg)
    }
}

/// Runs the search and prints it.
pub fn run(
    model: &ModelArgs,
    prompt: &str,
    max_new_tokens: usize,
    json: bool,
    knobs: &KnobArgs,
    b: &BeamArgs,
) -> Result<(), CliError> {
    if prompt.is_empty() {
        return Err(CliError::usage(
            "--prompt is empty: give some text to continue",
        ));
    }
    if knobs.constrained() {
        return Err(CliError::usage(
            "--beams does not combine with --regex, --json-schema or --grammar",
        ));
    }
    if knobs.steered() {
        return Err(CliError::usage(
            "--beams does not combine with --fudge or --reward",
        ));
    }
    if knobs.contrasts() {
        return Err(CliError::usage(
            "--beams does not combine with --amateur, --dola-layers or --penalty-alpha",
        ));
    }
    let mut cfg = b.config(knobs, max_new_tokens)?;
    let path = model.prepare()?;
    let lm = load(&path, model.dtype.into(), &mut |_, _| {})?;
    cfg.knobs = knobs.to_config(Some(&lm.tok))?;
    cfg.eos_ids = lm.model.config().eos_ids.clone();
    cfg.pad_id = cfg.eos_ids.first().copied();
    let ids = lm.tok.encode(prompt)?;
    let mut search = BeamRun::start(&lm.model, &ids, cfg)?;
    let out = std::io::stdout();
    let mut out = out.lock();
    loop {
        let done = search.step(&lm.model)?;
        if json {
            if let Some(step) = search.tree().steps.last() {
                writeln!(out, "{}", step_json(step, &lm.tok))?;
            }
        }
        if done {
            break;
        }
    }
    let hyps = &search.tree().hypotheses;
    if json {
        let list: Vec<Value> = hyps
            .iter()
            .map(|h| json!({"text": lm.tok.decode(&h.ids), "score": h.score, "ids": h.ids}))
            .collect();
        writeln!(out, "{}", json!({"type": "done", "hypotheses": list}))?;
    } else {
        for h in hyps {
            writeln!(
                out,
                "{:>9.4}  {}",
                h.score,
                lm.tok.decode(&h.ids).escape_debug()
            )?;
        }
    }
    Ok(())
}

/// One step as a JSON record: the new nodes and the best pruned candidates.
pub fn step_json(step: &BeamStep, tok: &Tok) -> Value {
    json!({
        "type": "beam_step",
        "step": step.step,
        "beams": step.nodes.iter().map(|n| json!({
            "id": n.id, "parent": n.parent, "token_id": n.token_id,
            "token": tok.display(n.token_id), "logprob": n.logprob, "score": n.score,
            "finished": n.finished.is_some(), "final_score": n.finished})).collect::<Vec<_>>(),
        "pruned": step.pruned.iter().map(|p| json!({
            "parent": p.parent, "token_id": p.token_id, "token": tok.display(p.token_id),
            "logprob": p.logprob})).collect::<Vec<_>>(),
    })
}
