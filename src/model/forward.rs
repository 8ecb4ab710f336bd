//! What one forward pass is asked for and returns: which logits, attention, early exit and
//! residual streams.

use tch::{Kind, Tensor};

/// Which positions' logits a forward returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitsWanted {
    /// Only the last position: `[batch, vocab]`.
    Last,
    /// Every position (teacher forcing): `[batch, T, vocab]`.
    All,
}

/// Options of one forward pass.
#[derive(Debug, Clone, Copy)]
pub struct ForwardOptions {
    pub logits: LogitsWanted,
    /// Return the attention probabilities of every layer.
    pub capture_attention: bool,
    /// Run only the first `L` blocks, then the final norm and head (early exit, the logit
    /// lens of block `L`); only those blocks' caches are appended to. `None`: every block.
    pub exit_after: Option<usize>,
    /// Which positions' residual streams to return (after the embedding and every block).
    pub hidden: HiddenWanted,
}

/// Which positions' residual streams a forward returns (see [`ForwardOutput::hidden`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenWanted {
    /// None: the plain path, no extra work.
    None,
    /// The last position only: `(L + 1) · d` floats per sequence.
    Last,
    /// Every position of the chunk: `T · (L + 1) · d` floats per sequence.
    All,
}

impl ForwardOptions {
    /// Last-position logits, no attention capture.
    pub const LAST: ForwardOptions = ForwardOptions {
        logits: LogitsWanted::Last,
        capture_attention: false,
        exit_after: None,
        hidden: HiddenWanted::None,
    };
    /// Logits at every position, no attention capture.
    pub const ALL: ForwardOptions = ForwardOptions {
        logits: LogitsWanted::All,
        capture_attention: false,
        exit_after: None,
        hidden: HiddenWanted::None,
    };
}

/// What a forward pass returns.
pub struct ForwardOutput {
    /// f32 logits, shaped per [`LogitsWanted`].
    pub logits: Tensor,
    /// Per layer `[batch, heads, T, slots]` attention probabilities (f32), when captured.
    pub attentions: Vec<Tensor>,
    /// The residual stream, f32 `[batch, T', L + 1, d]` (`T'` = 1 or T per
    /// [`HiddenWanted`]): index 0 is the embedding output, index `l` the stream after block
    /// `l`, before the final norm. `None` unless asked for.
    pub hidden: Option<Tensor>,
}

/// Collects the residual stream after the embedding and each block for [`HiddenWanted`].
pub(crate) struct HiddenTap {
    wanted: HiddenWanted,
    rows: Vec<Tensor>,
}

impl HiddenTap {
    pub(crate) fn new(wanted: HiddenWanted) -> Self {
        HiddenTap {
            wanted,
            rows: Vec::new(),
        }
    }

    /// Records a copy of `x` (`[batch, T, d]`, updated in place by the next block), the
    /// stream at the next depth.
    pub(crate) fn push(&mut self, x: &Tensor) {
        let copy = |t: Tensor| t.to_dtype(Kind::Float, false, true);
        match self.wanted {
            HiddenWanted::None => {}
            HiddenWanted::Last => {
                let t = x.size()[1];
                self.rows.push(copy(x.narrow(1, t - 1, 1)));
            }
            HiddenWanted::All => self.rows.push(copy(x.shallow_clone())),
        }
    }

    /// `[batch, T', depth, d]`, or `None` when nothing was asked for.
    pub(crate) fn finish(self) -> Option<Tensor> {
        (self.wanted != HiddenWanted::None).then(|| Tensor::stack(&self.rows, 2))
    }
}
