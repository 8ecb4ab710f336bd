//! The beam search state machine: the driver hands it one log-softmax row per live beam, it
//! answers which beams continue with which tokens (the parents to reorder caches by).
//!
//! Semantics follow Hugging Face 4.56: plain and stochastic beam search as `_beam_search`
//! (top `2·B` continuations; an end-of-sequence candidate is finished only when it ranks in
//! the top `B`; the last step finishes the top `B` candidates), diverse beam search as
//! `_group_beam_search` with its `BeamSearchScorer` (per group, in order: Hamming penalty,
//! top `2·B/G`, per-group `BeamHypotheses`, running beams of unfinished groups added at the
//! end).

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};

use crate::decode::math::top_n;
use crate::decode::stage::{Chain, History};

use super::config::BeamConfig;
use super::hyps::{normalized, Hypotheses, Hypothesis};

/// Raw candidates kept per expanded beam for display.
pub const TOP_PER_NODE: usize = 8;

/// Node id of the prompt, the root of the tree.
pub const ROOT: usize = 0;

/// A running beam.
#[derive(Debug, Clone, PartialEq)]
pub struct Beam {
    /// Tree node of its last token ([`ROOT`] before the first step).
    pub node: usize,
    pub group: usize,
    /// Generated ids.
    pub ids: Vec<u32>,
    /// Cumulative (processed) log-probability.
    pub score: f64,
}

/// A token that joined the tree at a step: a running beam or a finished hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepNode {
    pub id: usize,
    /// Node id of the beam it extends.
    pub parent: usize,
    pub token_id: u32,
    /// Raw log-probability of the token under its parent.
    pub logprob: f32,
    /// Cumulative (processed) log-probability.
    pub score: f64,
    /// Final, length-normalized score when the node finished a hypothesis.
    pub finished: Option<f64>,
}

/// A continuation that lost: one of the best few not kept under its parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pruned {
    /// Node id of the beam it would have extended.
    pub parent: usize,
    pub token_id: u32,
    pub logprob: f32,
    pub score: f64,
}

/// What one expansion did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeamStep {
    /// 0-based step (the generated length before it).
    pub step: usize,
    /// Per new live beam, the index of its parent in the previous live list: reorder caches by
    /// it, then feed [`BeamStep::tokens`].
    pub parents: Vec<usize>,
    /// Per new live beam, its last token.
    pub tokens: Vec<u32>,
    /// New nodes: the running beams, in live order, then newly finished hypotheses.
    pub nodes: Vec<StepNode>,
    /// The best few losing candidates of each expanded beam.
    pub pruned: Vec<Pruned>,
    /// Per expanded node id, its raw top candidates `(id, logprob)`.
    pub tops: Vec<(usize, Vec<(u32, f32)>)>,
    /// Whether the search is over.
    pub done: bool,
}

/// Why a step could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeamError {
    #[error("invalid beam configuration: {0}")]
    Config(String),
    #[error("expected {expected} log-probability rows, got {got}")]
    Rows { expected: usize, got: usize },
    #[error("log-probability rows of different lengths")]
    Ragged,
    #[error("the beam search is over")]
    Done,
}

#[derive(Debug, Clone)]
struct Group {
    hyps: Hypotheses,
    done: bool,
}

/// One scored continuation.
#[derive(Debug, Clone, Copy)]
struct Cand {
    /// Index of the parent in the live list.
    beam: usize,
    token: u32,
    logprob: f32,
    total: f64,
    /// Ranking key: `total`, plus Gumbel noise when sampling.
    key: f64,
}

/// Beam search over any model that yields next-token log-probabilities.
pub struct BeamSearch {
    cfg: BeamConfig,
    prompt: Vec<u32>,
    chain: Chain,
    live: Vec<Beam>,
    groups: Vec<Group>,
    step: usize,
    rng: Pcg64,
    next_node: usize,
    done: bool,
}

impl BeamSearch {
    /// A search continuing `prompt`; it starts with one live beam per group (all the prompt).
    pub fn new(cfg: BeamConfig, prompt: &[u32]) -> Result<Self, BeamError> {
        cfg.validate().map_err(BeamError::Config)?;
        let chain = Chain::from_config(&cfg.chain_config()).map_err(BeamError::Config)?;
        let gs = cfg.group_size();
        Ok(BeamSearch {
            live: (0..cfg.groups)
                .map(|group| Beam {
                    node: ROOT,
                    group,
                    ids: Vec::new(),
                    score: 0.0,
                })
                .collect(),
            groups: (0..cfg.groups)
                .map(|_| Group {
                    hyps: Hypotheses::new(gs),
                    done: false,
                })
                .collect(),
            rng: Pcg64::seed_from_u64(cfg.seed),
            prompt: prompt.to_vec(),
            chain,
            cfg,
            step: 0,
            next_node: ROOT + 1,
            done: false,
        })
    }

