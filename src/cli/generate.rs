//! `logitscope generate`: headless generation, streamed text or JSON Lines per step.

use std::io::Write;

use clap::Args;
use serde_json::{json, Value};

use crate::decode::config::SamplerConfig;
use crate::decode::trace::{StageDetail, StepTrace, TRACE_CANDIDATES};
use crate::engine::protocol::StepRecord;
use crate::engine::run::SpecRun;
use crate::engine::session::{EngineError, Session};
use crate::model::detok::Utf8Stream;
use crate::model::load;
use crate::model::tokenizer::Tok;

use super::args::{KnobArgs, ModelArgs};
use super::beam::BeamArgs;
use super::crowd::CrowdArgs;
use super::speculative::{round_json, stats_json, SpecArgs};
use super::CliError;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The text to continue.
    #[arg(long)]
    prompt: String,
    /// How many tokens to generate at most (stops early at end-of-sequence).
    #[arg(long, default_value_t = 64, value_name = "N")]
    max_tokens: usize,
    /// How many of the most probable raw candidates each JSON step lists (at most 64).
    #[arg(long, default_value_t = 5, value_name = "N")]
    top: usize,
    /// Print JSON Lines (prompt, one record per step, done) instead of the text.
    #[arg(long)]
    json: bool,
    /// Also save the whole session (model facts, every step's trace) as JSON to FILE; the TUI's
    /// tests and demos replay such files without a model.
    #[arg(long, value_name = "FILE")]
    record: Option<std::path::PathBuf>,
    #[command(flatten)]
    knobs: KnobArgs,
    #[command(flatten)]
    beam: BeamArgs,
    #[command(flatten)]
    spec: SpecArgs,
    /// A/B: with --json, every step record also carries `"b"`, the same step under this
    /// second knob set (JSON, e.g. '{"temperature":0.7,"top_p":0.9}'; unnamed knobs take
    /// their defaults) with the same draw.
    #[arg(long, value_name = "JSON", requires = "json")]
    b_knobs: Option<String>,
    /// Send the prompt as a user message through the model's own chat template (with the
    /// assistant's turn opened), as instruct models expect.
    #[arg(long)]
    chat: bool,
    #[command(flatten)]
    crowd: CrowdArgs,
}

pub fn run(a: GenerateArgs) -> Result<(), CliError> {
    if a.beam.wanted()? {
        return super::beam::run(&a.model, &a.prompt, a.max_tokens, a.json, &a.knobs, &a.beam);
    }
    if a.prompt.is_empty() {
        return Err(CliError::usage(
            "--prompt is empty: give some text to continue",
        ));
    }
    if a.top > TRACE_CANDIDATES {
        return Err(CliError::usage(format!(
            "--top must be at most {TRACE_CANDIDATES}, got {}",
            a.top
        )));
    }
    a.knobs.to_config(None)?;
    let spec_cfg = a.spec.config()?;
    let path = a.model.prepare()?;
    let lm = load(&path, a.model.dtype.into(), &mut |_, _| {})?;
    let config = a.knobs.to_config(Some(&lm.tok))?;
    let crowd = a.crowd.config(a.max_tokens)?;
    let knobs_b: Option<SamplerConfig> = match &a.b_knobs {
        Some(text) => {
            let c: SamplerConfig = serde_json::from_str(text)
                .map_err(|e| CliError::usage(format!("--b-knobs: {e}")))?;
            c.validate()
                .map_err(|e| CliError::usage(format!("--b-knobs: {e}")))?;
            Some(c)
        }
        None => None,
    };
    let mut s = Session::new(lm, &a.prompt, config)?;
    if a.chat {
        s.set_chat(true)?;
    }
    a.knobs.attach_amateur(&a.model, &mut s)?;
    a.crowd.attach(&a.model, &mut s)?;
    if let Some(cfg) = crowd {
        return super::crowd::run(&s, cfg, a.json, a.top);
    }
    let mut spec = match spec_cfg {
        Some(cfg) => {
            a.spec.attach(&cfg, &a.model, &mut s)?;
            Some(SpecRun::new(cfg, &s)?)
        }
        None => None,
    };
    let out = std::io::stdout();
    let mut out = out.lock();
    let emit = |out: &mut std::io::StdoutLock, v: Value| -> Result<(), CliError> {
        writeln!(out, "{v}").map_err(CliError::from)
    };
    if a.json {
        emit(&mut out, prompt_json(&s))?;
    }
    let mut stream = Utf8Stream::default();
    let mut text = String::new();
    let eos = s.loaded().model.config().eos_ids.clone();
    while s.steps().len() < a.max_tokens {
        let before = s.steps().len();
        let result = match spec.as_mut() {
            Some(run) => run.round(&mut s, a.max_tokens - before).map(Some),
            None => s.step().map(|_| None),
        };
        let round = match result {
            Ok(r) => r,
            Err(EngineError::Finished) => break,
            Err(e) => return Err(e.into()),
        };
        if let (true, Some(r)) = (a.json, &round) {
            emit(&mut out, round_json(r, &s.loaded().tok))?;
        }
        for rec in s.steps()[before..].iter().cloned() {
            let piece = if eos.contains(&rec.token_id) {
                String::new()
            } else {
                stream.push(s.loaded().tok.token_bytes(rec.token_id))
            };
            text.push_str(&piece);
            if a.json {
                let mut v = step_json(&rec, a.top, &s);
                if let Some(b) = &knobs_b {
                    let under_b = s.preview(rec.index, b)?;
                    v["b"] = trace_json(rec.index, &under_b.trace, a.top, &s.loaded().tok);
                }
                emit(&mut out, v)?;
            } else {
                write!(out, "{piece}")?;
                out.flush()?;
            }
        }
        if s.finished() {
            break;
        }
    }
    if let Some(path) = &a.record {
        crate::tui::RecordedSession::record(&s.info(), &s.snapshot(), s.config())
            .save(path)
            .map_err(|e| CliError::runtime(format!("{e}")))?;
    }
    let tail = stream.finish();
    text.push_str(&tail);
    if a.json {
        let mut done = json!({"type": "done", "text": text, "timings": {
            "prefill_ms": s.prefill_ms(), "decode_ms_per_token": s.decode_ms_per_token()}});
        if let Some(run) = &spec {
            done["speculative"] = stats_json(run.stats());
        }
        emit(&mut out, done)?;
    } else {
        writeln!(out, "{tail}")?;
    }
    Ok(())
}

