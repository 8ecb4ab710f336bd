//! Speculative decoding, pure Rust: the exact acceptance rule (Leviathan et al. 2023, Chen et
//! al. 2023), prompt-lookup drafting, the draft specification and γ schedule, and the round
//! record every view and the JSON export read.
//!
//! A round: a draft proposes γ tokens `d_0..d_{γ-1}`, each drawn from its processed
//! distribution `q_j`; one target forward yields the processed distributions `p_0..p_γ` at the
//! same positions. Token `d_j` is accepted with probability `min(1, p_j(d_j) / q_j(d_j))`; at
//! the first rejection the replacement is drawn from `norm(max(0, p_j − q_j))` and the round
//! ends; when all γ are accepted a bonus token is drawn from `p_γ`. Every emitted token is then
//! distributed exactly as under `p` alone, whatever the draft. Greedy rounds accept while the
//! draft token equals the target's argmax.

mod ngram;
mod spec;

pub use ngram::ngram_propose;
pub use spec::{DraftSpec, GammaSchedule, MAX_GAMMA};

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use super::candidates::Candidates;
use super::sampler::choose;

/// How many candidates of `p` and `q` a drafted token keeps for the views.
pub const VIEW_CANDIDATES: usize = 12;

/// Mixed into the seed of the speculative draws' stream (distinct from plain steps' stream).
const SPECULATIVE_SALT: u64 = 0x5bd1_e995_c0ff_ee11;

/// Outputs reserved per round: enough for the largest γ (γ draft draws, γ acceptance draws,
/// one last draw).
pub const DRAWS_PER_ROUND: u128 = 64;

/// A processed next-token distribution over the whole vocabulary (probabilities by id).
#[derive(Debug, Clone, PartialEq)]
pub struct Dist(pub Vec<f32>);

impl Dist {
    /// The normalized live candidates of a processed set, scattered over `vocab` ids.
    pub fn from_candidates(c: &mut Candidates, vocab: usize) -> Dist {
        c.normalize();
        let mut p = vec![0.0f32; vocab];
        for x in c.items() {
            if let Some(slot) = p.get_mut(x.id as usize) {
                *slot = x.p;
            }
        }
        Dist(p)
    }

    /// All mass on one token (a deterministic proposal such as prompt lookup).
    pub fn point(id: u32, vocab: usize) -> Dist {
        let mut p = vec![0.0f32; vocab.max(id as usize + 1)];
        p[id as usize] = 1.0;
        Dist(p)
    }

    /// Probability of `id` (0 outside the vocabulary).
    pub fn p(&self, id: u32) -> f32 {
        self.0.get(id as usize).copied().unwrap_or(0.0)
    }

    /// The most probable id (smaller id on ties).
    pub fn argmax(&self) -> u32 {
        let mut best = 0usize;
        for (i, &x) in self.0.iter().enumerate() {
            if x > self.0[best] {
                best = i;
            }
        }
        best as u32
    }

    /// Draws a token: inverse CDF over the positive entries in rank order (probability
    /// descending, smaller id first), as [`choose`] does; greedy when `draw` is `None`.
    pub fn pick(&self, draw: Option<f64>) -> u32 {
        let pairs = self
            .0
            .iter()
            .enumerate()
            .filter(|(_, &p)| p > 0.0)
            .map(|(id, &p)| (id as u32, p.ln()));
        match Candidates::from_pairs(pairs) {
            Ok(mut c) => choose(&mut c, draw).id,
            Err(_) => self.argmax(),
        }
    }

    /// The `n` most probable `(id, p)`, best first.
    pub fn top(&self, n: usize) -> Vec<(u32, f32)> {
        super::math::top_n(&self.0, n)
            .into_iter()
            .filter(|&(_, p)| p > 0.0)
            .collect()
    }
}

/// `Σ_x min(p(x), q(x))`: the probability that a token drawn from `q` is accepted under `p`.
pub fn overlap(p: &Dist, q: &Dist) -> f32 {
    let n = p.0.len().min(q.0.len());
    p.0[..n]
        .iter()
        .zip(&q.0[..n])
        .map(|(&a, &b)| f64::from(a.min(b)))
        .sum::<f64>() as f32
}

/// The residual distribution `norm(max(0, p − q))` drawn from after a rejection; `p` itself
/// when the difference has no mass (then nothing can be rejected, up to rounding).
pub fn residual(p: &Dist, q: &Dist) -> Dist {
    let r: Vec<f32> =
        p.0.iter()
            .enumerate()
            .map(|(i, &a)| (a - q.0.get(i).copied().unwrap_or(0.0)).max(0.0))
            .collect();
    let z: f64 = r.iter().map(|&x| f64::from(x)).sum();
    if z <= 0.0 {
        return p.clone();
    }
    Dist(r.iter().map(|&x| (f64::from(x) / z) as f32).collect())
}

