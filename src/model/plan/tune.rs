//! Timing the candidate layouts of one shape, and the decision.

use std::time::Instant;

use tch::{Device, Kind, Tensor};

use super::{apply, Choice, Entry, Method, Shape, Storage, BUCKETS};

/// The candidates, as (storage, method).
pub(super) const CANDIDATES: [(Storage, Method); 6] = [
    (Storage::Row, Method::Linear),
    (Storage::Row, Method::Wxt),
    (Storage::Row, Method::Gemv),
    (Storage::Col, Method::Linear),
    (Storage::Col, Method::Wxt),
    (Storage::Col, Method::Xwt),
];

/// A layout must beat plain `linear` by this factor to be chosen.
const MARGIN: f64 = 0.93;

/// A warm-up round, then timed rounds (every candidate once per round, interleaved). The
/// fastest round counts: on a shared machine, interference only ever adds time.
const ROUNDS: usize = 5;

/// Times every candidate on `count` synthetic matrices of the shape (streamed one after the
/// other, as decoding streams the layers) and picks the layout.
pub(super) fn tune(kind: Kind, s: Shape) -> Entry {
    // As many matrices as the model has (a pass streams what decoding streams), within
    // 256 MiB.
    let elem = if kind == Kind::Float { 4 } else { 2 };
    let bytes = (s.out * s.inp * elem).max(1) as usize;
    let count = s.count.clamp(1, ((256 << 20) / bytes).max(1));
    let opts = (kind, Device::Cpu);
    let rows: Vec<Tensor> = (0..count)
        .map(|_| Tensor::full([s.out, s.inp], 0.01, opts))
        .collect();
    let cols: Vec<Tensor> = (0..count)
        .map(|_| Tensor::full([s.inp, s.out], 0.01, opts))
        .collect();
    let xs: Vec<Tensor> = BUCKETS
        .iter()
        .map(|&m| Tensor::full([m, s.inp], 0.5, opts))
        .collect();
    let mut samples = vec![vec![Vec::with_capacity(ROUNDS); BUCKETS.len()]; CANDIDATES.len()];
    for round in 0..=ROUNDS {
        for (bi, x) in xs.iter().enumerate() {
            for (ci, &(storage, method)) in CANDIDATES.iter().enumerate() {
                let ws = match storage {
                    Storage::Row => &rows,
                    Storage::Col => &cols,
                };
                let t0 = Instant::now();
                for w in ws {
                    let _ = apply(w, storage, method, x);
                }
                let ms = t0.elapsed().as_secs_f64() * 1e3;
                if round > 0 {
                    samples[ci][bi].push(ms);
                }
            }
        }
    }
    let med: Vec<[f64; 3]> = samples
        .iter()
        .map(|per| std::array::from_fn(|bi| per[bi].iter().copied().fold(f64::INFINITY, f64::min)))
        .collect();
    let choice = pick(&med);
    let ms = CANDIDATES
        .iter()
        .zip(&med)
        .map(|(&(st, m), v)| {
            let st = match st {
                Storage::Row => "row",
                Storage::Col => "col",
            };
            (format!("{st} {}", m.name()), *v)
        })
        .collect();
    Entry {
        choice,
        count: s.count,
        ms,
    }
}

/// The decision from median times (`med[candidate][bucket]`, candidates as [`CANDIDATES`]).
fn pick(med: &[[f64; 3]]) -> Choice {
    let linear = med[0];
    // Decode (one row) is what runs most; weight it so.
    let weights = [4.0, 1.0, 1.0];
    let best_of = |storage: Storage| -> Option<([Method; 3], f64)> {
        let mut methods = [Method::Linear; 3];
        let mut score = 0.0;
        for bi in 0..BUCKETS.len() {
            let (ci, t) = CANDIDATES
                .iter()
                .enumerate()
                .filter(|(_, c)| c.0 == storage)
                .map(|(ci, _)| (ci, med[ci][bi]))
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            let row_linear = storage == Storage::Row && ci == 0;
            if row_linear || t <= MARGIN * linear[bi] {
                methods[bi] = CANDIDATES[ci].1;
                score += weights[bi] * t;
            } else if storage == Storage::Row {
                methods[bi] = Method::Linear;
                score += weights[bi] * linear[bi];
            } else {
                // The transposed storage would be slower than `linear` at this row count.
                return None;
            }
        }
        Some((methods, score))
    };
    let row = best_of(Storage::Row);
    let col = best_of(Storage::Col);
    match (row, col) {
        (_, Some((methods, c))) if row.as_ref().is_none_or(|r| c < MARGIN * r.1) => Choice {
            storage: Storage::Col,
            methods,
        },
        (Some((methods, _)), _) => Choice {
            storage: Storage::Row,
            methods,
        },
        _ => Choice::LINEAR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pick_never_loses_to_linear() {
        // candidates: row linear, row wxt, row gemv, col linear, col wxt, col xwt
        let slow_elsewhere = [[1.0; 3], [3.0; 3], [1.2; 3], [2.0; 3], [2.5; 3], [1.5; 3]];
        assert!(pick(&slow_elsewhere).is_linear());
        let wxt_wins = [[4.0; 3], [1.0; 3], [4.0; 3], [4.0; 3], [4.0; 3], [4.0; 3]];
        let c = pick(&wxt_wins);
        assert_eq!(c.storage, Storage::Row);
        assert_eq!(c.methods, [Method::Wxt; 3]);
        // Our kernels win at one and four rows, libtorch's duplicated row at eight.
        let gemv_wins = [
            [4.0; 3],
            [5.0, 5.0, 1.0],
            [1.0, 2.0, 3.0],
            [9.0; 3],
            [9.0; 3],
            [9.0; 3],
        ];
        let c = pick(&gemv_wins);
        assert_eq!(c.storage, Storage::Row);
        assert_eq!(c.methods, [Method::Gemv, Method::Gemv, Method::Wxt]);
        // Transposed storage wins at one row but loses at four: not chosen.
        let mixed = [
            [4.0, 4.0, 4.0],
            [5.0; 3],
            [5.0; 3],
            [1.0, 9.0, 1.0],
            [9.0; 3],
            [9.0; 3],
        ];
        assert_eq!(pick(&mixed).storage, Storage::Row);
        // Within the margin of linear: keep linear.
        let close = [[1.0; 3], [0.97; 3], [0.96; 3], [2.0; 3], [2.0; 3], [2.0; 3]];
        assert!(pick(&close).is_linear());
        let col_wins = [
            [4.0; 3],
            [5.0; 3],
            [5.0; 3],
            [2.0, 3.0, 3.0],
            [5.0; 3],
            [1.0, 9.0, 2.0],
        ];
        let c = pick(&col_wins);
        assert_eq!(c.storage, Storage::Col);
        assert_eq!(c.methods, [Method::Xwt, Method::Linear, Method::Xwt]);
    }
}
