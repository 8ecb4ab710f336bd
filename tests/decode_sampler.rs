//! The sampler's API: config validation, seeding and replay, the trace, degenerate input.

use logitscope::decode::{
    apply_stages, draw_for, entropy, log_softmax, top_n, DecodeError, History, Sampler,
    SamplerConfig, DEFAULT_ORDER, TRACE_CANDIDATES,
};

fn logits(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919 % 1000) as f32) / 100.0 - 5.0)
        .collect()
}

#[test]
fn defaults_are_hf_sampling_defaults() {
    let c = SamplerConfig::default();
    assert_eq!(c.temperature, 1.0);
    assert_eq!(c.top_k, Some(50));
    assert_eq!(c.top_p, None);
    assert!(!c.greedy);
    assert_eq!(c.order, DEFAULT_ORDER.map(String::from).to_vec());
    assert_eq!(c.validate(), Ok(()));
    let names: Vec<&str> = Sampler::new(&c)
        .unwrap()
        .chain()
        .stages()
        .iter()
        .map(|s| s.name())
        .collect();
    assert_eq!(names, ["top_k"]);
}

#[test]
fn validate_names_the_knob_and_the_value() {
    let base = SamplerConfig::default;
    let cases: Vec<(SamplerConfig, &str)> = vec![
        (
            SamplerConfig {
                temperature: -0.5,
                ..base()
            },
            "temperature",
        ),
        (
            SamplerConfig {
                temperature: f32::NAN,
                ..base()
            },
            "temperature",
        ),
        (
            SamplerConfig {
                top_k: Some(0),
                ..base()
            },
            "top_k",
        ),
        (
            SamplerConfig {
                top_p: Some(0.0),
                ..base()
            },
            "top_p",
        ),
        (
            SamplerConfig {
                top_p: Some(1.5),
                ..base()
            },
            "top_p",
        ),
        (
            SamplerConfig {
                min_p: Some(-0.1),
                ..base()
            },
            "min_p",
        ),
        (
            SamplerConfig {
                epsilon: Some(1.0),
                ..base()
            },
            "epsilon",
        ),
        (
            SamplerConfig {
                eta: Some(f32::NAN),
                ..base()
            },
            "eta",
        ),
        (
            SamplerConfig {
                typical_p: Some(0.0),
                ..base()
            },
            "typical_p",
        ),
        (
            SamplerConfig {
                repetition_penalty: 0.0,
                ..base()
            },
            "repetition_penalty",
        ),
        (
            SamplerConfig {
                frequency_penalty: f32::INFINITY,
                ..base()
            },
            "frequency_penalty",
        ),
        (
            SamplerConfig {
                no_repeat_ngram: Some(0),
                ..base()
            },
            "no_repeat_ngram",
        ),
        (
            SamplerConfig {
                min_keep: 0,
                ..base()
            },
            "min_keep",
        ),
        (
            SamplerConfig {
                logit_bias: vec![(3, f32::NAN)],
                ..base()
            },
            "logit_bias",
        ),
        (
            SamplerConfig {
                logit_bias: vec![(3, 1.0), (3, 2.0)],
                ..base()
            },
            "logit_bias",
        ),
        (
            SamplerConfig {
                bad_words: vec![vec![]],
                ..base()
            },
            "bad_words",
        ),
        (
            SamplerConfig {
                order: vec!["top_k".into(), "top_z".into()],
                ..base()
            },
            "top_z",
        ),
        (
            SamplerConfig {
                order: vec!["top_k".into(), "top_k".into()],
                ..base()
            },
            "top_k",
        ),
    ];
    for (cfg, knob) in cases {
        let err = cfg.validate().expect_err(knob);
        assert!(err.contains(knob), "{err:?} should name {knob}");
        assert!(!err.contains('\n'));
        assert!(Sampler::new(&cfg).is_err());
    }
}

#[test]
fn config_round_trips_through_json_and_min_keep_defaults_to_one() {
    let c = SamplerConfig {
        top_p: Some(0.9),
        bad_words: vec![vec![1, 2]],
        ..SamplerConfig::default()
    };
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<SamplerConfig>(&json).unwrap(), c);
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v.as_object_mut().unwrap().remove("min_keep");
    assert_eq!(
        serde_json::from_value::<SamplerConfig>(v).unwrap().min_keep,
        1
    );
}

