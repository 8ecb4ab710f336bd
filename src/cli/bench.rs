//! `logitscope bench`: prefill and decode speed of the model, printed as JSON.

use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};

use crate::decode::math::{median, top_n};
use crate::model::taps::bench_capture;
use crate::model::{ids_tensor, load, plan, tensor_to_vec, threads, Dtype, ForwardOptions, Loaded};

use crate::engine::beam::bench_beam_step;

use super::args::ModelArgs;
use super::CliError;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Prompt length for the prefill measurement.
    #[arg(long, default_value_t = 128, value_name = "N")]
    prompt_tokens: usize,
    /// Generated tokens for the decode measurement.
    #[arg(long, default_value_t = 128, value_name = "N")]
    decode_tokens: usize,
    /// Repetitions; medians are reported (at least 3).
    #[arg(long, default_value_t = 3, value_name = "N")]
    runs: usize,
    /// Only this precision (default: f32, bf16, q8 and q4, runs interleaved).
    #[arg(long, value_name = "DTYPE")]
    only: Option<super::args::DtypeArg>,
    /// Also measure f32 and bf16 with plain `linear` everywhere (no per-machine plan), in the
    /// same interleaved runs.
    #[arg(long)]
    compare_linear: bool,
    /// Instead: milliseconds per beam-search step at width B (one batched forward of the B
    /// beams) against one single-sequence decode step, over --decode-tokens steps.
    #[arg(long, value_name = "B")]
    beams: Option<usize>,
    /// Instead: the cost of attention capture on a decode step, at 128, 512 and 2,047 tokens
    /// of context (median of 30 steps each way, alternated).
    #[arg(long)]
    capture: bool,
    /// Instead: greedy speculative decoding against plain decoding on a prose, a code and a
    /// repetitive prompt, for ngram:3 and self:L at a quarter, half and three quarters of the
    /// layers (and --draft-model when given); --decode-tokens tokens, γ = --draft-tokens.
    #[arg(long)]
    speculative: bool,
    /// With --speculative: also a draft model with the same tokenizer.
    #[arg(long, value_name = "PATH", requires = "speculative")]
    draft_model: Option<std::path::PathBuf>,
    /// With --speculative: tokens drafted per round.
    #[arg(long, value_name = "G", default_value_t = 4)]
    draft_tokens: usize,
    /// With --speculative: only these prompts (of prose, code, repetitive).
    #[arg(
        long,
        value_name = "NAMES",
        value_delimiter = ',',
        requires = "speculative"
    )]
    texts: Option<Vec<String>>,
    /// Instead: a step of contrastive search (α 0.6, k 4), contrastive decoding against the
    /// first quarter of the layers, and DoLa (high) against a plain greedy step, interleaved
    /// over --runs runs of --decode-tokens steps; and the hidden-state taps' cost on a bare
    /// decode forward (median of 30 each way, alternated).
    #[arg(long)]
    contrast: bool,
    /// Instead: a batched crowd step (every sample drawing one token in one forward) for
    /// 1, 4, 8 and 16 samples, over --decode-tokens steps, and the KV cache each holds.
    #[arg(long)]
    crowd: bool,
    /// Instead: a grammar constraint's cost per step (advance the matcher one token, compute
    /// the next token's mask over the whole vocabulary) along a valid output, for two regexes,
    /// two JSON schemas and a Lark grammar (median over --runs runs), and the one-off costs.
    #[arg(long)]
    grammar: bool,
    /// Measure the TUI instead: median render time per frame of a 2,000-step session at
    /// 200×60 (no model needed).
    #[arg(long)]
    render: bool,
    /// Instead: where one decode step's time goes, op by op (wall time per op over
    /// --decode-tokens steps after the prompt), and each precision's distance from the
    /// memory-bandwidth bound.
    #[arg(long)]
    profile: bool,
}

/// Text the benchmark prompt is cut from.
const BENCH_TEXT: &str = include_str!("../../assets/bench_prompt.txt");

