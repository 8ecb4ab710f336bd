//! What a view shows for a past step is what that step computed: a knob preview under the
//! step's own knobs reproduces its trace bit for bit (the logits are kept as f32, exactly).

mod common;

use logitscope::decode::SamplerConfig;
use logitscope::engine::session::Session;

use common::{fixture, load};

#[test]
fn a_preview_under_the_same_knobs_equals_the_step() {
    let knobs = SamplerConfig {
        temperature: 0.7,
        top_p: Some(0.9),
        repetition_penalty: 1.3,
        seed: 11,
        ..SamplerConfig::default()
    };
    let mut s = Session::new(
        load(&fixture("spec-target")),
        "The quick brown fox",
        knobs.clone(),
    )
    .unwrap();
    tch::set_num_threads(1);
    for _ in 0..12 {
        s.step().unwrap();
    }
    for step in 0..12 {
        let own = &s.steps()[step];
        let preview = s.preview(step, &knobs).unwrap();
        assert_eq!(preview.trace, own.trace, "step {step}");
        assert_eq!(
            preview.temperature_sweep, own.temperature_sweep,
            "step {step}"
        );
    }
    // Other knobs change the preview but never the step's raw probabilities.
    let other = SamplerConfig {
        temperature: 1.5,
        ..knobs
    };
    let own = s.steps()[3].clone();
    let preview = s.preview(3, &other).unwrap();
    assert_ne!(preview.trace.final_top, own.trace.final_top);
    for (a, b) in preview.trace.candidates.iter().zip(&own.trace.candidates) {
        assert_eq!((a.id, a.raw_p.to_bits()), (b.id, b.raw_p.to_bits()));
    }
}

#[test]
fn the_pending_distribution_is_what_the_next_step_computes() {
    let knobs = SamplerConfig {
        temperature: 0.8,
        top_k: Some(20),
        seed: 5,
        ..SamplerConfig::default()
    };
    let mut s = Session::new(
        load(&fixture("spec-target")),
        "The quick brown fox",
        knobs.clone(),
    )
    .unwrap();
    tch::set_num_threads(1);
    for i in 0..8 {
        // Look before choosing, twice (the second look costs no forward), then draw.
        let pending = s.pending_record().unwrap().expect("not finished");
        assert_eq!(s.pending_record().unwrap().unwrap().trace, pending.trace);
        assert_eq!(pending.index, i);
        let step = s.step().unwrap();
        assert_eq!(step.trace, pending.trace, "step {i}");
        assert_eq!(step.token_id, pending.trace.chosen.id);
    }
    // Knobs changed before choosing reshape the pending distribution; the step follows them.
    let pending = s.pending_record().unwrap().unwrap();
    s.set_config(SamplerConfig {
        top_k: Some(3),
        ..knobs.clone()
    })
    .unwrap();
    let narrowed = s.pending_record().unwrap().unwrap();
    assert_eq!(
        narrowed.trace.candidates[0].raw_p,
        pending.trace.candidates[0].raw_p
    );
    assert!(narrowed.trace.kept <= 3 && pending.trace.kept > 3);
    // Taking a candidate by hand records it with the pending distribution's raw numbers.
    let pick = narrowed.trace.candidates[2].id;
    let taken = s.take(pick).unwrap();
    assert_eq!(taken.token_id, pick);
    assert_eq!(taken.trace.candidates, narrowed.trace.candidates);
}

#[test]
fn the_lens_shows_the_pending_token_before_it_is_chosen() {
    let mut s = Session::new(
        load(&fixture("spec-target")),
        "The quick brown fox",
        SamplerConfig::default(),
    )
    .unwrap();
    tch::set_num_threads(1);
    // Before any step, and after some: the last column is the next token's, and its final
    // row is the pending distribution itself.
    for steps in [0, 3] {
        while s.steps().len() < steps {
            s.step().unwrap();
        }
        let pending = s.pending_record().unwrap().unwrap();
        let view = s.lens_view(steps).unwrap();
        assert_eq!(view.steps.last(), Some(&steps));
        assert_eq!(view.chosen.last().map(String::as_str), Some("(next)"));
        assert_eq!(view.steps.len(), steps.min(5) + 1);
        let last_row = view.grid.cells.last().unwrap();
        let (id, lp) = last_row.last().unwrap().top[0];
        let best = &pending.trace.candidates[0];
        assert_eq!(id, best.id);
        assert!(
            (lp.exp() - best.raw_p).abs() < 1e-5,
            "{} vs {}",
            lp.exp(),
            best.raw_p
        );
    }
    assert!(s.lens_view(s.steps().len() + 1).is_err());
}
