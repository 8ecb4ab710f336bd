//! A deterministic synthetic session (200-token vocabulary, a real-looking sampler chain) for
//! the snapshot fixture and the render benchmark; no model needed.

use std::sync::Arc;

use crate::decode::config::SamplerConfig;
use crate::decode::math::{entropy, log_softmax};
use crate::decode::trace::{CandidateTrace, Chosen, StageTrace, StepTrace};
use crate::engine::protocol::{BranchInfo, ModelInfo, Stats, StepRecord, TemperatureColumn};
use crate::tui::session::RecordedSession;

const WORDS: &str = "the of and to in is was that for on with as by at from his her it he she \
they we you this which be are or an not but had have one all were when there their what so \
up out if about who them then would my into time has more like could no him some people than \
its only other new over also after first two way most after back well how our years where \
down work should because any these long even day made little each much under see say great \
while world through old same before between own might never last under home right here still \
around again small night being house hand place light water story king river stone forest \
road city voice window door morning winter sea dark fire letter friend mother garden";

/// Candidates traced per step (the engine traces up to `TRACE_CANDIDATES`; fewer keeps the
/// fixture small).
const CANDIDATES: usize = 32;

/// Tokens that exercise the layout: newlines, tabs, escapes, wide and combining characters.
const ODD: [&str; 12] = [
    "\n",
    "\n\n",
    "\t",
    "\\xe4",
    "\\xbd\\xa0",
    "日本",
    "語",
    " café",
    " naïve",
    "🙂",
    "\u{1b}[31m",
    ".",
];

/// The demo vocabulary: 200 display strings.
pub fn demo_vocab() -> Vec<String> {
    let mut vocab: Vec<String> = ["Once", ",", ";", "!", "?", "\""]
        .iter()
        .chain(ODD.iter())
        .map(|s| s.to_string())
        .collect();
    vocab.extend(WORDS.split_whitespace().map(|w| format!(" {w}")));
    vocab.truncate(200);
    let mut i = 0;
    while vocab.len() < 200 {
        vocab.push(format!(" w{i}"));
        i += 1;
    }
    vocab
}

/// The knobs the demo session was "generated" with.
pub fn demo_config(seed: u64) -> SamplerConfig {
    SamplerConfig {
        temperature: 0.8,
        top_k: Some(40),
        top_p: Some(0.92),
        min_p: Some(0.02),
        seed,
        ..SamplerConfig::default()
    }
}

/// A session of `steps` generated tokens, identical for identical arguments.
pub fn demo_session(steps: usize, seed: u64) -> RecordedSession {
    let vocab = demo_vocab();
    let config = demo_config(seed);
    let mut rng = SplitMix(seed);
    let prompt_ids = [0u32, 1, 198, 199, 12];
    let prompt_tokens: Vec<(u32, String)> = prompt_ids
        .iter()
        .map(|&id| (id, vocab[id as usize].clone()))
        .collect();
    let records: Vec<StepRecord> = (0..steps)
        .map(|i| demo_step(i, &vocab, &config, &mut rng))
        .collect();
    let context_used = prompt_tokens.len() + steps;
    RecordedSession {
        info: ModelInfo {
            name: "demo-200".into(),
            params: 135_000_000,
            dtype: "bf16".into(),
            context_len: 8192,
            vocab: Arc::new(vocab),
            layers: 30,
            draft_model: None,
            specials: Vec::new(),
        },
        prompt: prompt_tokens.iter().map(|(_, t)| t.as_str()).collect(),
        prompt_tokens,
        branches: vec![
            BranchInfo {
                id: 0,
                fork_step: 0,
                len: steps,
                preview: "(main)".into(),
            },
            BranchInfo {
                id: 1,
                fork_step: steps / 2,
                len: 7,
                preview: " the king said".into(),
            },
        ],
        current_branch: 0,
        stats: Stats {
            ms_per_token: 21.4,
            tokens_per_s: 46.7,
            kv_cache_bytes: context_used as u64 * 23_040,
            context_used,
        },
        steps: records,
        config,
        finished: false,
    }
}

