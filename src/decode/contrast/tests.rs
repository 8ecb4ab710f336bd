use super::*;
use crate::decode::config::SamplerConfig;
use crate::decode::stage::{Chain, History};
use crate::decode::trace::SearchRow;

fn logits(seed: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let h = (i as u32 ^ seed.wrapping_mul(0x9e37_79b9)).wrapping_mul(2654435761);
            (h >> 8) as f32 / (1u32 << 24) as f32 * 10.0 - 5.0
        })
        .collect()
}

fn chain(cfg: SamplerConfig) -> Chain {
    Chain::from_config(&cfg).unwrap()
}

#[test]
fn contrastive_decoding_matches_the_formula_recomputed_from_both_models() {
    let (expert, amateur) = (logits(1, 300), logits(7, 300));
    let knobs = ContrastKnobs {
        alpha: 0.2,
        amateur_temperature: 0.5,
        amateur_layer: None,
    };
    let cfg = SamplerConfig {
        contrast: Some(knobs),
        top_k: None,
        ..SamplerConfig::default()
    };
    let signals = Signals {
        amateur: Some(amateur.clone()),
        ..Signals::default()
    };
    let got = chain(cfg)
        .process(&expert, History::new(&[], 0).with_signals(&signals))
        .unwrap();
    // Independent: f64 softmaxes over the whole vocabulary.
    let lse = |v: &[f64]| {
        let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    };
    let e: Vec<f64> = expert.iter().map(|&x| x as f64).collect();
    let a: Vec<f64> = amateur.iter().map(|&x| x as f64 / 0.5).collect();
    let (ze, za) = (lse(&e), lse(&a));
    let max_p = e.iter().map(|x| (x - ze).exp()).fold(0.0, f64::max);
    let mut kept = 0;
    for i in 0..300 {
        let p = (e[i] - ze).exp();
        if p >= 0.2 * max_p * (1.0 - 1e-9) {
            kept += 1;
            let want = (e[i] - ze) - (a[i] - za);
            assert!(
                (got[i] as f64 - want).abs() < 1e-4,
                "id {i}: {} vs {want}",
                got[i]
            );
        } else {
            assert_eq!(got[i], f32::NEG_INFINITY, "id {i} is implausible");
        }
    }
    assert!(kept > 1);
}

#[test]
fn contrast_trace_rows_hold_expert_amateur_and_their_difference() {
    let (expert, amateur) = (logits(3, 100), logits(5, 100));
    let cfg = SamplerConfig {
        contrast: Some(ContrastKnobs::default()),
        top_k: None,
        ..SamplerConfig::default()
    };
    let signals = Signals {
        amateur: Some(amateur),
        ..Signals::default()
    };
    let mut c = Candidates::from_logits(&expert).unwrap();
    let traces = chain(cfg)
        .apply_traced(
            &mut c,
            History::new(&[], 0).with_signals(&signals),
            |_, _| {},
        )
        .unwrap();
    let t = &traces[0];
    assert_eq!(t.name, "contrast");
    let Some(crate::decode::trace::StageDetail::Contrast { rows, .. }) = &t.detail else {
        panic!("no contrast detail")
    };
    assert_eq!(rows.len(), t.kept.min(CONTRAST_ROWS));
    for r in rows {
        assert_eq!(r.contrast, r.expert - r.amateur);
    }
    assert!(rows.windows(2).all(|w| w[0].contrast >= w[1].contrast));
}

#[test]
fn dola_candidate_layers_follow_hugging_face() {
    assert_eq!(
        DolaLayers::High.candidates(30, true),
        vec![15, 17, 19, 21, 23, 25, 27, 29]
    );
    assert_eq!(
        DolaLayers::Low.candidates(30, true),
        vec![2, 4, 6, 8, 10, 12, 14]
    );
    assert_eq!(DolaLayers::Low.candidates(30, false)[0], 0);
    assert_eq!(
        DolaLayers::High.candidates(48, false),
        (28..48).step_by(2).collect::<Vec<_>>()
    );
    assert_eq!(DolaLayers::Low.candidates(4, true), vec![2]);
    assert_eq!(DolaLayers::List(vec![3, 40]).candidates(30, true), vec![3]);
    assert_eq!("10,20".parse(), Ok(DolaLayers::List(vec![10, 20])));
    assert!("ten".parse::<DolaLayers>().unwrap_err().contains("\"ten\""));
}

#[test]
fn dola_picks_the_most_divergent_layer_and_contrasts_with_it() {
    let fin = logits(11, 200);
    let near: Vec<f32> = fin.iter().map(|x| x + 0.01).collect();
    let far = logits(13, 200);
    let signals = Signals {
        premature: vec![(4, near), (6, far.clone())],
        ..Signals::default()
    };
    let cfg = SamplerConfig {
        dola_layers: Some(DolaLayers::List(vec![4, 6])),
        top_k: None,
        ..SamplerConfig::default()
    };
    let mut c = Candidates::from_logits(&fin).unwrap();
    let traces = chain(cfg)
        .apply_traced(
            &mut c,
            History::new(&[], 0).with_signals(&signals),
            |_, _| {},
        )
        .unwrap();
    let Some(crate::decode::trace::StageDetail::Contrast {
        premature_layer,
        divergence: d,
        rows,
    }) = &traces[0].detail
    else {
        panic!("no dola detail")
    };
    assert_eq!(*premature_layer, Some(6));
    assert!(d[0].1 < 1e-6 && d[1].1 > d[0].1);
    let base = log_softmax(&far);
    for r in rows {
        assert_eq!(r.amateur, base[r.id as usize]);
    }
}

#[test]
fn divergence_is_zero_for_equal_distributions_and_symmetric() {
    let (a, b) = (log_softmax(&logits(1, 50)), log_softmax(&logits(2, 50)));
    assert!(divergence(&a, &a).abs() < 1e-12);
    assert!((divergence(&a, &b) - divergence(&b, &a)).abs() < 1e-12);
    assert!(divergence(&a, &b) > 0.0);
}

#[test]
fn search_trades_confidence_against_similarity_to_the_context() {
    let context = vec![1.0, 0.0, 0.0, 1.0];
    let hidden = vec![vec![2.0, 0.0], vec![1.0, -1.0]];
    let rows = search::score(&[(5, 0.6), (9, 0.4)], &hidden, &context, 0.6);
    assert_eq!(rows[0].penalty, 1.0);
    assert!((rows[1].penalty as f64 - 0.5f64.sqrt()).abs() < 1e-6);
    assert!((rows[0].score - (0.4 * 0.6 - 0.6)).abs() < 1e-6);
    assert_eq!(search::best(&rows), 1);
    let tie = [
        SearchRow {
            id: 1,
            prob: 0.5,
            penalty: 0.0,
            score: 0.2,
        },
        SearchRow {
            id: 2,
            prob: 0.5,
            penalty: 0.0,
            score: 0.2,
        },
    ];
    assert_eq!(search::best(&tie), 0);
}

#[test]
fn lens_cell_of_the_final_layer_has_zero_kl() {
    let l = logits(4, 64);
    let lp = log_softmax(&l);
    let cell = lens::lens_cell(&l, &lp, 5);
    assert!(cell.kl_to_final.abs() < 1e-6);
    assert_eq!(cell.top.len(), 5);
    assert!(lens::lens_cell(&logits(8, 64), &lp, 5).kl_to_final > 0.01);
}
