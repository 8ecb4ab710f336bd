//! A deterministic synthetic session for the snapshot tests and the render benchmark, with no
//! model: synthetic logits over a 200-token vocabulary, each step run through the real
//! [`Sampler`] (so every trace is what the chain computes) and the engine's temperature sweep.

use std::sync::Arc;

use crate::decode::config::SamplerConfig;
use crate::decode::sampler::Sampler;
use crate::decode::stage::History;
use crate::engine::protocol::{BranchInfo, ModelInfo, Stats, StepRecord};
use crate::engine::session::record::temperature_sweep;
use crate::tui::session::RecordedSession;

const WORDS: &str = "the of and to in is was that for on with as by at from his her it he she \
they we you this which be are or an not but had have one all were when there their what so \
up out if about who them then would my into time has more like could no him some people than \
its only other new over also after first two way most after back well how our years where \
down work should because any these long even day made little each much under see say great \
while world through old same before between own might never last under home right here still \
around again small night being house hand place light water story king river stone forest \
road city voice window door morning winter sea dark fire letter friend mother garden";

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
    // The prompt carries an escape sequence (id 16), which must never reach the terminal raw.
    let prompt_ids = [0u32, 1, 16, 198, 199, 12];
    let prompt_tokens: Vec<(u32, String)> = prompt_ids
        .iter()
        .map(|&id| (id, vocab[id as usize].clone()))
        .collect();
    let mut sampler = Sampler::new(&config).expect("the demo knobs are valid");
    let mut history: Vec<u32> = prompt_ids.to_vec();
    let records: Vec<StepRecord> = (0..steps)
        .map(|i| {
            let prompt_len = prompt_ids.len();
            demo_step(i, &vocab, &mut sampler, &mut history, prompt_len, &mut rng)
        })
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
    sampler: &mut Sampler,
    history: &mut Vec<u32>,
    prompt_len: usize,
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
    // Finite logits and truncation stages with min_keep 1: the chain always keeps a token.
    let trace = sampler
        .step(&logits, History::new(history, prompt_len))
        .expect("the demo chain keeps at least one candidate");
    let config = sampler.config();
    let token_id = trace.chosen.id;
    history.push(token_id);
    StepRecord {
        index,
        token_id,
        text: vocab[token_id as usize].clone(),
        temperature_sweep: temperature_sweep(&logits, &trace, config.temperature),
        trace,
        config: config.clone(),
        forward_ms: 18.0 + 6.0 * rng.unit() as f32,
        taken: false,
    }
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
