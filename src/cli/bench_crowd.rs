//! `bench --crowd`: what a batched crowd step costs against one sequence's decode step, and
//! the KV cache it holds, for N = 1, 4, 8 and 16 samples.

use std::time::Instant;

use serde_json::{json, Value};

use crate::decode::config::SamplerConfig;
use crate::decode::crowd::{Selection, Utility};
use crate::decode::math::median;
use crate::engine::crowd::{CrowdConfig, CrowdRun};
use crate::model::Loaded;

use super::CliError;

const PROMPT: &str = include_str!("../../assets/speculative/prose.txt");

/// Median ms per batched step (every row drawing one token) over `tokens` steps, `runs` runs.
pub fn bench_crowd(lm: Loaded, tokens: usize, runs: usize) -> Result<(), CliError> {
    let ids = lm.tok.encode(PROMPT.trim_end())?;
    let knobs = SamplerConfig {
        temperature: 0.9,
        ..SamplerConfig::default()
    };
    let sizes = [1usize, 4, 8, 16];
    let mut ms: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
    let mut cache_mb = vec![0.0; sizes.len()];
    for run in 0..runs {
        for (i, &n) in sizes.iter().enumerate() {
            let cfg = CrowdConfig {
                samples: n,
                max_tokens: tokens,
                select: Selection::Mbr(Utility::Chrf),
                answer_regex: None,
            };
            let mut crowd = CrowdRun::start(&lm, &ids, &knobs, cfg)?;
            let mut steps = Vec::new();
            while !crowd.is_done() {
                let t0 = Instant::now();
                crowd.step(&lm)?;
                steps.push(t0.elapsed().as_secs_f64() * 1e3);
                cache_mb[i] = crowd.cache_bytes() as f64 / (1 << 20) as f64;
            }
            // The last step also chooses the winner: leave it out.
            steps.pop();
            let m = median(&steps);
            eprintln!("bench: run {run} crowd of {n}: {m:.1} ms/step");
            ms[i].push(m);
        }
    }
    let one = median(&ms[0]);
    let rows: Vec<Value> = sizes
        .iter()
        .zip(&ms)
        .zip(&cache_mb)
        .map(|((&n, m), &mb)| {
            let m = median(m);
            json!({"samples": n, "ms_per_step": m, "vs_one_sequence": m / one,
                   "tokens_per_s": n as f64 * 1e3 / m, "kv_cache_mib": mb})
        })
        .collect();
    println!(
        "{}",
        json!({"bench": "crowd", "threads": tch::get_num_threads(), "prompt_tokens": ids.len(),
               "tokens": tokens, "runs": runs, "crowds": rows})
    );
    Ok(())
}
