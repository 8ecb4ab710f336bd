//! Every step's raw logits, kept exactly (f32) so knob previews, branches and the views
//! recompute from the very numbers the step used, with bounded memory: each vector is written
//! once to an unnamed temporary file (deleted by the OS when the session ends) and the most
//! recent [`IN_MEMORY`] stay in memory too. A 2,000-step session on a 49,152-token vocabulary
//! holds 256 × 196 KB ≈ 50 MB in memory and ≈ 393 MB on disk; reading an old step back costs
//! one 196 KB read.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Vectors kept in memory besides the file.
pub const IN_MEMORY: usize = 256;

/// Handle to one stored vector (cheap to clone; shared by the timelines that contain it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogitsRef(u64);

/// Append-only store of logit vectors of one length.
pub struct LogitStore {
    /// `None` when no temporary file could be made: then every vector stays in memory.
    file: Option<File>,
    len: usize,
    count: u64,
    recent: VecDeque<(u64, Arc<Vec<f32>>)>,
    /// Vectors that could not be written to the file.
    kept: Vec<(u64, Arc<Vec<f32>>)>,
}

impl LogitStore {
    /// A store for vectors of `len` logits.
    pub fn new(len: usize) -> Self {
        LogitStore {
            file: tempfile::tempfile().ok(),
            len,
            count: 0,
            recent: VecDeque::new(),
            kept: Vec::new(),
        }
    }

    /// Stores `logits` (which must have the store's length).
    pub fn push(&mut self, logits: &[f32]) -> LogitsRef {
        let id = self.count;
        self.count += 1;
        let v = Arc::new(logits.to_vec());
        let written = logits.len() == self.len && self.write(id, logits).is_ok();
        if !written {
            self.kept.push((id, v.clone()));
        }
        self.recent.push_back((id, v));
        if self.recent.len() > IN_MEMORY {
            self.recent.pop_front();
        }
        LogitsRef(id)
    }

    /// The vector behind `r`, exactly as pushed.
    pub fn get(&self, r: LogitsRef) -> Result<Arc<Vec<f32>>, String> {
        if let Some((_, v)) = self
            .recent
            .iter()
            .chain(&self.kept)
            .find(|(id, _)| *id == r.0)
        {
            return Ok(v.clone());
        }
        let file = self
            .file
            .as_ref()
            .ok_or("logits of that step were not kept")?;
        let mut bytes = vec![0u8; self.len * 4];
        let offset = r.0 * bytes.len() as u64;
        file.read_exact_at(&mut bytes, offset)
            .map_err(|e| format!("reading a step's logits back: {e}"))?;
        Ok(Arc::new(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        ))
    }

    fn write(&self, id: u64, logits: &[f32]) -> std::io::Result<()> {
        let Some(file) = &self.file else {
            return Err(std::io::ErrorKind::Unsupported.into());
        };
        let bytes: Vec<u8> = logits.iter().flat_map(|x| x.to_le_bytes()).collect();
        file.write_all_at(&bytes, id * bytes.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vector_reads_back_bit_exact_in_and_out_of_memory() {
        let mut store = LogitStore::new(5);
        let vecs: Vec<Vec<f32>> = (0..IN_MEMORY + 40)
            .map(|i| {
                (0..5)
                    .map(|j| (i * 7 + j) as f32 * 0.1234567 - 3.0)
                    .collect()
            })
            .collect();
        let refs: Vec<LogitsRef> = vecs.iter().map(|v| store.push(v)).collect();
        assert_eq!(store.recent.len(), IN_MEMORY);
        for (r, v) in refs.iter().zip(&vecs) {
            let got = store.get(*r).unwrap();
            assert_eq!(
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
    }
}