#[test]
fn step_i_uses_draw_for_seed_i_and_seek_jumps_there() {
    let cfg = SamplerConfig {
        seed: 1234,
        ..SamplerConfig::default()
    };
    let l = logits(500);
    let mut s = Sampler::new(&cfg).unwrap();
    let traces: Vec<_> = (0..8)
        .map(|_| s.step(&l, History::default()).unwrap())
        .collect();
    for (i, t) in traces.iter().enumerate() {
        let u = t.chosen.draw.unwrap();
        assert_eq!(u, draw_for(1234, i as u64));
        assert!((0.0..1.0).contains(&u));
    }
    assert_ne!(traces[0].chosen.draw, traces[1].chosen.draw);
    let mut again = Sampler::new(&cfg).unwrap();
    again.seek(5);
    assert_eq!(again.next_step(), 5);
    assert_eq!(again.step(&l, History::default()).unwrap(), traces[5]);
    assert_ne!(draw_for(1, 0), draw_for(2, 0));
}

#[test]
fn replay_with_new_knobs_keeps_the_draw() {
    let l = logits(300);
    let mut s = Sampler::new(&SamplerConfig::default()).unwrap();
    let t = s.step(&l, History::default()).unwrap();
    let tighter = Sampler::new(&SamplerConfig {
        top_k: Some(3),
        ..SamplerConfig::default()
    })
    .unwrap();
    let r = tighter
        .replay(&l, History::default(), t.chosen.draw)
        .unwrap();
    assert_eq!(r.chosen.draw, t.chosen.draw);
    assert!(r.chosen.rank < 3);
}

#[test]
fn greedy_and_temperature_zero_take_the_best() {
    let l = logits(300);
    let best = top_n(&l, 1)[0].0;
    for cfg in [
        SamplerConfig {
            greedy: true,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            temperature: 0.0,
            ..SamplerConfig::default()
        },
    ] {
        let mut s = Sampler::new(&cfg).unwrap();
        let t = s.step(&l, History::default()).unwrap();
        assert_eq!(t.chosen.id, best);
        assert_eq!(t.chosen.draw, None);
        assert_eq!(t.chosen.rank, 0);
    }
}

#[test]
fn the_trace_describes_the_step() {
    let l = logits(1000);
    let cfg = SamplerConfig {
        top_k: Some(10),
        top_p: Some(0.5),
        bad_words: vec![vec![top_n(&l, 2)[1].0]],
        ..SamplerConfig::default()
    };
    let s = Sampler::new(&cfg).unwrap();
    let t = s.replay(&l, History::default(), Some(0.3)).unwrap();
    let names: Vec<&str> = t.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["bans", "top_k", "top_p"]);

    // Candidates: the raw top, best first, with raw probabilities.
    let lp = log_softmax(&l);
    let top = top_n(&l, TRACE_CANDIDATES);
    assert_eq!(t.candidates.len(), TRACE_CANDIDATES);
    for (c, (id, logit)) in t.candidates.iter().zip(&top) {
        assert_eq!((c.id, c.logit), (*id, *logit));
        assert!((c.raw_p - lp[*id as usize].exp()).abs() < 1e-6);
    }
    // The banned runner-up is removed by stage 0; top-k removes rank 10 and beyond.
    assert_eq!(t.candidates[1].removed_by, Some(0));
    assert_eq!(t.stages[0].removed_best, vec![t.candidates[1].id]);
    assert!(t.candidates[11..].iter().all(|c| c.removed_by == Some(1)));
    assert_eq!(t.stages[1].kept, 10);
    assert_eq!(t.stages[1].cutoff_rank, Some(9));
    assert_eq!(t.stages[1].removed_best.len(), 5);
    assert_eq!(t.stages[1].removed_best[0], t.candidates[11].id);
    // Mass under the entering distribution: top-k's entering set lacks the banned token.
    let entering: f64 = t
        .candidates
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, c)| c.raw_p as f64)
        .sum::<f64>();
    let kept: f64 = t.candidates[..11]
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, c)| c.raw_p as f64)
        .sum();
    assert!(
        entering <= 1.0
            && ((kept / (1.0 - t.candidates[1].raw_p as f64)) - t.stages[1].mass as f64).abs()
                < 1e-4
    );
    // Survivors carry final probabilities; removed ones 0.
    let final_sum: f32 = t.candidates.iter().map(|c| c.final_p).sum();
    assert!((final_sum - 1.0).abs() < 1e-5);
    for c in &t.candidates {
        assert_eq!(c.removed_by.is_some(), c.final_p == 0.0);
    }
    assert_eq!(
        t.kept,
        t.candidates.iter().filter(|c| c.final_p > 0.0).count()
    );
    let kept_mass: f32 = t
        .candidates
        .iter()
        .filter(|c| c.final_p > 0.0)
        .map(|c| c.raw_p)
        .sum();
    assert!((t.kept_mass - kept_mass).abs() < 1e-6);
    assert_eq!(t.final_top.len(), t.kept);
    assert!(t.final_top.windows(2).all(|w| w[0].1 >= w[1].1));
    // Step summary.
    assert!((t.entropy_raw - entropy(&l)).abs() < 1e-4);
    assert!(t.entropy_final < t.entropy_raw);
    assert_eq!(t.top1, t.candidates[0].raw_p);
    assert_eq!(t.margin, t.candidates[0].raw_p - t.candidates[1].raw_p);
    let chosen = t
        .candidates
        .iter()
        .position(|c| c.id == t.chosen.id)
        .unwrap();
    assert_eq!(t.chosen.rank, chosen);
    assert_eq!(t.chosen.raw_prob, t.candidates[chosen].raw_p);
    assert_eq!(t.chosen.final_prob, t.candidates[chosen].final_p);
    // Inverse CDF in rank order: the draw lands where the cumulative mass passes it.
    let mut cum = 0.0;
    let expect = t.final_top.iter().find(|(_, p)| {
        cum += p;
        cum > 0.3
    });
    assert_eq!(t.chosen.id, expect.unwrap().0);
}

