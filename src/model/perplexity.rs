//! Negative log-likelihood of a text under a cache policy (StreamingLLM's perplexity
//! experiment), and the teacher-forced reference.
//!
//! Feeding a text one token at a time through a cache computes, for every position, the same
//! thing as one teacher-forced pass over the cached prefix, as long as nothing was evicted: the
//! causal mask lets position `i` see exactly the slots `0..=i`. So tokens are fed in chunks
//! while the cache has room (always under `full`, the first `capacity` tokens under a window or
//! sinks), and one at a time afterwards, where every token sees a different set of slots.

use tch::{Kind, Tensor};

use super::cache::CachePolicy;
use super::error::ModelError;
use super::{ids_tensor, ForwardOptions, Model};

/// Tokens per teacher-forced chunk: large enough that the weights are read once per chunk
/// rather than once per token, small enough that the chunk's logits (`chunk × vocab` f32)
/// stay modest.
pub const DEFAULT_CHUNK: usize = 256;

/// NLL (nats) of every token after the first, as if the tokens were fed one at a time through a
/// cache under `policy` (evicting as it goes, so the text may exceed the context). Tokens that
/// see no eviction are teacher-forced in chunks of [`DEFAULT_CHUNK`]. `progress` gets the
/// number of tokens fed so far.
pub fn streaming_nll(
    model: &Model,
    ids: &[u32],
    policy: CachePolicy,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<f64>, ModelError> {
    streaming_nll_chunked(model, ids, policy, DEFAULT_CHUNK, progress)
}

/// [`streaming_nll`] with at most `chunk` tokens per forward while nothing is evicted;
/// `chunk = 1` is the plain one-token-at-a-time loop.
pub fn streaming_nll_chunked(
    model: &Model,
    ids: &[u32],
    policy: CachePolicy,
    chunk: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<f64>, ModelError> {
    let mut cache = model.new_cache_with(policy);
    let n = ids.len().saturating_sub(1);
    let mut nll = Vec::with_capacity(n);
    // Inputs are ids[..n]; the target of input i is ids[i + 1]. Slots never evicted: while
    // the cache holds fewer than `capacity` tokens, a new token evicts nothing.
    let exact = policy.capacity().map_or(n, |cap| cap.min(n));
    let chunk = chunk.max(1);
    let mut fed = 0;
    while fed < n {
        let t = if fed < exact {
            chunk.min(exact - fed)
        } else {
            1
        };
        let inputs = &ids[fed..fed + t];
        let targets = &ids[fed + 1..fed + t + 1];
        let opts = if t == 1 {
            ForwardOptions::LAST
        } else {
            ForwardOptions::ALL
        };
        let out = model.forward(&ids_tensor(&[inputs]), &mut cache, opts)?;
        let logits = out.logits.reshape([t as i64, -1]);
        nll.extend(rows_nll(&logits, targets));
        fed += t;
        progress(fed);
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
    let n = ids.len() as i64;
    let logits = out.logits.get(0).narrow(0, 0, n - 1);
    Ok(rows_nll(&logits, &ids[1..]))
}

/// `-log softmax(logits[i])[targets[i]]` for every row of `logits` (`[T, vocab]`), computed
/// in f64.
fn rows_nll(logits: &Tensor, targets: &[u32]) -> Vec<f64> {
    let idx: Vec<i64> = targets.iter().map(|&t| i64::from(t)).collect();
    let idx = Tensor::from_slice(&idx).unsqueeze(1);
    let lp = logits
        .log_softmax(-1, Kind::Double)
        .gather(1, &idx, false)
        .view([-1]);
    Vec::<f64>::try_from(&(-lp)).unwrap_or_default()
}

/// Perplexity of a slice of NLLs: `exp(mean)` (1 when empty).
pub fn perplexity(nll: &[f64]) -> f64 {
    if nll.is_empty() {
        return 1.0;
    }
    (nll.iter().sum::<f64>() / nll.len() as f64).exp()
}