pub fn run(a: BenchArgs) -> Result<(), CliError> {
    if a.runs < 3 {
        return Err(CliError::usage(
            "--runs must be at least 3 (medians of fewer mean little)",
        ));
    }
    if a.prompt_tokens == 0 || a.decode_tokens == 0 {
        return Err(CliError::usage(
            "--prompt-tokens and --decode-tokens must be at least 1",
        ));
    }
    if a.render {
        let (steps, w, h) = (2000, 200, 60);
        let frame = crate::tui::bench::bench_render(steps, w, h, 200);
        println!(
            "{}",
            json!({"bench": "render", "steps": steps, "size": format!("{w}x{h}"), "frames": 200,
                   "median_ms_per_frame": frame.as_secs_f64() * 1e3})
        );
        return Ok(());
    }
    let path = a.model.prepare()?;
    let dtypes: Vec<Dtype> = match a.only {
        Some(d) => vec![d.into()],
        None => vec![Dtype::F32, Dtype::Bf16, Dtype::Q8, Dtype::Q4],
    };
    if let Some(beams) = a.beams {
        return bench_beams(&path, &dtypes, &a, beams);
    }
    if a.speculative {
        let dtype = dtypes[0];
        let lm = load(&path, dtype, &mut |_, _| {})?;
        let draft = match &a.draft_model {
            Some(p) => Some(load(p, dtype, &mut |_, _| {})?),
            None => None,
        };
        return super::bench_spec::bench_speculative(
            lm,
            draft,
            a.decode_tokens,
            a.draft_tokens,
            a.runs,
            a.texts.as_deref(),
        );
    }
    if a.capture {
        return bench_capture_overhead(&path, &dtypes);
    }
    if a.crowd {
        let lm = load(&path, dtypes[0], &mut |_, _| {})?;
        return super::bench_crowd::bench_crowd(lm, a.decode_tokens, a.runs);
    }
    if a.grammar {
        let lm = load(&path, dtypes[0], &mut |_, _| {})?;
        return super::bench_grammar::bench_grammar(lm, a.runs);
    }
    if a.contrast {
        let lm = load(&path, dtypes[0], &mut |_, _| {})?;
        return super::bench_contrast::bench_contrast(lm, a.decode_tokens, a.runs);
    }
    let mut out = serde_json::Map::new();
    out.insert("impl".into(), json!("logitscope"));
    out.insert("threads".into(), json!(tch::get_num_threads()));
    out.insert("threads_governed".into(), json!(threads::governed()));
    out.insert("prompt_tokens".into(), json!(a.prompt_tokens));
    out.insert("decode_tokens".into(), json!(a.decode_tokens));
    out.insert("runs".into(), json!(a.runs));
    // Every model loaded first, then the runs interleaved (one of each per round), so a
    // change in machine load hits every mode alike and the ratios hold.
    let mut models: Vec<(String, Loaded)> = Vec::new();
    for &dtype in &dtypes {
        let lm = load(&path, dtype, &mut |_, _| {})?;
        eprintln!("bench: {} {}", lm.name(), dtype.name());
        models.push((dtype.name().to_string(), lm));
    }
    if a.compare_linear {
        for &dtype in dtypes
            .iter()
            .filter(|d| matches!(d, Dtype::F32 | Dtype::Bf16))
        {
            let lm = plan::without_plan(|| load(&path, dtype, &mut |_, _| {}))?;
            models.push((format!("{}_linear", dtype.name()), lm));
        }
    }
    let mut ids = models[0].1.tok.encode(BENCH_TEXT)?;
    while ids.len() < a.prompt_tokens {
        ids.extend_from_within(..);
    }
    ids.truncate(a.prompt_tokens);
    if a.profile {
        let report = super::bench_profile::bench_profile(&models, &ids, a.decode_tokens)?;
        println!("{report}");
        return Ok(());
    }
    let gbs = super::bench_profile::stream_gbs();
    out.insert("stream_gbs".into(), json!(gbs));
    let mut runs: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); models.len()];
    // One warm-up round, not counted.
    for round in 0..=a.runs {
        for ((_, lm), (prefill, decode)) in models.iter().zip(runs.iter_mut()) {
            let (p, d) = measure_once(lm, &ids, a.decode_tokens)?;
            if round > 0 {
                prefill.push(p);
                decode.push(d);
            }
        }
    }
    let f32_at = models.iter().position(|(n, _)| n == "f32");
    let base = f32_at.map(|i| (median(&runs[i].0), median(&runs[i].1)));
    for ((name, lm), (prefill, decode)) in models.iter().zip(&runs) {
        let (p, d) = (median(prefill), median(decode));
        let (mb, bound_ms) = super::bench_profile::bound(lm, gbs);
        let mut v = json!({"prefill_ms": p, "decode_ms_per_token": d,
                           "prefill_runs_ms": prefill, "decode_runs_ms_per_token": decode,
                           "weight_mb": mb, "bound_ms": bound_ms, "decode_vs_bound": d / bound_ms});
        if let Some((bp, bd)) = base {
            v["prefill_vs_f32"] = json!(p / bp);
            v["decode_vs_f32"] = json!(d / bd);
        }
        out.insert(name.clone(), v);
    }
    out.insert("plan".into(), plan::report());
    println!("{}", Value::Object(out));
    Ok(())
}

