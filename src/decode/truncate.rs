//! Truncation warpers that keep a prefix of the rank order: top-k, top-p, min-p, epsilon, eta.
//!
//! Each keeps at least `min_keep` candidates. Ranks follow [`super::candidates::by_rank`]
//! (logit descending, smaller id first on ties).

use super::candidates::Candidates;
use super::spec::{flip, ladder, off_or, step, KnobSpec, StageSpec, ThresholdKind};
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
        TOP_K.name
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
        TOP_P.name
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
        MIN_P.name
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
        EPSILON.name
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
        ETA.name
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

/// Values the logarithmic knobs (epsilon, eta) step through.
const LOG_LADDER: [f32; 9] = [1e-5, 3e-5, 1e-4, 3e-4, 6e-4, 1e-3, 2e-3, 4e-3, 9e-3];

/// The knobs' value of `v` unless it is `neutral`.
fn active(v: Option<f32>, neutral: f32) -> Option<f32> {
    v.filter(|&x| x != neutral)
}

/// `top_k`: the k most likely.
pub const TOP_K: StageSpec = StageSpec {
    name: "top_k",
    abbrev: "k",
    threshold: ThresholdKind::Own,
    build: |c| {
        let min_keep = c.min_keep.max(1);
        c.top_k
            .map(|k| Box::new(TopK { k, min_keep }) as Box<dyn Stage>)
    },
    knobs: &[KnobSpec {
        label: "top-k",
        hint: "keep the k most probable tokens",
        rank: 1,
        enabled: |c| c.top_k.is_some(),
        value: |c| off_or(c.top_k, |k| k.to_string()),
        adjust: |c, up| {
            c.top_k = Some(match c.top_k {
                None => 40,
                Some(k) => {
                    let d = if k < 10 || (k == 10 && !up) {
                        1
                    } else if k < 50 || (k == 50 && !up) {
                        5
                    } else {
                        10
                    };
                    if up {
                        k + d
                    } else {
                        k.saturating_sub(d).max(1)
                    }
                }
            })
        },
        toggle: |c, back| flip(&mut c.top_k, back.map(|v| v as usize), 40).map(|v| v as f32),
    }],
};

/// `top_p`: the nucleus.
pub const TOP_P: StageSpec = StageSpec {
    name: "top_p",
    abbrev: "p",
    threshold: ThresholdKind::Own,
    build: |c| {
        let min_keep = c.min_keep.max(1);
        active(c.top_p, 1.0).map(|p| Box::new(TopP { p, min_keep }) as Box<dyn Stage>)
    },
    knobs: &[KnobSpec {
        label: "top-p",
        hint: "keep the smallest head with mass >= p",
        rank: 2,
        enabled: |c| c.top_p.is_some(),
        value: |c| off_or(c.top_p, |p| format!("{p:.2}")),
        adjust: |c, up| c.top_p = Some(c.top_p.map_or(0.9, |p| step(p, up, 0.05, 0.05, 1.0))),
        toggle: |c, back| flip(&mut c.top_p, back, 0.9),
    }],
};

/// `min_p`: a floor relative to the best.
pub const MIN_P: StageSpec = StageSpec {
    name: "min_p",
    abbrev: "min",
    threshold: ThresholdKind::ProbabilityFloor,
    build: |c| {
        let min_keep = c.min_keep.max(1);
        active(c.min_p, 0.0).map(|min_p| Box::new(MinP { min_p, min_keep }) as Box<dyn Stage>)
    },
    knobs: &[KnobSpec {
        label: "min-p",
        hint: "drop tokens below min-p x top-1",
        rank: 3,
        enabled: |c| c.min_p.is_some(),
        value: |c| off_or(c.min_p, |p| format!("{p:.2}")),
        adjust: |c, up| c.min_p = Some(c.min_p.map_or(0.05, |p| step(p, up, 0.01, 0.01, 1.0))),
        toggle: |c, back| flip(&mut c.min_p, back, 0.05),
    }],
};

/// `epsilon`: an absolute floor.
pub const EPSILON: StageSpec = StageSpec {
    name: "epsilon",
    abbrev: "ε",
    threshold: ThresholdKind::ProbabilityFloor,
    build: |c| {
        let min_keep = c.min_keep.max(1);
        active(c.epsilon, 0.0)
            .map(|epsilon| Box::new(Epsilon { epsilon, min_keep }) as Box<dyn Stage>)
    },
    knobs: &[KnobSpec {
        label: "epsilon",
        hint: "drop tokens below an absolute probability",
        rank: 4,
        enabled: |c| c.epsilon.is_some(),
        value: |c| off_or(c.epsilon, |p| format!("{p:.0e}")),
        adjust: |c, up| c.epsilon = Some(c.epsilon.map_or(3e-4, |p| ladder(&LOG_LADDER, p, up))),
        toggle: |c, back| flip(&mut c.epsilon, back, 3e-4),
    }],
};

/// `eta`: an entropy-dependent floor.
pub const ETA: StageSpec = StageSpec {
    name: "eta",
    abbrev: "η",
    threshold: ThresholdKind::ProbabilityFloor,
    build: |c| {
        let min_keep = c.min_keep.max(1);
        active(c.eta, 0.0).map(|eta| Box::new(Eta { eta, min_keep }) as Box<dyn Stage>)
    },
    knobs: &[KnobSpec {
        label: "eta",
        hint: "entropy-dependent epsilon cutoff",
        rank: 5,
        enabled: |c| c.eta.is_some(),
        value: |c| off_or(c.eta, |p| format!("{p:.0e}")),
        adjust: |c, up| c.eta = Some(c.eta.map_or(6e-4, |p| ladder(&LOG_LADDER, p, up))),
        toggle: |c, back| flip(&mut c.eta, back, 6e-4),
    }],
};
