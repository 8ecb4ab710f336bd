use super::*;
use crate::decode::config::SamplerConfig;
use crate::decode::contrast::Signals;
use crate::decode::math::log_softmax;
use crate::decode::stage::{Chain, History};

#[test]
fn row_seeds_differ_per_row_and_per_seed() {
    let seeds: Vec<u64> = (0..64).map(|r| row_seed(7, r)).collect();
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 64);
    assert_ne!(row_seed(7, 0), row_seed(8, 0));
    assert_eq!(row_seed(7, 3), seeds[3]);
}

#[test]
fn mbr_picks_the_sample_closest_to_the_crowd() {
    // Three samples near 0 and one outlier at 10: utility −|x_i − x_j|.
    let xs: [f64; 4] = [0.0, 0.5, -0.5, 10.0];
    let r = mbr(xs.len(), |i, j| -(xs[i] - xs[j]).abs());
    assert_eq!(r.chosen, 0);
    assert_eq!(r.expected[3], -(10.0 + 9.5 + 10.5) / 3.0);
    assert_eq!(r.matrix[1][2], -1.0);
    assert_eq!(mbr(1, |_, _| 5.0).expected, vec![0.0]);
}

#[test]
fn vote_takes_the_majority_and_breaks_ties_by_probability() {
    let re = regex::Regex::new(DEFAULT_ANSWER_REGEX).unwrap();
    let texts = ["so 3 + 4 = 7", "it is 7.", "maybe 8", "8", "no idea"];
    let answers: Vec<Option<String>> = texts.iter().map(|t| extract_answer(t, &re)).collect();
    assert_eq!(answers[0].as_deref(), Some("7"));
    assert_eq!(answers[4], None);
    let lps = [-3.0, -2.0, -1.0, -5.0, -0.5];
    let r = vote(&answers, &lps, false);
    // 7 and 8 tie at two votes; 8's best sample (row 2, −1.0) beats 7's (row 1, −2.0).
    assert_eq!(r.votes[0], ("8".to_string(), 2.0));
    assert_eq!(r.chosen, 2);
    // Weighted by probability, 7 wins: e^-3 + e^-2 > e^-1 + e^-5 is false, so 8 still wins;
    // make 7 more probable.
    let r = vote(&answers, &[-0.1, -0.2, -3.0, -4.0, -0.5], true);
    assert_eq!(r.votes[0].0, "7");
    assert_eq!(r.chosen, 0);
    // No answer at all: the most probable sample.
    assert_eq!(vote(&[None, None], &[-2.0, -1.0], false).chosen, 1);
}

#[test]
fn ensemble_mean_and_product_match_a_direct_computation() {
    let own: Vec<f32> = (0..50).map(|i| ((i * 37 % 11) as f32) * 0.3).collect();
    let other: Vec<f32> = (0..50).map(|i| ((i * 13 % 7) as f32) * 0.5).collect();
    let signals = Signals {
        members: vec![other.clone()],
        ..Signals::default()
    };
    let (a, b) = (log_softmax(&own), log_softmax(&other));
    for (combine, want) in [
        (
            Combine::Mean,
            (0..50)
                .map(|i| ((a[i].exp() as f64 + b[i].exp() as f64) / 2.0).ln())
                .collect::<Vec<f64>>(),
        ),
        (
            Combine::Product,
            (0..50).map(|i| (a[i] as f64 + b[i] as f64) / 2.0).collect(),
        ),
    ] {
        let cfg = SamplerConfig {
            ensemble: Some(combine),
            top_k: None,
            ..SamplerConfig::default()
        };
        let got = Chain::from_config(&cfg)
            .unwrap()
            .process(&own, History::new(&[], 0).with_signals(&signals))
            .unwrap();
        for i in 0..50 {
            assert!((got[i] as f64 - want[i]).abs() < 1e-5, "{combine} id {i}");
        }
    }
}

#[test]
fn selections_parse_and_print() {
    for s in ["mbr:chrf", "mbr:bleu", "mbr:embed", "vote", "vote:weighted"] {
        assert_eq!(s.parse::<Selection>().unwrap().to_string(), s);
    }
    assert!("mbr".parse::<Selection>().unwrap_err().contains("mbr:chrf"));
}
