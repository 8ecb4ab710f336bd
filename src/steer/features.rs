//! The hidden-state features a probe reads: one prefix at a time (training, checks) or the
//! `k` one-token continuations of a cached prefix in ONE batched forward (steering).

use tch::Tensor;

use crate::model::cache::KvCache;
use crate::model::error::ModelError;
use crate::model::{ids_tensor, tensor_to_vec, ForwardOptions, HiddenWanted, LogitsWanted, Model};

/// Forward options that return the last position's residual streams.
const HIDDEN_LAST: ForwardOptions = ForwardOptions {
    logits: LogitsWanted::Last,
    capture_attention: false,
    exit_after: None,
    hidden: HiddenWanted::Last,
};

/// The feature of each row of `hidden` (`[n, 1, L + 1, d]`, a forward's last-position
/// streams): the stream after block `layer`, through the final norm when `layer` is the last
/// block.
pub fn rows_at_layer(model: &Model, hidden: &Tensor, layer: usize) -> Vec<Vec<f32>> {
    let rows = hidden.select(1, 0).select(1, layer as i64);
    let rows = if layer == model.config().layers {
        model.final_norm(&rows)
    } else {
        rows
    };
    (0..rows.size()[0])
        .map(|i| tensor_to_vec(&rows.get(i)))
        .collect()
}

/// The feature at `layer` of one position's stored streams (`(L + 1) · d` floats, the
/// embedding output first), as [`rows_at_layer`] computes it.
pub fn stream_feature(model: &Model, streams: &[f32], layer: usize) -> Vec<f32> {
    let d = model.config().hidden;
    let row = Tensor::from_slice(&streams[layer * d..(layer + 1) * d]).view([1, d as i64]);
    if layer == model.config().layers {
        tensor_to_vec(&model.final_norm(&row))
    } else {
        tensor_to_vec(&row)
    }
}

/// The feature of the text `ids` (at its last position), from a fresh cache.
pub fn prefix_feature(model: &Model, ids: &[u32], layer: usize) -> Result<Vec<f32>, ModelError> {
    let mut cache = model.new_cache();
    let out = model.forward(&ids_tensor(&[ids]), &mut cache, HIDDEN_LAST)?;
    let hidden = out
        .hidden
        .ok_or_else(|| ModelError::Other("the forward returned no hidden states".into()))?;
    Ok(rows_at_layer(model, &hidden, layer).remove(0))
}

/// The last-position streams (`[k, 1, L + 1, d]`) of the `k` continuations prefix + x for
/// every `x` in `ids`, where `cache` holds the prefix (one row): ONE forward of `k` rows on a
/// `k`-row copy of the cache, which is then restored as it was.
pub fn candidate_streams(
    model: &Model,
    cache: &mut KvCache,
    ids: &[u32],
) -> Result<Tensor, ModelError> {
    let before = cache.checkpoint();
    cache.reorder(&vec![0; ids.len()]);
    let rows: Vec<[u32; 1]> = ids.iter().map(|&id| [id]).collect();
    let rows: Vec<&[u32]> = rows.iter().map(|r| r.as_slice()).collect();
    let out = model.forward(&ids_tensor(&rows), cache, HIDDEN_LAST);
    cache.restore(before).map_err(ModelError::Other)?;
    out?.hidden
        .ok_or_else(|| ModelError::Other("the forward returned no hidden states".into()))
}
