//! The attention trail's memory budget on a synthetic 2,048-token session shaped like the
//! default model (30 layers, 9 heads), and what reduction keeps.

use half::f16;
use logitscope::model::taps::{AttentionRow, AttentionTrail, DEFAULT_BUDGET, KEEP_FIRST};

const LAYERS: usize = 30;
const HEADS: usize = 9;
const SESSION: usize = 2048;
const MB64: usize = 64 << 20;

/// A row over keys `0..=q` where every head sends half its mass to key 0 (the sink) and
/// spreads the rest evenly; head `h` adds a small tilt so heads differ.
fn row(q: usize) -> AttentionRow {
    let s = q + 1;
    let mut data = Vec::with_capacity(LAYERS * HEADS * s);
    for _ in 0..LAYERS {
        for h in 0..HEADS {
            let rest = if s > 1 { 0.5 / (s - 1) as f32 } else { 0.0 };
            let sink = if s > 1 { 0.5 } else { 1.0 };
            data.push(f16::from_f32(sink + 0.001 * h as f32));
            data.extend(std::iter::repeat_n(f16::from_f32(rest), s - 1));
        }
    }
    let keys: Vec<usize> = (0..s).collect();
    AttentionRow::new(q, &keys, LAYERS, HEADS, data)
}

#[test]
fn a_2048_token_session_stays_under_64_mb() {
    const { assert!(DEFAULT_BUDGET <= MB64) };
    let mut trail = AttentionTrail::default();
    let mut peak = 0;
    for q in 0..SESSION {
        trail.insert(row(q));
        peak = peak.max(trail.bytes());
    }
    assert!(peak <= MB64, "peak {peak} bytes");
    let rows = trail.rows();
    assert_eq!(rows.len(), SESSION);
    assert!(!rows[SESSION - 1].as_ref().unwrap().is_reduced());
    assert!(rows[10].as_ref().unwrap().is_reduced());
    eprintln!(
        "2,048-token session: {:.1} MB",
        trail.bytes() as f64 / (1 << 20) as f64
    );
}

#[test]
fn reduction_keeps_the_sink_and_the_mass() {
    let full = row(999);
    let small = full.reduced();
    assert!(small.bytes() * 50 < full.bytes());
    for layer in [0, LAYERS - 1] {
        let (a, b) = (full.values(layer, None), small.values(layer, None));
        assert_eq!(a.len(), b.len());
        for k in 0..KEEP_FIRST {
            assert!((a[k] - b[k]).abs() < 1e-3, "key {k}");
        }
        let (ma, mb): (f32, f32) = (a.iter().sum(), b.iter().sum());
        assert!((ma - mb).abs() < 0.02, "mass {ma} vs {mb}");
    }
    // A reduced row answers every head with the mean.
    assert_eq!(small.values(3, Some(2)), small.values(3, None));
}

#[test]
fn truncate_frees_rows() {
    let mut trail = AttentionTrail::new(1 << 20);
    for q in 0..100 {
        trail.insert(row(q));
    }
    let before = trail.bytes();
    trail.truncate(50);
    assert_eq!(trail.rows().len(), 50);
    assert!(trail.bytes() < before);
    trail.truncate(0);
    assert_eq!(trail.bytes(), 0);
}