fn demo_step(
    index: usize,
    vocab: &[String],
    config: &SamplerConfig,
    rng: &mut SplitMix,
) -> StepRecord {
    let n = vocab.len();
    let stride = [7, 11, 13, 17, 19, 23, 29, 31][rng.below(8)];
    let offset = rng.below(n);
    let sharp = 0.5 + 2.5 * rng.unit() as f32;
    let logits: Vec<f32> = (0..n)
        .map(|i| {
            let rank = (i * stride + offset) % n;
            -sharp * 2.0 * ((1 + rank) as f32).ln() + 0.5 * rng.unit() as f32
        })
        .collect();
    let all = vec![true; n];
    let raw = softmax(&logits, &all);
    let mut alive = all.clone();
    let mut current = logits.clone();
    let mut removed_by = vec![None; n];
    let mut stages = Vec::new();
    for name in &config.order {
        let p = softmax(&current, &alive);
        let sorted = by_prob(&p, &alive);
        let (keep, cutoff, threshold, params) = match (name.as_str(), config) {
            ("temperature", c) => {
                current.iter_mut().for_each(|l| *l /= c.temperature);
                (
                    sorted.len(),
                    None,
                    Some(c.temperature),
                    format!("T={}", c.temperature),
                )
            }
            ("top_k", SamplerConfig { top_k: Some(k), .. }) => {
                let keep = (*k).min(sorted.len());
                (keep, Some(keep - 1), None, format!("k={k}"))
            }
            (
                "top_p",
                SamplerConfig {
                    top_p: Some(top_p), ..
                },
            ) => {
                let mut mass = 0.0;
                let keep = sorted
                    .iter()
                    .take_while(|&&i| {
                        let before = mass;
                        mass += p[i];
                        before < *top_p
                    })
                    .count();
                (keep, Some(keep - 1), Some(*top_p), format!("p={top_p}"))
            }
            ("min_p", SamplerConfig { min_p: Some(m), .. }) => {
                let floor = m * p[sorted[0]];
                let keep = sorted.iter().take_while(|&&i| p[i] >= floor).count().max(1);
                (keep, Some(keep - 1), Some(floor), format!("min_p={m}"))
            }
            _ => continue,
        };
        for &i in &sorted[keep..] {
            alive[i] = false;
            removed_by[i] = Some(stages.len());
        }
        stages.push(StageTrace {
            name: name.clone(),
            params,
            kept: keep,
            mass: sorted[..keep].iter().map(|&i| p[i]).sum(),
            cutoff_rank: cutoff,
            threshold,
            removed_best: sorted[keep..].iter().take(5).map(|&i| i as u32).collect(),
            detail: None,
        });
    }
    let fin = softmax(&current, &alive);
    let final_sorted = by_prob(&fin, &alive);
    let draw = rng.unit();
    let mut mass = 0.0;
    let chosen = *final_sorted
        .iter()
        .find(|&&i| {
            mass += fin[i] as f64;
            mass > draw
        })
        .unwrap_or(&final_sorted[0]);
    let raw_sorted = by_prob(&raw, &all);
    let candidates: Vec<CandidateTrace> = raw_sorted
        .iter()
        .take(CANDIDATES)
        .map(|&i| CandidateTrace {
            id: i as u32,
            logit: logits[i],
            raw_p: raw[i],
            final_p: fin[i],
            removed_by: removed_by[i],
        })
        .collect();
    let temperature_sweep = [0.3, 0.7, 1.0, 1.5, config.temperature]
        .iter()
        .map(|&t| {
            let scaled: Vec<f32> = logits.iter().map(|l| l / t).collect();
            let p = softmax(&scaled, &all);
            TemperatureColumn {
                temperature: t,
                probs: candidates.iter().map(|c| p[c.id as usize]).collect(),
            }
        })
        .collect();
    let trace = StepTrace {
        stages,
        final_top: final_sorted
            .iter()
            .take(CANDIDATES)
            .map(|&i| (i as u32, fin[i]))
            .collect(),
        chosen: Chosen {
            id: chosen as u32,
            raw_prob: raw[chosen],
            final_prob: fin[chosen],
            rank: raw_sorted.iter().position(|&i| i == chosen).unwrap_or(0),
            draw: Some(draw),
        },
        entropy_raw: entropy(&logits),
        entropy_final: entropy(&masked(&current, &alive)),
        top1: raw[raw_sorted[0]],
        margin: raw[raw_sorted[0]] - raw[raw_sorted[1]],
        kept_mass: (0..n).filter(|&i| alive[i]).map(|i| raw[i]).sum(),
        kept: alive.iter().filter(|&&a| a).count(),
        candidates,
    };
    StepRecord {
        index,
        token_id: chosen as u32,
        text: vocab[chosen].clone(),
        trace,
        config: config.clone(),
        forward_ms: 18.0 + 6.0 * rng.unit() as f32,
        temperature_sweep,
        taken: false,
    }
}

/// Probabilities of the `alive` entries (the others 0), by the chain's own log-softmax.
fn softmax(logits: &[f32], alive: &[bool]) -> Vec<f32> {
    log_softmax(&masked(logits, alive))
        .iter()
        .map(|l| l.exp())
        .collect()
}

/// The logits with the dead entries at `-inf`.
fn masked(logits: &[f32], alive: &[bool]) -> Vec<f32> {
    logits
        .iter()
        .zip(alive)
        .map(|(&l, &a)| if a { l } else { f32::NEG_INFINITY })
        .collect()
}

fn by_prob(p: &[f32], alive: &[bool]) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..p.len()).filter(|&i| alive[i]).collect();
    ids.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    ids
}

/// SplitMix64: a tiny deterministic generator.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
