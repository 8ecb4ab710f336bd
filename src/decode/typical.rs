//! Locally typical sampling.

use super::candidates::Candidates;
use super::math::sort_prefix_until;
use super::spec::{flip, off_or, step, KnobSpec, StageSpec, ThresholdKind};
use super::stage::{Effect, History, Stage};

/// Typical sampling (HF `TypicalLogitsWarper`): orders candidates by `|-log p - H|` (distance
/// from the entropy `H`), takes the shortest such prefix whose mass reaches `mass`, and keeps
/// every candidate at most as far from `H` as its last member (so ties are kept), plus the
/// `min_keep` closest. Ties in distance are ordered by smaller id. The kept set is generally
/// not a rank prefix: the most likely token can be removed.
pub struct Typical {
    pub mass: f32,
    pub min_keep: usize,
}

impl Stage for Typical {
    fn name(&self) -> &'static str {
        SPEC.name
    }

    fn params(&self) -> String {
        format!("p={}", self.mass)
    }

    fn apply(&self, c: &mut Candidates, _: History<'_>) -> Effect {
        let h = c.entropy();
        let log_z = c.log_z();
        // |-ln p - H| with ln p = logit - log_z.
        let mut dist: Vec<(f64, u32, usize)> = c
            .items()
            .iter()
            .enumerate()
            .map(|(pos, x)| ((log_z - x.logit as f64 - h).abs(), x.id, pos))
            .collect();
        let cmp =
            |a: &(f64, u32, usize), b: &(f64, u32, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let items = c.items();
        let mass = self.mass as f64;
        let mut last = None;
        let sorted = sort_prefix_until(&mut dist, 0, cmp, |prefix| {
            let mut cum = 0.0;
            last = prefix.iter().position(|&(_, _, pos)| {
                cum += items[pos].p as f64;
                cum >= mass
            });
            last.is_some()
        });
        let last = last.unwrap_or(sorted - 1);
        let threshold = dist[last].0;
        let min_keep = self.min_keep.max(1);
        if min_keep > sorted {
            sort_prefix_until(&mut dist, sorted, cmp, |p| p.len() >= min_keep);
        }
        let mut keep = vec![false; c.len()];
        for (rank, &(d, _, pos)) in dist.iter().enumerate() {
            keep[pos] = d <= threshold || rank < min_keep;
        }
        c.retain_where(|pos, _| keep[pos]);
        Effect {
            threshold: Some(threshold as f32),
            prefix: false,
            detail: None,
        }
    }
}

/// `typical_p`: locally typical sampling.
pub const SPEC: StageSpec = StageSpec {
    name: "typical_p",
    abbrev: "typ",
    threshold: ThresholdKind::Own,
    build: |c| {
        let min_keep = c.min_keep.max(1);
        c.typical_p
            .filter(|&m| m != 1.0)
            .map(|mass| Box::new(Typical { mass, min_keep }) as Box<dyn Stage>)
    },
    knobs: &[KnobSpec {
        label: "typical-p",
        hint: "keep tokens near the expected surprise",
        rank: 6,
        enabled: |c| c.typical_p.is_some(),
        value: |c| off_or(c.typical_p, |p| format!("{p:.2}")),
        adjust: |c, up| {
            c.typical_p = Some(c.typical_p.map_or(0.95, |p| step(p, up, 0.05, 0.05, 1.0)))
        },
        toggle: |c, back| flip(&mut c.typical_p, back, 0.95),
    }],
};
