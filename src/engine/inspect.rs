//! Owned views of the attention taps and the KV cache, sent to the UI
//! ([`super::protocol::Event::Attention`], [`super::protocol::Event::Cache`]).

use std::sync::Arc;

use crate::decode::contrast::lens::LensGrid;
use crate::model::cache::{CachePolicy, Slot};
use crate::model::taps::AttentionRow;

/// The captured attention rows of the current timeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttentionView {
    pub layers: usize,
    pub heads: usize,
    /// Display text of every text position (prompt, then generated tokens).
    pub tokens: Vec<String>,
    /// Number of prompt tokens.
    pub prompt_len: usize,
    /// The row of each query position (`None` where not captured).
    pub rows: Vec<Option<Arc<AttentionRow>>>,
    /// Bytes the rows hold.
    pub bytes: usize,
}

impl AttentionView {
    /// Query position whose forward produced generated step `step`'s distribution.
    pub fn query_of_step(&self, step: usize) -> usize {
        (self.prompt_len + step).saturating_sub(1)
    }

    /// The row of query position `query`.
    pub fn row(&self, query: usize) -> Option<&Arc<AttentionRow>> {
        self.rows.get(query).and_then(|r| r.as_ref())
    }

    /// Attention every text position up to `query` receives from its row (`layer`, `head`
    /// or the mean over heads); `None` for positions not in the cache then (evicted).
    pub fn received(&self, query: usize, layer: usize, head: Option<usize>) -> Vec<Option<f32>> {
        let mut out = vec![None; query + 1];
        if let Some(row) = self.row(query) {
            for (p, v) in row.key_positions().into_iter().zip(row.values(layer, head)) {
                if let Some(slot) = out.get_mut(p) {
                    *slot = Some(v);
                }
            }
        }
        out
    }
}

/// The KV cache's slots now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheView {
    pub policy: CachePolicy,
    pub slots: Vec<Slot>,
    /// Display text of each slot's token.
    pub tokens: Vec<String>,
    /// Slots evicted so far.
    pub evicted: usize,
    /// Bytes held by keys and values.
    pub bytes: u64,
    /// The model's context length.
    pub context_len: usize,
    /// How each layer attends over these slots, in order (Gemma 3 interleaves sliding-window
    /// and global layers; every other model is all global).
    pub layers: Vec<LayerReach>,
}

/// How far back one layer's queries see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerReach {
    /// Every slot in the cache.
    Global,
    /// Only the last `window` positions, the query's own included (older slots stay in the
    /// cache for the global layers).
    Sliding { window: usize },
}

/// The logit lens of a few consecutive steps of the current timeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LensView {
    /// The step asked for (the last column).
    pub step: usize,
    /// The step of each column.
    pub steps: Vec<usize>,
    /// Display text of the token each column's step chose.
    pub chosen: Vec<String>,
    /// Layer × column cells; the last row is each step's own distribution.
    pub grid: LensGrid,
}

/// How a generated token was drawn, for the tokens view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drawn {
    /// The step that generated it.
    pub step: usize,
    /// Its rank under the raw distribution of that step (0 = the most probable).
    pub rank: usize,
    /// Its raw probability at that step.
    pub prob: f32,
}

/// One token of the prompt or the transcript as the tokens view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    /// Text position.
    pub index: usize,
    pub id: u32,
    /// Its bytes as text: invalid UTF-8 as `\xNN`, control characters made visible.
    pub piece: String,
    pub special: bool,
    /// `None` for prompt tokens.
    pub drawn: Option<Drawn>,
}

/// The prompt and generated tokens of a snapshot as rows (specials from `info`).
pub fn token_rows(
    snapshot: &super::protocol::Snapshot,
    info: &super::protocol::ModelInfo,
) -> Vec<TokenRow> {
    let special = |id: u32| info.specials.binary_search(&id).is_ok();
    let prompt = snapshot
        .prompt_tokens
        .iter()
        .map(|(id, text)| (*id, text.clone(), None));
    let generated = snapshot.steps.iter().map(|s| {
        let c = &s.trace.chosen;
        let drawn = Drawn {
            step: s.index,
            rank: c.rank,
            prob: c.raw_prob,
        };
        (s.token_id, s.text.clone(), Some(drawn))
    });
    prompt
        .chain(generated)
        .enumerate()
        .map(|(index, (id, piece, drawn))| TokenRow {
            index,
            id,
            special: special(id),
            piece,
            drawn,
        })
        .collect()
}
