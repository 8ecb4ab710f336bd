//! `logitscope ppl`: token-by-token perplexity of a text under a KV-cache policy (full
//! attention, a sliding window, or StreamingLLM's attention sinks + window).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::model::cache::CachePolicy;
use crate::model::load;
use crate::model::perplexity::{perplexity, streaming_nll_chunked, DEFAULT_CHUNK};

use super::args::ModelArgs;
use super::CliError;

#[derive(Debug, Args)]
pub struct PplArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// KV-cache policy: full, window:W (the W most recent tokens) or sinks:S,W (the first S
    /// tokens and the W most recent).
    #[arg(long, default_value = "full", value_name = "SPEC")]
    cache: String,
    /// Score at most this many tokens of the text.
    #[arg(long, default_value_t = 2000, value_name = "N")]
    max_tokens: usize,
    /// Tokens per chunk in the JSON's per-chunk NLL.
    #[arg(long, default_value_t = 250, value_name = "N")]
    chunk: usize,
    /// Tokens per forward while the cache evicts nothing (all of them under `full`): chunked
    /// teacher forcing, exact; 1 feeds the text one token at a time.
    #[arg(long, default_value_t = DEFAULT_CHUNK, value_name = "N")]
    feed: usize,
    /// Print JSON (totals and per-chunk NLL) instead of one line.
    #[arg(long)]
    json: bool,
    /// The text file to score.
    file: PathBuf,
}

pub fn run(a: PplArgs) -> Result<(), CliError> {
    let policy: CachePolicy = a.cache.parse().map_err(CliError::usage)?;
    if a.max_tokens < 2 || a.chunk == 0 || a.feed == 0 {
        return Err(CliError::usage(
            "--max-tokens must be at least 2, --chunk and --feed at least 1",
        ));
    }
    let text = std::fs::read_to_string(&a.file)
        .map_err(|e| CliError::usage(format!("{}: {e}", a.file.display())))?;
    let path = a.model.prepare()?;
    let lm = load(&path, a.model.dtype.into(), &mut |_, _| {})?;
    let mut ids = lm.tok.encode(&text)?;
    ids.truncate(a.max_tokens);
    if ids.len() < 2 {
        return Err(CliError::usage(format!(
            "{}: fewer than two tokens to score",
            a.file.display()
        )));
    }
    let ctx = lm.model.config().context_len;
    let held = policy.capacity().unwrap_or(ids.len() - 1);
    if held > ctx {
        return Err(CliError::usage(format!(
            "--cache {policy} holds up to {held} tokens, more than the model's context of {ctx}: \
             use a smaller window or --max-tokens"
        )));
    }
    let bar = ProgressBar::new(ids.len() as u64 - 1).with_style(
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} tokens, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("ppl {policy}"));
    let t0 = Instant::now();
    let nll = streaming_nll_chunked(&lm.model, &ids, policy, a.feed, &mut |n| {
        bar.set_position(n as u64)
    })?;
    bar.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let evicted = policy.capacity().map_or(0, |c| nll.len().saturating_sub(c));
    let ppl = perplexity(&nll);
    let mean = ppl.ln();
    if a.json {
        let chunks: Vec<_> = nll
            .chunks(a.chunk)
            .enumerate()
            .map(|(i, c)| {
                let p = perplexity(c);
                json!({"from": i * a.chunk + 1, "to": i * a.chunk + c.len(), "nll": p.ln(), "ppl": p})
            })
            .collect();
        let v = json!({"file": a.file.display().to_string(), "model": lm.name(),
            "cache": policy.to_string(), "tokens": ids.len(), "scored": nll.len(),
            "evicted": evicted, "feed": a.feed, "nll": mean, "ppl": ppl, "seconds": secs, "chunks": chunks});
        println!("{v}");
    } else {
        println!(
            "{}: {} tokens, cache {policy}: perplexity {ppl:.3} (mean NLL {mean:.4} nats, \
             {evicted} evicted, {:.1} ms/token)",
            a.file.display(),
            ids.len(),
            secs * 1e3 / nll.len() as f64
        );
    }
    Ok(())
}
