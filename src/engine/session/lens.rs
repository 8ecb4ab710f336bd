//! The logit lens of the session's steps, and of the pending next token, from the residual
//! streams each step stored at its last position.

use crate::decode::contrast::lens::LensGrid;

use super::super::inspect::LensView;
use super::contrast::invalid;
use super::{EngineError, Session};

/// Steps the lens view shows at once.
pub const LENS_COLUMNS: usize = 6;

impl Session {
    /// The logit lens of steps `first..=last` of the current timeline: one column per step
    /// (the position that predicted it), one row per layer `1..=L`; the last row is the step's
    /// own logits, exactly.
    pub fn lens(&self, first: usize, last: usize) -> Result<LensGrid, EngineError> {
        let layers = self.lm.model.config().layers;
        let mut grid = LensGrid::new((1..=layers).collect());
        let early: Vec<usize> = (1..layers).collect();
        for step in first..=last.min(self.steps().len().saturating_sub(1)) {
            let Some(r) = self.cached_aux(step).rows_ref() else {
                continue;
            };
            let rows = self.rows.get(r).map_err(invalid)?;
            let mut col = self.lens_rows(&rows, &early, true);
            col.push(self.cached(step)?.0);
            grid.push_column(self.prompt_ids.len() - 1 + step, &col);
        }
        Ok(grid)
    }

    /// The lens view of the [`LENS_COLUMNS`] steps ending at `step`; `step` may be the pending
    /// next token (the number of steps), once its distribution has been computed.
    pub fn lens_view(&self, step: usize) -> Result<LensView, EngineError> {
        let steps = self.steps();
        let n = steps.len();
        let first = (step + 1).saturating_sub(LENS_COLUMNS);
        let mut grid = match step {
            _ if step > n => return Err(invalid(format!("no step {step}"))),
            0 if n == 0 => LensGrid::new((1..=self.lm.model.config().layers).collect()),
            _ => self.lens(first, step.min(n - 1))?,
        };
        if step == n {
            let (Some(rows), Some(logits)) = (self.pending_streams()?, self.pending.clone()) else {
                return Err(invalid("the next token's distribution is not computed yet"));
            };
            let early: Vec<usize> = (1..self.lm.model.config().layers).collect();
            let mut col = self.lens_rows(&rows, &early, true);
            col.push(logits);
            grid.push_column(self.prompt_ids.len() - 1 + n, &col);
        }
        let p = self.prompt_ids.len() - 1;
        let cols: Vec<usize> = grid.positions.iter().map(|&pos| pos - p).collect();
        Ok(LensView {
            step,
            chosen: cols
                .iter()
                .map(|&i| {
                    steps
                        .get(i)
                        .map_or_else(|| "(next)".into(), |s| s.text.clone())
                })
                .collect(),
            steps: cols,
            grid,
        })
    }

    /// The pending forward's residual streams, wherever they are kept now.
    fn pending_streams(&self) -> Result<Option<Vec<f32>>, EngineError> {
        if let Some(rows) = &self.pending_rows {
            return Ok(Some(rows.clone()));
        }
        match self
            .pending_inputs
            .as_ref()
            .and_then(|(_, _, aux)| aux.rows_ref())
        {
            Some(r) => Ok(Some(self.rows.get(r).map_err(invalid)?.to_vec())),
            None => Ok(None),
        }
    }
}