/// Expected tokens per target call when each drafted token is accepted with probability α
/// independently: `(1 − α^(γ+1)) / (1 − α)` (γ + 1 when α = 1).
pub fn expected_tokens_per_call(alpha: f64, gamma: usize) -> f64 {
    if (1.0 - alpha).abs() < 1e-12 {
        return gamma as f64 + 1.0;
    }
    (1.0 - alpha.powi(gamma as i32 + 1)) / (1.0 - alpha)
}

/// One candidate in a drafted token's side-by-side view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedProb {
    pub id: u32,
    /// Target's processed probability.
    pub p: f32,
    /// Draft's processed probability.
    pub q: f32,
}

/// One drafted token and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drafted {
    pub id: u32,
    /// Draft's processed probability of the token.
    pub q: f32,
    /// Target's processed probability of the token.
    pub p: f32,
    /// `min(1, p / q)`.
    pub accept_prob: f32,
    /// The uniform draw compared with `accept_prob` (`None` when greedy).
    pub draw: Option<f64>,
    pub accepted: bool,
    /// Whether verification reached this token (tokens after a rejection are not looked at).
    pub verified: bool,
    /// The top candidates of `p ∪ q` at this position, by `max(p, q)`.
    pub top: Vec<PairedProb>,
    /// Draw that picked the token from `q` (`None` for greedy and deterministic drafts).
    pub draft_draw: Option<f64>,
}

/// The token drawn from the residual at the first rejection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resampled {
    pub id: u32,
    /// Target's processed probability of the token.
    pub p: f32,
    /// Draft's processed probability of the token.
    pub q: f32,
    /// The residual's probability of the token.
    pub r: f32,
    pub draw: Option<f64>,
    /// The residual's most probable candidates `(id, r)`.
    pub residual_top: Vec<(u32, f32)>,
}

/// The token drawn from `p_γ` when every drafted token was accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bonus {
    pub id: u32,
    pub p: f32,
    pub draw: Option<f64>,
}

/// Everything one speculative round did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// 0-based round index.
    pub round: usize,
    /// Index of the first step this round emitted.
    pub first_step: usize,
    /// Draft label (`ngram:3`, `self:8`, a model name).
    pub draft: String,
    /// Tokens drafted (γ of this round; prompt lookup may propose fewer).
    pub gamma: usize,
    pub drafted: Vec<Drafted>,
    pub resampled: Option<Resampled>,
    pub bonus: Option<Bonus>,
    /// `Σ min(p, q)` at the first drafted position (the expected acceptance there).
    pub alpha: f32,
}

impl Round {
    /// Number of accepted drafted tokens.
    pub fn accepted(&self) -> usize {
        self.drafted.iter().filter(|d| d.accepted).count()
    }

    /// The emitted tokens: the accepted drafts, then the resampled or bonus token.
    pub fn emitted(&self) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .drafted
            .iter()
            .take_while(|d| d.accepted)
            .map(|d| d.id)
            .collect();
        out.extend(self.resampled.as_ref().map(|r| r.id));
        out.extend(self.bonus.as_ref().map(|b| b.id));
        out
    }
}

/// The uniform draws a round consumes, drawn in a fixed order so a round replays exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundDraws {
    /// Draws that pick each drafted token from `q_j`.
    pub draft: Vec<f64>,
    /// Draws compared with each acceptance probability.
    pub accept: Vec<f64>,
    /// The draw of the residual or bonus token.
    pub last: f64,
}

impl RoundDraws {
    /// The draws of the round whose first emitted token is step `first_step` of a session
    /// seeded with `seed`: block `first_step` of [`DRAWS_PER_ROUND`] outputs of a PCG64 stream
    /// of its own (`Pcg64::seed_from_u64(seed ^ SPECULATIVE_SALT)`), so any round replays
    /// alone and rounds never share draws with each other or with plain steps. `gamma` is at
    /// most [`MAX_GAMMA`].
    pub fn for_round(seed: u64, first_step: usize, gamma: usize) -> Self {
        let mut rng = Pcg64::seed_from_u64(seed ^ SPECULATIVE_SALT);
        rng.advance(first_step as u128 * DRAWS_PER_ROUND);
        Self::take(gamma, || rng.random::<f64>())
    }

    /// `gamma` draft draws, then `gamma` acceptance draws, then one last draw, from `next`.
    pub fn take(gamma: usize, mut next: impl FnMut() -> f64) -> Self {
        let draft = (0..gamma).map(|_| next()).collect();
        let accept = (0..gamma).map(|_| next()).collect();
        RoundDraws {
            draft,
            accept,
            last: next(),
        }
    }
}

