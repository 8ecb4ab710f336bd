//! The logit lens over a prompt: what the model would predict at every position if it stopped
//! after each block.

use super::error::ModelError;
use super::{ids_tensor, tensor_to_vec, ForwardOptions, HiddenWanted, LogitsWanted, Model};

/// Runs `ids` once with hidden-state taps and calls `each(position, logits)` for every
/// position, where `logits[l - 1]` is layer `l`'s prediction for `l` in `1..=L`: the head
/// applied to the final norm of the residual stream after block `l`, and for `l = L` the
/// model's own logits. Memory: the taps hold `T · (L + 1) · d` floats, and one position's
/// `L` logit vectors exist at a time.
pub fn prompt_lens(
    model: &Model,
    ids: &[u32],
    mut each: impl FnMut(usize, Vec<Vec<f32>>),
) -> Result<(), ModelError> {
    let mut cache = model.new_cache();
    let opts = ForwardOptions {
        logits: LogitsWanted::All,
        capture_attention: false,
        exit_after: None,
        hidden: HiddenWanted::All,
    };
    let out = model.forward(&ids_tensor(&[ids]), &mut cache, opts)?;
    let hidden = out
        .hidden
        .ok_or_else(|| ModelError::Other("the forward returned no hidden states".into()))?
        .get(0);
    let logits = out.logits.get(0);
    let layers = model.config().layers as i64;
    for t in 0..ids.len() {
        let at = hidden.get(t as i64);
        let mut col = Vec::with_capacity(layers as usize);
        if layers > 1 {
            let lens = model.lens_logits(&at.narrow(0, 1, layers - 1), true);
            col.extend((0..layers - 1).map(|l| tensor_to_vec(&lens.get(l))));
        }
        col.push(tensor_to_vec(&logits.get(t as i64)));
        each(t, col);
    }
    Ok(())
}
