use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use super::*;

fn d(v: &[f32]) -> Dist {
    Dist(v.to_vec())
}

#[test]
fn residual_and_overlap_by_hand() {
    let p = d(&[0.5, 0.3, 0.2, 0.0]);
    let q = d(&[0.2, 0.5, 0.2, 0.1]);
    // min: 0.2 + 0.3 + 0.2 + 0 = 0.7; max(0, p - q) = [0.3, 0, 0, 0] -> all mass on id 0.
    assert!((overlap(&p, &q) - 0.7).abs() < 1e-6);
    assert_eq!(residual(&p, &q), d(&[1.0, 0.0, 0.0, 0.0]));
    // Identical distributions leave no residual mass: p itself.
    assert_eq!(residual(&p, &p), p);
    assert!((expected_tokens_per_call(0.5, 3) - 1.875).abs() < 1e-12);
    assert_eq!(expected_tokens_per_call(1.0, 4), 5.0);
}

#[test]
fn greedy_accepts_while_the_draft_matches_the_argmax() {
    let p0 = d(&[0.1, 0.6, 0.3]);
    let p1 = d(&[0.7, 0.2, 0.1]);
    let p2 = d(&[0.2, 0.2, 0.6]);
    let q = d(&[0.0, 1.0, 0.0]);
    // d_0 = 1 matches argmax p0; d_1 = 1 does not (argmax p1 = 0) -> replaced by 0.
    let r = verify(
        &[(1, q.clone()), (1, q.clone())],
        &[p0.clone(), p1.clone(), p2.clone()],
        None,
    );
    assert_eq!(r.accepted(), 1);
    assert_eq!(r.emitted(), vec![1, 0]);
    assert!(r.bonus.is_none());
    assert!(r.drafted[1].verified && !r.drafted[1].accepted);
    // All match -> the bonus is argmax p_γ.
    let r = verify(&[(1, q.clone()), (0, q)], &[p0, p1, p2], None);
    assert_eq!(r.emitted(), vec![1, 0, 2]);
    assert_eq!(r.bonus.as_ref().map(|b| b.id), Some(2));
}

#[test]
fn acceptance_follows_the_draws_and_stops_at_the_first_rejection() {
    let p = d(&[0.5, 0.25, 0.25]);
    let q = d(&[0.25, 0.5, 0.25]);
    // d_0 = 1: accept prob 0.25/0.5 = 0.5; draw 0.4 accepts. d_1 = 1 again, draw 0.6 rejects;
    // the residual is all on id 0 so the replacement is 0 whatever the last draw.
    let draws = RoundDraws {
        draft: vec![0.0, 0.0, 0.0],
        accept: vec![0.4, 0.6, 0.0],
        last: 0.99,
    };
    let r = verify(
        &[(1, q.clone()), (1, q.clone()), (2, q.clone())],
        &[p.clone(), p.clone(), p.clone(), p.clone()],
        Some(&draws),
    );
    assert_eq!(r.drafted[0].accept_prob, 0.5);
    assert!(r.drafted[0].accepted);
    assert!(!r.drafted[1].accepted && r.drafted[1].verified);
    assert!(
        !r.drafted[2].verified,
        "nothing after a rejection is verified"
    );
    let res = r.resampled.as_ref().unwrap();
    assert_eq!((res.id, res.r), (0, 1.0));
    assert_eq!(r.emitted(), vec![1, 0]);
    assert!((r.alpha - 0.75).abs() < 1e-6);
}

/// The first emitted token of many seeded rounds (γ = 1, a draft far from the target) follows
/// `p`; drawing the replacement from `p` instead of the residual visibly does not.
#[test]
fn emitted_token_is_distributed_as_the_target() {
    let p = d(&[0.5, 0.3, 0.15, 0.05]);
    let q = d(&[0.05, 0.15, 0.3, 0.5]);
    let n = 40_000;
    let freq = |use_residual: bool| {
        let mut rng = Pcg64::seed_from_u64(7);
        let mut counts = [0usize; 4];
        for _ in 0..n {
            let draws = RoundDraws::take(1, || rng.random::<f64>());
            let x = q.pick(Some(draws.draft[0]));
            let r = verify(&[(x, q.clone())], &[p.clone(), p.clone()], Some(&draws));
            let first = if use_residual {
                r.emitted()[0]
            } else if r.drafted[0].accepted {
                x
            } else {
                p.pick(Some(draws.last))
            };
            counts[first as usize] += 1;
        }
        counts.map(|c| c as f64 / n as f64)
    };
    let exact = freq(true);
    for (got, want) in exact.iter().zip(&p.0) {
        assert!(
            (got - f64::from(*want)).abs() < 0.01,
            "{exact:?} vs {:?}",
            p.0
        );
    }
    let wrong = freq(false);
    let worst = wrong
        .iter()
        .zip(&p.0)
        .map(|(g, w)| (g - f64::from(*w)).abs())
        .fold(0.0, f64::max);
    assert!(
        worst > 0.05,
        "a draw from p instead of the residual must be biased: {wrong:?}"
    );
}

#[test]
fn stats_count_rounds() {
    let p = d(&[1.0, 0.0]);
    let q = d(&[1.0, 0.0]);
    let r = verify(&[(0, q.clone()), (0, q)], &[p.clone(), p.clone(), p], None);
    let mut s = SpecStats::default();
    s.add(&r);
    assert_eq!(
        (s.drafted, s.accepted, s.emitted, s.target_calls),
        (2, 2, 3, 1)
    );
    assert_eq!(s.acceptance_rate(), 1.0);
    assert_eq!(s.tokens_per_target_call(), 3.0);
    assert_eq!(s.mean_alpha(), 1.0);
}