    pub fn config(&self) -> &BeamConfig {
        &self.cfg
    }

    /// The running beams, in the order the next `advance` expects their rows.
    pub fn live(&self) -> &[Beam] {
        &self.live
    }

    /// Steps taken (the generated length of the running beams).
    pub fn steps(&self) -> usize {
        self.step
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The best finished hypotheses so far, best first, at most `num_return`.
    pub fn hypotheses(&self) -> Vec<Hypothesis> {
        // HF pops from the end of an ascending sort: among equal scores, the later one first.
        let mut all: Vec<Hypothesis> = self
            .groups
            .iter()
            .flat_map(|g| g.hyps.items().iter().cloned())
            .collect();
        all.reverse();
        all.sort_by(|a, b| b.score.total_cmp(&a.score));
        all.truncate(self.cfg.num_return);
        all
    }

    /// One expansion. `logprobs[i]` is the full log-softmax row after live beam `i`.
    pub fn advance(&mut self, logprobs: &[Vec<f32>]) -> Result<BeamStep, BeamError> {
        if self.done {
            return Err(BeamError::Done);
        }
        if logprobs.len() != self.live.len() {
            return Err(BeamError::Rows {
                expected: self.live.len(),
                got: logprobs.len(),
            });
        }
        let vocab = logprobs.first().map_or(0, |r| r.len());
        if logprobs.iter().any(|r| r.len() != vocab) {
            return Err(BeamError::Ragged);
        }
        let gs = self.cfg.group_size();
        let grouped = self.cfg.groups > 1;
        let gen_len = self.step + 1;
        let last = gen_len >= self.cfg.max_new_tokens;
        let mut out = BeamStep {
            step: self.step,
            parents: Vec::new(),
            tokens: Vec::new(),
            nodes: Vec::new(),
            pruned: Vec::new(),
            tops: Vec::new(),
            done: false,
        };
        let mut finished_nodes = Vec::new();
        let mut new_live = Vec::new();
        // Tokens chosen at this step by the groups before the current one.
        let mut chosen_before: Vec<u32> = Vec::new();
        for g in 0..self.groups.len() {
            if self.groups[g].done {
                if let Some(pad) = self.cfg.pad_id {
                    chosen_before.extend(std::iter::repeat_n(pad, gs));
                }
                continue;
            }
            let members: Vec<usize> = (0..self.live.len())
                .filter(|&i| self.live[i].group == g)
                .collect();
            let mut per_row = Vec::with_capacity(members.len());
            for &i in &members {
                let row = &logprobs[i];
                out.tops.push((self.live[i].node, top_n(row, TOP_PER_NODE)));
                per_row.push(self.row_candidates(i, row, &chosen_before, 2 * gs));
            }
            let mut ranked: Vec<Cand> = per_row.iter().flatten().copied().collect();
            ranked.sort_by(|a, b| {
                b.key
                    .total_cmp(&a.key)
                    .then(a.beam.cmp(&b.beam))
                    .then(a.token.cmp(&b.token))
            });
            ranked.truncate(2 * gs);
            let best_total = ranked.first().map(|c| c.total);
            let mut kept: Vec<(usize, u32)> = Vec::new();
            let mut group_live = Vec::new();
            for (rank, c) in ranked.iter().enumerate() {
                let eos = self.cfg.eos_ids.contains(&c.token);
                if eos || (last && !grouped) {
                    if rank < gs {
                        if let Some(node) = self.finish(g, c, gen_len) {
                            kept.push((c.beam, c.token));
                            finished_nodes.push(node);
                        }
                    }
                } else if group_live.len() < gs {
                    kept.push((c.beam, c.token));
                    group_live.push(*c);
                }
            }
            for (&i, row) in members.iter().zip(&per_row) {
                out.pruned.extend(
                    row.iter()
                        .filter(|c| !kept.contains(&(c.beam, c.token)))
                        .take(self.cfg.pruned_per_beam)
                        .map(|c| Pruned {
                            parent: self.live[i].node,
                            token_id: c.token,
                            logprob: c.logprob,
                            score: c.total,
                        }),
                );
            }
            chosen_before.extend(group_live.iter().map(|c| c.token));
            let group = &mut self.groups[g];
            let best = if grouped {
                best_total
            } else {
                group_live.iter().map(|c| c.total).reduce(f64::max)
            };
            group.done = group_live.is_empty()
                || group.hyps.is_done(
                    best.unwrap_or(f64::NEG_INFINITY),
                    gen_len,
                    self.cfg.max_new_tokens,
                    self.cfg.early_stopping,
                    self.cfg.length_penalty,
                );
            new_live.extend(group_live.into_iter().map(|c| (g, c)));
        }
        let mut live = Vec::with_capacity(new_live.len());
        for (group, c) in new_live {
            let id = self.fresh_node();
            let parent = &self.live[c.beam];
            let mut ids = parent.ids.clone();
            ids.push(c.token);
            out.parents.push(c.beam);
            out.tokens.push(c.token);
            out.nodes.push(StepNode {
                id,
                parent: parent.node,
                token_id: c.token,
                logprob: c.logprob,
                score: c.total,
                finished: None,
            });
            live.push(Beam {
                node: id,
                group,
                ids,
                score: c.total,
            });
        }
        self.live = live;
        self.step = gen_len;
        self.done = last || self.groups.iter().all(|g| g.done);
        if self.done && grouped {
            self.finalize_groups(&mut out.nodes);
        }
        out.nodes.extend(finished_nodes);
        out.done = self.done;
        if self.done {
            self.live.clear();
        }
        Ok(out)
    }

    /// The best `n` continuations of live beam `i` (with a few more for the pruned display),
    /// by ranking key.
    fn row_candidates(
        &mut self,
        i: usize,
        row: &[f32],
        chosen_before: &[u32],
        n: usize,
    ) -> Vec<Cand> {
        let beam = &self.live[i];
        let mut scores = if self.chain.stages().is_empty() {
            row.to_vec()
        } else {
            let mut history = self.prompt.clone();
            history.extend(&beam.ids);
            self.chain
                .process(row, History::new(&history, self.prompt.len()))
                .unwrap_or_else(|_| vec![f32::NEG_INFINITY; row.len()])
        };
        for &t in chosen_before {
            if let Some(s) = scores.get_mut(t as usize) {
                *s -= self.cfg.diversity;
            }
        }
        let want = n + self.cfg.pruned_per_beam;
        let base = beam.score;
        let picked: Vec<(u32, f64)> = if self.cfg.sample {
            let noisy: Vec<f32> = scores
                .iter()
                .map(|&s| s + gumbel(self.rng.random::<f64>()) as f32)
                .collect();
            top_n(&noisy, want)
                .into_iter()
                .map(|(t, k)| (t, base + k as f64))
                .collect()
        } else {
            top_n(&scores, want)
                .into_iter()
                .map(|(t, s)| (t, base + s as f64))
                .collect()
        };
        picked
            .into_iter()
            .filter(|&(t, _)| scores[t as usize] > f32::NEG_INFINITY)
            .map(|(token, key)| Cand {
                beam: i,
                token,
                logprob: row[token as usize],
                total: base + scores[token as usize] as f64,
                key,
            })
            .collect()
    }

    /// Offers candidate `c` to group `g`'s hypotheses; the finished node when kept.
    fn finish(&mut self, g: usize, c: &Cand, len: usize) -> Option<StepNode> {
        let score = normalized(c.total, len, self.cfg.length_penalty);
        if !self.groups[g].hyps.accepts(score) {
            return None;
        }
        let parent = &self.live[c.beam];
        let mut ids = parent.ids.clone();
        ids.push(c.token);
        let parent_node = parent.node;
        let id = self.fresh_node();
        self.groups[g].hyps.add(Hypothesis {
            ids,
            score,
            sum_logprobs: c.total,
            node: id,
        });
        Some(StepNode {
            id,
            parent: parent_node,
            token_id: c.token,
            logprob: c.logprob,
            score: c.total,
            finished: Some(score),
        })
    }

    /// HF `BeamSearchScorer.finalize`: the running beams of groups not done become hypotheses.
    fn finalize_groups(&mut self, nodes: &mut [StepNode]) {
        for beam in &self.live {
            let group = &mut self.groups[beam.group];
            if group.done {
                continue;
            }
            let score = normalized(beam.score, beam.ids.len(), self.cfg.length_penalty);
            let kept = group.hyps.add(Hypothesis {
                ids: beam.ids.clone(),
                score,
                sum_logprobs: beam.score,
                node: beam.node,
            });
            if let Some(n) = nodes
                .iter_mut()
                .find(|n| n.id == beam.node)
                .filter(|_| kept)
            {
                n.finished = Some(score);
            }
        }
    }

    fn fresh_node(&mut self) -> usize {
        self.next_node += 1;
        self.next_node - 1
    }
}

/// A standard Gumbel draw from a uniform `u` (`-inf` at `u = 0`).
fn gumbel(u: f64) -> f64 {
    -(-u.ln()).ln()
}
