//! Goodness of fit: ancestral sampling draws from the final distribution.
//!
//! Pearson's chi-square statistic over N = 20,000 seeded draws; its p-value comes from the
//! Wilson–Hilferty approximation: (X/k)^(1/3) is close to normal with mean 1 - 2/(9k) and
//! variance 2/(9k) for k degrees of freedom, and the normal tail uses the Numerical Recipes
//! `erfc` approximation (relative error < 1.2e-7).

mod common;

use common::stats::chi2_sf;
use logitscope::decode::{History, Sampler, SamplerConfig};

const N: usize = 20_000;

/// Pearson's statistic of `counts` against probabilities `expected` (summing to 1).
fn chi2(counts: &[usize], expected: &[f64]) -> f64 {
    let n: usize = counts.iter().sum();
    counts
        .iter()
        .zip(expected)
        .map(|(&c, &q)| {
            let e = q * n as f64;
            (c as f64 - e).powi(2) / e
        })
        .sum()
}

const LOGITS: [f32; 10] = [2.0, 1.5, 1.4, 1.0, 0.3, 0.2, -0.5, -1.0, -3.0, -4.0];

fn sampler() -> Sampler {
    Sampler::new(&SamplerConfig {
        temperature: 0.8,
        top_k: Some(6),
        seed: 42,
        ..SamplerConfig::default()
    })
    .unwrap()
}

/// Counts per id of N draws, and the final distribution they should follow.
fn draws() -> (Vec<usize>, Vec<f64>) {
    let mut s = sampler();
    let (c, _) = s.apply_chain(&LOGITS, History::default()).unwrap();
    let mut q = vec![0.0; LOGITS.len()];
    for x in c.items() {
        q[x.id as usize] = x.p as f64;
    }
    let mut counts = vec![0; LOGITS.len()];
    for _ in 0..N {
        counts[s.step(&LOGITS, History::default()).unwrap().chosen.id as usize] += 1;
    }
    (counts, q)
}

/// Drops ids the distribution gives no mass, after checking they were never drawn.
fn support(counts: &[usize], q: &[f64]) -> (Vec<usize>, Vec<f64>) {
    let mut c = Vec::new();
    let mut e = Vec::new();
    for (&n, &p) in counts.iter().zip(q) {
        if p > 0.0 {
            c.push(n);
            e.push(p);
        } else {
            assert_eq!(n, 0, "drew a removed token");
        }
    }
    (c, e)
}

#[test]
fn the_p_value_approximation_matches_tables() {
    // Upper 5% and 0.1% points of chi-square with 10 and 5 degrees of freedom.
    assert!((chi2_sf(18.307, 10) - 0.05).abs() < 2e-3);
    assert!((chi2_sf(29.588, 10) - 0.001).abs() < 3e-4);
    assert!((chi2_sf(11.070, 5) - 0.05).abs() < 3e-3);
}

#[test]
fn draws_fit_the_final_distribution() {
    let (counts, q) = draws();
    let (c, e) = support(&counts, &q);
    assert_eq!(c.len(), 6);
    let p = chi2_sf(chi2(&c, &e), c.len() - 1);
    assert!(p > 0.001, "p = {p}, counts {counts:?}, expected {q:?}");
}

#[test]
fn draws_do_not_fit_a_wrong_distribution() {
    let (counts, q) = draws();
    let (c, mut e) = support(&counts, &q);
    // The untempered top-6 distribution: close, but wrong.
    let z: f64 = LOGITS[..6].iter().map(|&l| (l as f64).exp()).sum();
    for (i, w) in e.iter_mut().enumerate() {
        *w = (LOGITS[i] as f64).exp() / z;
    }
    let p = chi2_sf(chi2(&c, &e), c.len() - 1);
    assert!(p < 0.001, "p = {p}: the test cannot tell T=0.8 from T=1");
}