#[test]
fn chosen_rank_is_exact_beyond_the_traced_candidates() {
    let l = logits(1000);
    let s = Sampler::new(&SamplerConfig {
        top_k: None,
        temperature: 50.0,
        ..SamplerConfig::default()
    })
    .unwrap();
    let t = s.replay(&l, History::default(), Some(0.999)).unwrap();
    let better = l
        .iter()
        .enumerate()
        .filter(|&(i, &x)| {
            x > l[t.chosen.id as usize]
                || (x == l[t.chosen.id as usize] && (i as u32) < t.chosen.id)
        })
        .count();
    assert!(better >= TRACE_CANDIDATES);
    assert_eq!(t.chosen.rank, better);
}

#[test]
fn degenerate_logits_are_errors_or_ignored() {
    let s = Sampler::new(&SamplerConfig::default()).unwrap();
    let h = History::default();
    assert_eq!(s.replay(&[], h, None), Err(DecodeError::EmptyLogits));
    assert_eq!(
        s.replay(&[f32::NAN, f32::NEG_INFINITY], h, Some(0.5)),
        Err(DecodeError::NoFiniteLogit)
    );
    // NaN counts as removed; +inf is the certain choice.
    let t = s.replay(&[f32::NAN, 1.0, 2.0], h, None).unwrap();
    assert_eq!(t.chosen.id, 2);
    assert_eq!(t.kept, 2);
    let t = s.replay(&[0.0, f32::INFINITY, 3.0], h, Some(0.99)).unwrap();
    assert_eq!(t.chosen.id, 1);
    // Huge logits and temperatures stay finite.
    let wide = Sampler::new(&SamplerConfig {
        temperature: 1e-30,
        top_k: None,
        ..SamplerConfig::default()
    })
    .unwrap();
    let t = wide
        .replay(&[f32::MAX, -f32::MAX, 0.0], h, Some(0.5))
        .unwrap();
    assert_eq!(t.chosen.id, 0);
    assert!(t.entropy_final.is_finite() && t.entropy_raw.is_finite());
    // Draws outside [0, 1) are clamped, not trusted.
    assert!(s.replay(&[1.0, 2.0], h, Some(f64::NAN)).is_ok());
    assert!(s.replay(&[1.0, 2.0], h, Some(7.0)).is_ok());
}

#[test]
fn apply_stages_matches_hf_processor_output() {
    let l = logits(100);
    let cfg = SamplerConfig {
        temperature: 0.5,
        top_k: Some(5),
        ..SamplerConfig::default()
    };
    let out = apply_stages(&cfg, &l, History::default()).unwrap();
    let top: Vec<u32> = top_n(&l, 5).iter().map(|x| x.0).collect();
    for (i, (&o, &x)) in out.iter().zip(&l).enumerate() {
        if top.contains(&(i as u32)) {
            assert_eq!(o, x / 0.5);
        } else {
            assert_eq!(o, f32::NEG_INFINITY);
        }
    }
    assert!(apply_stages(
        &SamplerConfig {
            top_k: Some(0),
            ..cfg
        },
        &l,
        History::default()
    )
    .is_err());
}

#[test]
fn helpers_handle_edge_cases() {
    assert_eq!(
        top_n(&[1.0, f32::NAN, 3.0, 3.0, 2.0], 3),
        vec![(2, 3.0), (3, 3.0), (4, 2.0)]
    );
    assert!(top_n(&[], 3).is_empty());
    let ls = log_softmax(&[0.0, 0.0, f32::NAN]);
    assert!((ls[0] - 0.5f32.ln()).abs() < 1e-6 && ls[2] == f32::NEG_INFINITY);
    assert!(log_softmax(&[f32::NAN])
        .iter()
        .all(|&x| x == f32::NEG_INFINITY));
    assert!((entropy(&[0.0; 8]) - 8f32.ln()).abs() < 1e-6);
    assert_eq!(entropy(&[f32::NEG_INFINITY]), 0.0);
    assert_eq!(entropy(&[5.0, f32::NEG_INFINITY]), 0.0);
}
