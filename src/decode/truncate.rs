//! Truncation warpers that keep a prefix of the rank order: top-k, top-p, min-p, epsilon, eta.
//!
//! Each keeps at least `min_keep` candidates. Ranks follow [`super::candidates::by_rank`]
//! (logit descending, smaller id first on ties).

use super::candidates::Candidates;
use super::stage::{Effect, History, Stage};

const PREFIX: Effect = Effect {
    threshold: None,
    prefix: true,
    detail: None,
};

/// Keeps the `max(k, min_keep)` most likely candidates (HF `TopKLogitsWarper`). Ties with the
/// k-th logit are all kept, as HF does (`scores < kth` is removed), so more than k can survive.
pub struct TopK {
    pub k: usize,
    pub min_keep: usize,
}

impl Stage for TopK {
    fn name(&self) -> &'static str {
        "top_k"
    }

    fn params(&self) -> String {
        format!("k={}", self.k)
    }

    fn apply(&self, c: &mut Candidates, _: History<'_>) -> Effect {
        let k = self.k.max(self.min_keep).max(1);
        if k < c.len() {
            let kth = c.sorted_prefix(k)[k - 1].logit;
            c.retain_where(|_, x| x.logit >= kth);
        }
        PREFIX
    }
}

/// Nucleus sampling (HF `TopPLogitsWarper`): keeps the smallest rank prefix whose mass reaches
/// `p`, i.e. every candidate whose better-ranked candidates hold less than `p` (HF removes the
/// ascending-sorted tail whose cumulative mass is `<= 1 - p`), and at least `min_keep`.
pub struct TopP {
    pub p: f32,
    pub min_keep: usize,
}

impl Stage for TopP {
    fn name(&self) -> &'static str {
        "top_p"
    }

    fn params(&self) -> String {
        format!("p={}", self.p)
    }

    fn apply(&self, c: &mut Candidates, _: History<'_>) -> Effect {
        c.normalize();
        let p = self.p as f64;
        let mut keep = None;
        c.sorted_until(|prefix| {
            keep = prefix_reaching(prefix.iter().map(|x| x.p as f64), p);
            keep.is_some()
        });
        let keep = keep.unwrap_or(c.len()).max(self.min_keep);
        c.truncate_ranked(keep);
        Effect {
            threshold: Some(self.p),
            prefix: true,
            detail: None,
        }
    }
}

/// The length of the shortest prefix whose sum reaches `p`, if any.
fn prefix_reaching(ps: impl Iterator<Item = f64>, p: f64) -> Option<usize> {
    let mut cum = 0.0;
    for (i, x) in ps.enumerate() {
        cum += x;
        if cum >= p {
            return Some(i + 1);
        }
    }
    None
}

/// Keeps candidates with `p >= min_p * p_max` (HF `MinPLogitsWarper`), and at least the
/// `min_keep` best.
pub struct MinP {
    pub min_p: f32,
    pub min_keep: usize,
}

impl Stage for MinP {
    fn name(&self) -> &'static str {
        "min_p"
    }

    fn params(&self) -> String {
        format!("min_p={}", self.min_p)
    }

    fn apply(&self, c: &mut Candidates, _: History<'_>) -> Effect {
        c.normalize();
        let p_max = c.items().iter().map(|x| x.p).fold(0.0, f32::max);
        let threshold = self.min_p * p_max;
        keep_above(c, threshold, self.min_keep, false);
        Effect {
            threshold: Some(threshold),
            prefix: true,
            detail: None,
        }
    }
}

/// Keeps candidates with `p >= epsilon` (HF `EpsilonLogitsWarper`), and every candidate whose
/// logit ties or beats the `min_keep`-th best.
pub struct Epsilon {
    pub epsilon: f32,
    pub min_keep: usize,
}

impl Stage for Epsilon {
    fn name(&self) -> &'static str {
        "epsilon"
    }

    fn params(&self) -> String {
        format!("epsilon={}", self.epsilon)
    }

    fn apply(&self, c: &mut Candidates, _: History<'_>) -> Effect {
        c.normalize();
        keep_above(c, self.epsilon, self.min_keep, true);
        Effect {
            threshold: Some(self.epsilon),
            prefix: true,
            detail: None,
        }
    }
}

/// Eta sampling (HF `EtaLogitsWarper`): epsilon sampling with the entropy-adaptive cutoff
/// `min(eta, sqrt(eta) * exp(-H))`, `H` the entropy (nats) of the entering distribution.
pub struct Eta {
    pub eta: f32,
    pub min_keep: usize,
}

impl Stage for Eta {
    fn name(&self) -> &'static str {
        "eta"
    }

    fn params(&self) -> String {
        format!("eta={}", self.eta)
    }

    fn apply(&self, c: &mut Candidates, _: History<'_>) -> Effect {
        let h = c.entropy();
        let eta = self.eta as f64;
        let cutoff = eta.min(eta.sqrt() * (-h).exp()) as f32;
        keep_above(c, cutoff, self.min_keep, true);
        Effect {
            threshold: Some(cutoff),
            prefix: true,
            detail: None,
        }
    }
}

/// Keeps `p >= threshold` and the `min_keep` best; with `keep_ties`, every candidate tying the
/// `min_keep`-th logit too (HF's epsilon/eta use `scores < topk(...)[-1]`, min-p uses indices).
fn keep_above(c: &mut Candidates, threshold: f32, min_keep: usize, keep_ties: bool) {
    let min_keep = min_keep.max(1);
    let above = c.items().iter().filter(|x| x.p >= threshold).count();
    if above >= min_keep {
        c.retain_where(|_, x| x.p >= threshold);
    } else if keep_ties && min_keep < c.len() {
        let kth = c.sorted_prefix(min_keep)[min_keep - 1].logit;
        c.retain_where(|_, x| x.p >= threshold || x.logit >= kth);
    } else {
        c.truncate_ranked(min_keep);
    }
}
