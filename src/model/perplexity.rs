//! Token-by-token negative log-likelihood of a text under a cache policy (StreamingLLM's
//! perplexity experiment), and the teacher-forced reference.

use tch::{Kind, Tensor};

use super::cache::CachePolicy;
use super::error::ModelError;
use super::{ids_tensor, ForwardOptions, Model};

/// NLL (nats) of every token after the first, feeding one token at a time through a cache
/// under `policy` (evicting as it goes, so the text may exceed the context). `progress` gets
/// the number of tokens fed so far.
pub fn streaming_nll(
    model: &Model,
    ids: &[u32],
    policy: CachePolicy,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<f64>, ModelError> {
    let mut cache = model.new_cache_with(policy);
    let mut nll = Vec::with_capacity(ids.len().saturating_sub(1));
    for (i, pair) in ids.windows(2).enumerate() {
        let out = model.forward(&ids_tensor(&[&pair[..1]]), &mut cache, ForwardOptions::LAST)?;
        nll.push(token_nll(&out.logits.get(0), pair[1]));
        progress(i + 1);
    }
    Ok(nll)
}

/// NLL of every token after the first from one teacher-forced forward (full attention).
pub fn teacher_forced_nll(model: &Model, ids: &[u32]) -> Result<Vec<f64>, ModelError> {
    if ids.len() < 2 {
        return Ok(Vec::new());
    }
    let mut cache = model.new_cache();
    let out = model.forward(&ids_tensor(&[ids]), &mut cache, ForwardOptions::ALL)?;
    let logits = out.logits.get(0);
    Ok(ids[1..]
        .iter()
        .enumerate()
        .map(|(i, &next)| token_nll(&logits.get(i as i64), next))
        .collect())
}

fn token_nll(logits: &Tensor, next: u32) -> f64 {
    -logits
        .log_softmax(-1, Kind::Double)
        .double_value(&[next as i64])
}

/// Perplexity of a slice of NLLs: `exp(mean)` (1 when empty).
pub fn perplexity(nll: &[f64]) -> f64 {
    if nll.is_empty() {
        return 1.0;
    }
    (nll.iter().sum::<f64>() / nll.len() as f64).exp()
}