/// The session's prompt as the first JSON record.
pub fn prompt_json(s: &Session) -> Value {
    let tok = &s.loaded().tok;
    let ids = s.prompt_ids();
    json!({"type": "prompt", "model": s.info().name, "prompt_ids": ids,
           "prompt_tokens": ids.iter().map(|&i| tok.display(i)).collect::<Vec<_>>()})
}

/// One step as a JSON record (the schema in the README).
pub fn step_json(rec: &StepRecord, top: usize, s: &Session) -> Value {
    trace_json(rec.index, &rec.trace, top, &s.loaded().tok)
}

/// Step `index`'s trace as a JSON step record.
pub fn trace_json(index: usize, t: &StepTrace, top: usize, tok: &Tok) -> Value {
    let ln = |p: f32| (p as f64).ln();
    json!({
        "type": "step",
        "step": index,
        "token_id": t.chosen.id,
        "token": tok.display(t.chosen.id),
        "logprob": ln(t.chosen.raw_prob),
        "entropy": t.entropy_raw,
        "top": t.candidates.iter().take(top).map(|c| json!({
            "id": c.id, "token": tok.display(c.id), "logprob": ln(c.raw_p)})).collect::<Vec<_>>(),
        "stages": t.stages.iter().map(|st| {
            let mut v = json!({
                "name": st.name, "params": st.params, "kept": st.kept, "mass": st.mass,
                "threshold": st.threshold, "cutoff_rank": st.cutoff_rank});
            if let Some(d) = &st.detail {
                v["detail"] = detail_json(d, tok);
            }
            v
        }).collect::<Vec<_>>(),
        "final_top": t.final_top.iter().take(top).map(|&(id, p)| json!({
            "id": id, "token": tok.display(id), "prob": p})).collect::<Vec<_>>(),
        "chosen": {"id": t.chosen.id, "raw_prob": t.chosen.raw_prob,
                   "final_prob": t.chosen.final_prob, "rank": t.chosen.rank,
                   "draw": t.chosen.draw},
        "entropy_final": t.entropy_final,
        "top1": t.top1,
        "margin": t.margin,
        "kept": t.kept,
        "kept_mass": t.kept_mass,
    })
}

/// A contrast stage's per-candidate scores, with token texts.
fn detail_json(d: &StageDetail, tok: &Tok) -> Value {
    match d {
        StageDetail::Contrast {
            rows,
            premature_layer,
            divergence,
        } => {
            let mut v = json!({"candidates": rows.iter().map(|r| json!({
                "id": r.id, "token": tok.display(r.id), "expert": r.expert,
                "amateur": r.amateur, "contrast": r.contrast})).collect::<Vec<_>>()});
            if let Some(l) = premature_layer {
                v["premature_layer"] = json!(l);
                v["divergence"] = json!(divergence
                    .iter()
                    .map(|&(layer, d)| json!({"layer": layer, "jsd": d}))
                    .collect::<Vec<_>>());
            }
            v
        }
        StageDetail::Search { rows } => json!({"candidates": rows.iter().map(|r| json!({
            "id": r.id, "token": tok.display(r.id), "confidence": r.prob,
            "degeneration_penalty": r.penalty, "score": r.score})).collect::<Vec<_>>()}),
        StageDetail::Ensemble { rows } => json!({"candidates": rows.iter().map(|r| json!({
            "id": r.id, "token": tok.display(r.id), "members": r.members,
            "combined": r.combined})).collect::<Vec<_>>()}),
        StageDetail::Steer { rows } => json!({"candidates": rows.iter().map(|r| json!({
            "id": r.id, "token": tok.display(r.id), "lm_logprob": r.lm_logprob,
            "score": r.score, "combined": r.combined})).collect::<Vec<_>>()}),
    }
}