/// Verifies drafted tokens against the target: `drafts[j] = (d_j, q_j)`, `targets` holds
/// `p_0..p_γ` (one more than the drafts). `draws` is `None` for greedy verification. Returns the
/// round (with `round`, `first_step` and `draft` left for the caller to fill).
pub fn verify(drafts: &[(u32, Dist)], targets: &[Dist], draws: Option<&RoundDraws>) -> Round {
    assert_eq!(
        targets.len(),
        drafts.len() + 1,
        "verify needs one target distribution per drafted token plus one"
    );
    let alpha = drafts.first().map_or(0.0, |(_, q)| overlap(&targets[0], q));
    let mut out = Vec::with_capacity(drafts.len());
    let mut resampled = None;
    let mut rejected = false;
    for (j, (id, q)) in drafts.iter().enumerate() {
        let p = &targets[j];
        let (pj, qj) = (p.p(*id), q.p(*id));
        let top = paired_top(p, q);
        let draft_draw = draws.and_then(|d| d.draft.get(j).copied());
        if rejected {
            out.push(Drafted {
                id: *id,
                q: qj,
                p: pj,
                accept_prob: accept_prob(pj, qj),
                draw: None,
                accepted: false,
                verified: false,
                top,
                draft_draw,
            });
            continue;
        }
        let (accept_p, draw, accepted) = match draws {
            Some(d) => {
                let a = accept_prob(pj, qj);
                let u = d.accept[j];
                (a, Some(u), u < f64::from(a))
            }
            None => {
                let ok = *id == p.argmax();
                (if ok { 1.0 } else { 0.0 }, None, ok)
            }
        };
        out.push(Drafted {
            id: *id,
            q: qj,
            p: pj,
            accept_prob: accept_p,
            draw,
            accepted,
            verified: true,
            top,
            draft_draw,
        });
        if !accepted {
            rejected = true;
            let last = draws.map(|d| d.last);
            let r = match draws {
                Some(_) => residual(p, q),
                None => p.clone(),
            };
            let pick = r.pick(last);
            resampled = Some(Resampled {
                id: pick,
                p: p.p(pick),
                q: q.p(pick),
                r: r.p(pick),
                draw: last,
                residual_top: r.top(VIEW_CANDIDATES),
            });
        }
    }
    let bonus = (!rejected).then(|| {
        let p = &targets[drafts.len()];
        let draw = draws.map(|d| d.last);
        let id = p.pick(draw);
        Bonus {
            id,
            p: p.p(id),
            draw,
        }
    });
    Round {
        round: 0,
        first_step: 0,
        draft: String::new(),
        gamma: drafts.len(),
        drafted: out,
        resampled,
        bonus,
        alpha,
    }
}

fn accept_prob(p: f32, q: f32) -> f32 {
    if q <= 0.0 {
        // A token the draft could not have drawn: only reachable by hand; accept iff p > 0.
        return if p > 0.0 { 1.0 } else { 0.0 };
    }
    (p / q).min(1.0)
}

/// The candidates of `p ∪ q` with the largest `max(p, q)`.
fn paired_top(p: &Dist, q: &Dist) -> Vec<PairedProb> {
    let mut ids: Vec<u32> = p
        .top(VIEW_CANDIDATES)
        .into_iter()
        .chain(q.top(VIEW_CANDIDATES))
        .map(|(id, _)| id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out: Vec<PairedProb> = ids
        .into_iter()
        .map(|id| PairedProb {
            id,
            p: p.p(id),
            q: q.p(id),
        })
        .collect();
    out.sort_by(|a, b| b.p.max(b.q).total_cmp(&a.p.max(a.q)).then(a.id.cmp(&b.id)));
    out.truncate(VIEW_CANDIDATES);
    out
}

/// Running figures of a speculative run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpecStats {
    pub rounds: usize,
    pub drafted: usize,
    pub accepted: usize,
    /// Tokens emitted by the rounds.
    pub emitted: usize,
    pub target_calls: usize,
    /// Sum of every round's α.
    pub alpha_sum: f64,
}

impl SpecStats {
    /// Adds a finished round (one target call).
    pub fn add(&mut self, round: &Round) {
        self.rounds += 1;
        self.drafted += round.gamma;
        self.accepted += round.accepted();
        self.emitted += round.emitted().len();
        self.target_calls += 1;
        self.alpha_sum += f64::from(round.alpha);
    }

    /// Accepted / drafted.
    pub fn acceptance_rate(&self) -> f64 {
        ratio(self.accepted, self.drafted)
    }

    /// Mean α over the rounds.
    pub fn mean_alpha(&self) -> f64 {
        if self.rounds == 0 {
            0.0
        } else {
            self.alpha_sum / self.rounds as f64
        }
    }

    /// Emitted tokens per target call.
    pub fn tokens_per_target_call(&self) -> f64 {
        ratio(self.emitted, self.target_calls)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests;