/// Prefill ms and decode ms/token of one run (greedy, KV cache).
fn measure_once(lm: &Loaded, ids: &[u32], decode_tokens: usize) -> Result<(f64, f64), CliError> {
    let mut cache = lm.model.new_cache();
    let t0 = Instant::now();
    let out = lm
        .model
        .forward(&ids_tensor(&[ids]), &mut cache, ForwardOptions::LAST)?;
    let mut logits = tensor_to_vec(&out.logits.get(0));
    let p = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    for _ in 0..decode_tokens {
        let next = top_n(&logits, 1).first().map_or(0, |&(id, _)| id);
        logits = lm.model.next_logits(&[next], &mut cache)?;
    }
    let d = t1.elapsed().as_secs_f64() * 1e3 / decode_tokens as f64;
    Ok((p, d))
}

/// Median ms per beam step and per single decode step, per dtype, as one JSON line.
fn bench_beams(
    path: &std::path::Path,
    dtypes: &[Dtype],
    a: &BenchArgs,
    beams: usize,
) -> Result<(), CliError> {
    if beams == 0 {
        return Err(CliError::usage("--beams must be at least 1"));
    }
    let mut out = serde_json::Map::new();
    out.insert("bench".into(), json!("beam"));
    out.insert("beams".into(), json!(beams));
    out.insert("threads".into(), json!(tch::get_num_threads()));
    out.insert("steps".into(), json!(a.decode_tokens));
    for &dtype in dtypes {
        let lm = load(path, dtype, &mut |_, _| {})?;
        let mut ids = lm.tok.encode(BENCH_TEXT)?;
        ids.truncate(a.prompt_tokens);
        let (mut beam, mut single) = (Vec::new(), Vec::new());
        for run in 0..=a.runs {
            let (b, s) = bench_beam_step(&lm.model, &ids, beams, a.decode_tokens)?;
            if run > 0 {
                beam.push(b as f64);
                single.push(s as f64);
            }
        }
        let (b, s) = (median(&beam), median(&single));
        out.insert(
            dtype.name().into(),
            json!({"ms_per_beam_step": b, "ms_per_decode_step": s, "ratio": b / s}),
        );
    }
    println!("{}", Value::Object(out));
    Ok(())
}

/// Decode ms with and without attention capture at several context lengths.
fn bench_capture_overhead(path: &std::path::Path, dtypes: &[Dtype]) -> Result<(), CliError> {
    let mut out = serde_json::Map::new();
    out.insert("bench".into(), json!("attention_capture"));
    out.insert("threads".into(), json!(tch::get_num_threads()));
    for &dtype in dtypes {
        let lm = load(path, dtype, &mut |_, _| {})?;
        let ids = lm.tok.encode(include_str!("../../assets/macbeth.txt"))?;
        let rows = [128, 512, 2047]
            .into_iter()
            .map(|context| {
                let b = bench_capture(&lm.model, &ids[..context.min(ids.len())], 30)?;
                Ok(json!({"context": b.context, "plain_ms": b.plain_ms,
                          "capture_ms": b.capture_ms, "overhead_pct": b.overhead_pct()}))
            })
            .collect::<Result<Vec<_>, CliError>>()?;
        out.insert(dtype.name().into(), json!(rows));
    }
    println!("{}", Value::Object(out));
    Ok(())
}
