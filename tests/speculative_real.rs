//! Greedy speculative decoding equals plain greedy decoding token for token on the real model,
//! for all three kinds of draft: prompt lookup, early exit, and a draft model (the target's
//! own file loaded a second time: same vocabulary by construction). A divergence is allowed
//! only where plain greedy had a near-tie (top-1 minus top-2 probability below 2e-3), since the
//! verification forward runs several positions at once and rounds differently.

mod common;

use logitscope::decode::speculative::{DraftSpec, GammaSchedule};
use logitscope::decode::SamplerConfig;
use logitscope::engine::roles::Role;
use logitscope::engine::run::{SpecConfig, SpecRun};
use logitscope::engine::session::Session;

const TOKENS: usize = 32;
const NEAR_TIE: f32 = 2e-3;

const PROMPTS: [&str; 3] = [
    "The three most important ideas in the history of science are",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Monday: run 5 km, read.\nTuesday: run 5 km, read.\nWednesday: run 5 km, read.\nThursday:",
];

#[test]
fn greedy_speculative_equals_plain_greedy_for_every_draft_kind() {
    let Some(path) = common::default_model() else {
        return;
    };
    let greedy = SamplerConfig {
        greedy: true,
        ..SamplerConfig::default()
    };
    let mut s = Session::new(common::load(&path), PROMPTS[0], greedy).unwrap();
    s.attach(Role::Draft, common::load(&path)).unwrap();
    let drafts = [
        DraftSpec::NGram(3),
        DraftSpec::SelfLayers(12),
        DraftSpec::Model(path.clone()),
    ];
    for prompt in PROMPTS {
        s.set_prompt(prompt).unwrap();
        while s.steps().len() < TOKENS && !s.finished() {
            s.step().unwrap();
        }
        let plain: Vec<(u32, f32)> = s
            .steps()
            .iter()
            .map(|r| (r.token_id, r.trace.margin))
            .collect();
        for draft in &drafts {
            s.set_prompt(prompt).unwrap();
            let cfg = SpecConfig {
                draft: draft.clone(),
                gamma: GammaSchedule {
                    gamma: 4,
                    adaptive: false,
                },
            };
            let mut run = SpecRun::new(cfg, &s).unwrap();
            while s.steps().len() < plain.len() && !s.finished() {
                let left = plain.len() - s.steps().len();
                run.round(&mut s, left).unwrap();
            }
            let got: Vec<u32> = s.steps().iter().map(|r| r.token_id).collect();
            let st = run.stats();
            eprintln!(
                "{draft} on {prompt:?}: {} rounds, acceptance {:.2}, {:.2} tokens/call",
                st.rounds,
                st.acceptance_rate(),
                st.tokens_per_target_call()
            );
            match got.iter().zip(&plain).position(|(a, (b, _))| a != b) {
                None => assert_eq!(got.len(), plain.len(), "{draft}: stopped early"),
                Some(i) => assert!(
                    plain[i].1 < NEAR_TIE,
                    "{draft} on {prompt:?}: token {i} differs from plain greedy (margin {})",
                    plain[i].1
                ),
            }
            if matches!(draft, DraftSpec::Model(_)) {
                assert!(
                    st.acceptance_rate() > 0.9,
                    "the target as its own draft is accepted almost always"
                );
            }
        }
    }
}
