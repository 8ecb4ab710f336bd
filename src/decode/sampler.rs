//! The sampler: runs the chain on one step's logits, chooses a token and traces the step.
//!
//! # Randomness and replay
//!
//! A session's randomness is one `Pcg64` stream seeded by [`SamplerConfig::seed`]
//! (`Pcg64::seed_from_u64`). Step `i` (0-based) consumes exactly output `i` of that stream as
//! its uniform draw `u ∈ [0, 1)`, whether the step samples or is greedy, so
//! [`draw_for`]`(seed, i)` computes the draw of any step directly (by jumping the stream) and
//! replaying a session from (prompt, knobs, seed) reproduces every token. To re-run step `i`
//! with new knobs on cached logits, call [`Sampler::replay`] with the stored
//! [`Chosen::draw`] (or `draw_for(seed, i)` if that step was greedy); to continue generating
//! from step `i + 1`, build a sampler with the new knobs and [`Sampler::seek`] to `i + 1`.
//!
//! The token is picked by [`choose`]: inverse CDF over the final candidates in rank order.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use super::candidates::{by_rank, sanitize, Candidate, Candidates};
use super::config::SamplerConfig;
use super::error::DecodeError;
use super::math::top_n;
use super::stage::{Chain, History};
use super::trace::{CandidateTrace, Chosen, StageTrace, StepTrace, TRACE_CANDIDATES};

/// The uniform draw of step `step` of a session seeded with `seed`: output `step` of
/// `Pcg64::seed_from_u64(seed)`, as an `f64` in `[0, 1)`.
pub fn draw_for(seed: u64, step: u64) -> f64 {
    let mut rng = Pcg64::seed_from_u64(seed);
    rng.advance(step as u128);
    rng.random::<f64>()
}

/// Picks a candidate from the final distribution.
///
/// `None` is greedy: the best candidate in rank order (logit descending, smaller id first).
/// `Some(u)` walks the candidates in that same rank order and returns the first whose
/// cumulative probability exceeds `u * total` (falling back to the last candidate if rounding
/// leaves none), so a draw maps to a deterministic token and nearby knobs map the same draw to
/// nearby ranks. `u` is clamped into `[0, 1]`; NaN counts as 0. Panics never; the set must not
/// be empty (a [`Candidates`] built by this module never is).
pub fn choose(c: &mut Candidates, draw: Option<f64>) -> Candidate {
    c.normalize();
    let Some(u) = draw else {
        return c.sorted_prefix(1)[0];
    };
    let u = if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) };
    let target = u * c.items().iter().map(|x| x.p as f64).sum::<f64>();
    let mut found = None;
    let sorted = c.sorted_until(|prefix| {
        let mut cum = 0.0;
        found = prefix.iter().position(|x| {
            cum += x.p as f64;
            cum > target
        });
        found.is_some()
    });
    sorted[found.unwrap_or(sorted.len() - 1)]
}

/// Runs the configured chain and chooses tokens, owning the session's RNG stream.
pub struct Sampler {
    cfg: SamplerConfig,
    chain: Chain,
    rng: Pcg64,
    next_step: u64,
}

