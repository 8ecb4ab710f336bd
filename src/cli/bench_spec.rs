//! `bench --speculative`: speculative decoding against plain decoding in the same run, on a
//! prose, a code and a repetitive prompt, for prompt lookup, early exits and a draft model.

use std::time::Instant;

use serde_json::{json, Value};

use crate::decode::config::SamplerConfig;
use crate::decode::math::median;
use crate::decode::speculative::{DraftSpec, GammaSchedule};
use crate::engine::roles::Role;
use crate::engine::run::{SpecConfig, SpecRun};
use crate::engine::session::Session;
use crate::model::Loaded;

use super::CliError;

/// The three prompts: name and text.
const TEXTS: [(&str, &str); 3] = [
    ("prose", include_str!("../../assets/speculative/prose.txt")),
    ("code", include_str!("../../assets/speculative/code.txt")),
    (
        "repetitive",
        include_str!("../../assets/speculative/repetitive.txt"),
    ),
];

/// Greedy speculative decoding of `tokens` tokens per prompt with each draft (γ = `gamma`),
/// against plain greedy decoding, median of `runs`; one JSON line per (prompt, draft).
pub fn bench_speculative(
    lm: Loaded,
    draft_model: Option<Loaded>,
    tokens: usize,
    gamma: usize,
    runs: usize,
    only: Option<&[String]>,
) -> Result<(), CliError> {
    if let Some(bad) = only
        .unwrap_or_default()
        .iter()
        .find(|t| !TEXTS.iter().any(|(n, _)| n == t))
    {
        return Err(CliError::usage(format!(
            "--texts: no prompt '{bad}' (prose, code, repetitive)"
        )));
    }
    let layers = lm.model.config().layers;
    let greedy = SamplerConfig {
        greedy: true,
        ..SamplerConfig::default()
    };
    let mut drafts = vec![DraftSpec::NGram(3)];
    drafts.extend(
        [layers / 4, layers / 2, 3 * layers / 4]
            .into_iter()
            .filter(|&l| l >= 1 && l < layers)
            .map(DraftSpec::SelfLayers),
    );
    let mut s = Session::new(lm, TEXTS[0].1, greedy)?;
    if let Some(d) = draft_model {
        drafts.push(DraftSpec::Model(d.path.clone()));
        s.attach(Role::Draft, d)?;
    }
    for (name, text) in TEXTS {
        if only.is_some_and(|o| !o.iter().any(|t| t == name)) {
            continue;
        }
        let text = text.trim_end();
        let mut plain = Vec::new();
        let mut spec: Vec<(Vec<f64>, Value)> = vec![(Vec::new(), Value::Null); drafts.len()];
        // Interleaved so drift in the machine's speed hits every variant alike.
        for _ in 0..runs {
            s.set_prompt(text)?;
            // The prompt's prefill is not timed.
            s.step()?;
            let t0 = Instant::now();
            while s.steps().len() < tokens && !s.finished() {
                s.step()?;
            }
            plain.push(per_s(s.steps().len() - 1, t0));
            for (i, d) in drafts.iter().enumerate() {
                s.set_prompt(text)?;
                s.step()?;
                let mut run = SpecRun::new(
                    SpecConfig {
                        draft: d.clone(),
                        gamma: GammaSchedule {
                            gamma,
                            adaptive: false,
                        },
                    },
                    &s,
                )?;
                let t0 = Instant::now();
                while s.steps().len() < tokens && !s.finished() {
                    let left = tokens - s.steps().len();
                    run.round(&mut s, left)?;
                }
                spec[i].0.push(per_s(s.steps().len() - 1, t0));
                let st = run.stats();
                spec[i].1 = json!({
                    "acceptance_rate": st.acceptance_rate(),
                    "mean_alpha": st.mean_alpha(),
                    "tokens_per_target_call": st.tokens_per_target_call(),
                    "target_calls": st.target_calls,
                });
            }
        }
        let base = median(&plain);
        for (d, (tps, stats)) in drafts.iter().zip(spec) {
            let m = median(&tps);
            println!(
                "{}",
                json!({"bench": "speculative", "text": name, "draft": d.to_string(),
                       "gamma": gamma, "tokens": tokens, "greedy": true,
                       "plain_tokens_per_s": base, "tokens_per_s": m,
                       "speedup": m / base, "stats": stats})
            );
        }
    }
    Ok(())
}

/// Tokens per second for `n` tokens since `t0`.
fn per_s(n: usize, t0: Instant) -> f64 {
    n as f64 / t0.elapsed().as_secs_f64().max(1e-9)
}
