//! The default chain (penalties, temperature, top-k 50, top-p 0.95) plus choice and the full
//! trace, on one 49,152-wide logit vector (target: median <= 1 ms on one core), and the
//! temperature panel's sweep a step record carries (five temperatures, 20 candidates).

use criterion::{criterion_group, criterion_main, Criterion};
use logitscope::decode::math::Tempered;
use logitscope::decode::{History, Sampler, SamplerConfig};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

const VOCAB: usize = 49_152;

/// Logits shaped like a model's: a Gaussian bulk and a few strong candidates.
fn logits() -> Vec<f32> {
    let mut rng = Pcg64::seed_from_u64(7);
    let mut v: Vec<f32> = (0..VOCAB)
        .map(|_| {
            let s: f32 = (0..4).map(|_| rng.random::<f32>()).sum();
            (s - 2.0) * 3.0
        })
        .collect();
    for i in 0..20 {
        v[rng.random_range(0..VOCAB)] = 12.0 - i as f32 * 0.3;
    }
    v
}

fn bench(c: &mut Criterion) {
    let logits = logits();
    let history: Vec<u32> = (0..512).map(|i| (i * 97 % VOCAB) as u32).collect();
    let cfg = SamplerConfig {
        temperature: 0.8,
        top_k: Some(50),
        top_p: Some(0.95),
        repetition_penalty: 1.1,
        frequency_penalty: 0.2,
        presence_penalty: 0.1,
        ..SamplerConfig::default()
    };
    let mut sampler = Sampler::new(&cfg).expect("valid config");
    let history = History::new(&history, 256);
    c.bench_function("default_chain_49152", |b| {
        b.iter(|| sampler.step(&logits, history).expect("step"))
    });
    c.bench_function("temperature_sweep_49152", |b| {
        b.iter(|| {
            let mut tempered = Tempered::new(&logits);
            [0.3, 0.7, 0.8, 1.0, 1.5].map(|t| tempered.probs(t, 0..20))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