impl Sampler {
    /// Validates `cfg` and builds its chain; the RNG starts at step 0.
    pub fn new(cfg: &SamplerConfig) -> Result<Self, String> {
        Ok(Sampler {
            chain: Chain::from_config(cfg)?,
            cfg: cfg.clone(),
            rng: Pcg64::seed_from_u64(cfg.seed),
            next_step: 0,
        })
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Index of the step the next [`Sampler::step`] call will be.
    pub fn next_step(&self) -> u64 {
        self.next_step
    }

    /// Positions the RNG so the next [`Sampler::step`] is step `step` (uses `draw_for(seed, step)`).
    pub fn seek(&mut self, step: u64) {
        self.rng = Pcg64::seed_from_u64(self.cfg.seed);
        self.rng.advance(step as u128);
        self.next_step = step;
    }

    /// One decoding step: consumes this step's draw (even when greedy or on error), runs the
    /// chain, chooses and traces.
    pub fn step(&mut self, logits: &[f32], history: History<'_>) -> Result<StepTrace, DecodeError> {
        let u = self.rng.random::<f64>();
        self.next_step += 1;
        self.replay(logits, history, Some(u))
    }

    /// Re-runs a step with this sampler's knobs and the given draw; greedy when `draw` is `None`
    /// or the config is greedy. Does not touch the RNG.
    pub fn replay(
        &self,
        logits: &[f32],
        history: History<'_>,
        draw: Option<f64>,
    ) -> Result<StepTrace, DecodeError> {
        let draw = draw.filter(|_| !self.cfg.is_greedy());
        trace_step(&self.chain, logits, history, draw)
    }

    /// The final (normalized) candidates and the stage traces, without choosing; e.g. for beam
    /// search over each beam's logits.
    pub fn apply_chain(
        &self,
        logits: &[f32],
        history: History<'_>,
    ) -> Result<(Candidates, Vec<StageTrace>), DecodeError> {
        let mut c = Candidates::from_logits(logits)?;
        let stages = self.chain.apply_traced(&mut c, history, |_, _| {})?;
        c.normalize();
        Ok((c, stages))
    }
}

/// Processed logits (vocabulary order, `-inf` where removed) of `cfg`'s chain: the equivalent
/// of Hugging Face's `processors(input_ids, scores)`, for parity tests.
pub fn apply_stages(
    cfg: &SamplerConfig,
    logits: &[f32],
    history: History<'_>,
) -> Result<Vec<f32>, String> {
    let chain = Chain::from_config(cfg)?;
    chain.process(logits, history).map_err(|e| e.to_string())
}

/// Runs `chain` on `logits`, chooses with `draw` (greedy when `None`) and traces the step.
fn trace_step(
    chain: &Chain,
    logits: &[f32],
    history: History<'_>,
    draw: Option<f64>,
) -> Result<StepTrace, DecodeError> {
    let mut c = Candidates::from_logits(logits)?;
    let raw = Raw {
        logits,
        log_z: c.log_z(),
    };
    let entropy_raw = c.entropy() as f32;
    // The traced candidates: the raw top, found without reordering the (dense) set.
    let top: Vec<Candidate> = top_n(logits, TRACE_CANDIDATES)
        .into_iter()
        .filter_map(|(id, l)| {
            sanitize(l).map(|logit| Candidate {
                id,
                logit,
                p: raw.p(id) as f32,
            })
        })
        .collect();
    let mut removed_by = vec![None; top.len()];
    let stages = chain.apply_traced(&mut c, history, |stage, removed| {
        for r in removed {
            if let Some(i) = raw.position_in(&top, r.id) {
                removed_by[i] = Some(stage);
            }
        }
    })?;
    c.normalize();
    let entropy_final = c.entropy() as f32;
    let kept_mass = c.items().iter().map(|x| raw.p(x.id)).sum::<f64>() as f32;
    let mut final_p = vec![0.0f32; top.len()];
    for x in c.items() {
        if let Some(i) = raw.position_in(&top, x.id) {
            final_p[i] = x.p;
        }
    }
    let final_top = c
        .sorted_prefix(TRACE_CANDIDATES)
        .iter()
        .map(|x| (x.id, x.p))
        .collect();
    let pick = choose(&mut c, draw);
    let rank = raw
        .position_in(&top, pick.id)
        .unwrap_or_else(|| raw.rank(pick.id));
    let top1 = top.first().map_or(0.0, |x| x.p);
    Ok(StepTrace {
        stages,
        candidates: top
            .iter()
            .zip(removed_by)
            .zip(final_p)
            .map(|((x, removed_by), final_p)| CandidateTrace {
                id: x.id,
                logit: x.logit,
                raw_p: x.p,
                final_p,
                removed_by,
            })
            .collect(),
        final_top,
        chosen: Chosen {
            id: pick.id,
            raw_prob: raw.p(pick.id) as f32,
            final_prob: pick.p,
            rank,
            draw,
        },
        entropy_raw,
        entropy_final,
        top1,
        margin: top1 - top.get(1).map_or(0.0, |x| x.p),
        kept_mass,
        kept: c.len(),
    })
}

/// The raw distribution of a step, read straight from the logit vector.
struct Raw<'a> {
    logits: &'a [f32],
    log_z: f64,
}

impl Raw<'_> {
    fn candidate(&self, id: u32) -> Candidate {
        let logit = sanitize(self.logits[id as usize]).unwrap_or(f32::NEG_INFINITY);
        Candidate { id, logit, p: 0.0 }
    }

    /// Raw probability of a live id.
    fn p(&self, id: u32) -> f64 {
        (self.candidate(id).logit as f64 - self.log_z).exp()
    }

    /// Position of `id` in `top` (the raw best, in rank order), by one comparison when absent.
    fn position_in(&self, top: &[Candidate], id: u32) -> Option<usize> {
        let last = top.last()?;
        // Fast reject, then the exact test.
        let l = self.logits[id as usize];
        if l.is_nan() || l < last.logit {
            return None;
        }
        let me = self.candidate(id);
        if by_rank(&me, last).is_gt() {
            return None;
        }
        top.binary_search_by(|x| by_rank(x, &me)).ok()
    }

    /// 0-based raw rank of `id` in [`by_rank`] order.
    fn rank(&self, id: u32) -> usize {
        let me = self.candidate(id);
        (0..self.logits.len() as u32)
            .filter(|&i| by_rank(&self.candidate(i), &me).is_lt())
            .count()
    }
}
