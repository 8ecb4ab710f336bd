//! `bench --contrast`: the cost of the contrasts against a plain greedy step in the same run
//! (contrastive search, contrastive decoding with `self:L`, DoLa), and the hidden-state taps
//! on a bare forward.

use std::time::Instant;

use serde_json::{json, Value};

use crate::decode::config::SamplerConfig;
use crate::decode::contrast::{ContrastKnobs, DolaLayers};
use crate::decode::math::median;
use crate::engine::session::Session;
use crate::model::{ids_tensor, ForwardOptions, HiddenWanted, Loaded};

use super::CliError;

const PROMPT: &str = include_str!("../../assets/speculative/prose.txt");

/// Milliseconds per step of `tokens` steps under `config`, from a fresh prompt (the prefill
/// is not counted).
fn ms_per_step(s: &mut Session, config: &SamplerConfig, tokens: usize) -> Result<f64, CliError> {
    s.set_prompt(PROMPT.trim_end())?;
    s.set_config(config.clone())?;
    s.pending_logits()?;
    let mut ms = Vec::with_capacity(tokens);
    for _ in 0..tokens {
        let t0 = Instant::now();
        s.step()?;
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
        if s.finished() {
            break;
        }
    }
    Ok(median(&ms))
}

/// Median ms of one decode forward after a 128-token context, taps off and on, alternated.
fn taps_overhead(lm: &Loaded) -> Result<(f64, f64), CliError> {
    let ids: Vec<u32> = lm.tok.encode(PROMPT)?.into_iter().take(128).collect();
    let mut cache = lm.model.new_cache();
    lm.model
        .forward(&ids_tensor(&[&ids]), &mut cache, ForwardOptions::LAST)?;
    let base = cache.len();
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for i in 0..60 {
        let hidden = if i % 2 == 0 {
            HiddenWanted::None
        } else {
            HiddenWanted::Last
        };
        let opts = ForwardOptions {
            hidden,
            ..ForwardOptions::LAST
        };
        let t0 = Instant::now();
        lm.model
            .forward(&ids_tensor(&[&[ids[i % ids.len()]]]), &mut cache, opts)?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        cache.truncate(base);
        if hidden == HiddenWanted::None {
            &mut off
        } else {
            &mut on
        }
        .push(ms);
    }
    Ok((median(&off), median(&on)))
}

/// Runs every mode `runs` times, interleaved, `tokens` steps each; prints one JSON object.
pub fn bench_contrast(lm: Loaded, tokens: usize, runs: usize) -> Result<(), CliError> {
    let (taps_off, taps_on) = taps_overhead(&lm)?;
    let layers = lm.model.config().layers;
    let greedy = SamplerConfig {
        greedy: true,
        top_k: None,
        ..SamplerConfig::default()
    };
    let modes: Vec<(&str, SamplerConfig)> = vec![
        ("plain", greedy.clone()),
        (
            "contrastive_search",
            SamplerConfig {
                penalty_alpha: Some(0.6),
                top_k: Some(4),
                ..greedy.clone()
            },
        ),
        (
            "contrastive_decoding_self",
            SamplerConfig {
                contrast: Some(ContrastKnobs {
                    amateur_layer: Some(layers / 4),
                    ..ContrastKnobs::default()
                }),
                ..greedy.clone()
            },
        ),
        (
            "dola_high",
            SamplerConfig {
                dola_layers: Some(DolaLayers::High),
                repetition_penalty: 1.2,
                ..greedy.clone()
            },
        ),
    ];
    let mut s = Session::new(lm, PROMPT.trim_end(), greedy)?;
    let mut per_mode: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for run in 0..runs {
        for (i, (name, cfg)) in modes.iter().enumerate() {
            let ms = ms_per_step(&mut s, cfg, tokens)?;
            eprintln!("bench: run {run} {name}: {ms:.2} ms/step");
            per_mode[i].push(ms);
        }
    }
    let plain = median(&per_mode[0]);
    let mut out = serde_json::Map::new();
    out.insert("bench".into(), json!("contrast"));
    out.insert("threads".into(), json!(tch::get_num_threads()));
    out.insert("tokens".into(), json!(tokens));
    out.insert("runs".into(), json!(runs));
    out.insert(
        "taps".into(),
        json!({"forward_ms_off": taps_off, "forward_ms_on": taps_on, "ratio": taps_on / taps_off}),
    );
    for ((name, cfg), ms) in modes.iter().zip(&per_mode) {
        let m = median(ms);
        let mut v: Value = json!({"ms_per_step": m, "ratio_to_plain": m / plain});
        if let Some(k) = cfg.contrast {
            v["amateur"] = json!(format!("self:{}", k.amateur_layer.unwrap_or(0)));
        }
        out.insert((*name).into(), v);
    }
    println!("{}", Value::Object(out));
    Ok(())
}
