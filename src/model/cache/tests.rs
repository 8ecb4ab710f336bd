//! Slot bookkeeping under each policy (in the style of candle's `RotatingCache` tests). Keys
//! hold their encoding position and the shift subtracts, so a correctly re-keyed slot `i`
//! always holds `i`.

use tch::{Kind, Tensor};

use super::{CachePolicy, KvCache, SlotKind};

fn shift(_layer: usize, k: &Tensor, by: i64) -> Tensor {
    k - by as f64
}

/// Feeds `t` tokens: keys encode their cache positions, values their text positions.
fn feed(c: &mut KvCache, t: usize) -> usize {
    let evicted = c.make_room(t, &shift).expect("fits");
    let (start, next) = (c.len() as i64, c.next_position() as i64);
    let k = Tensor::arange_start(start, start + t as i64, (Kind::Float, tch::Device::Cpu));
    let v = Tensor::arange_start(next, next + t as i64, (Kind::Float, tch::Device::Cpu));
    let _ = c.append(0, k.view([1, 1, -1, 1]), v.view([1, 1, -1, 1]));
    evicted
}

fn values(t: &Tensor) -> Vec<i64> {
    Vec::<f32>::try_from(t.contiguous().view([-1]))
        .unwrap()
        .into_iter()
        .map(|x| x.round() as i64)
        .collect()
}

fn check_keys(c: &KvCache) {
    let (k, v) = c.layer(0).unwrap();
    assert_eq!(values(&k), (0..c.len() as i64).collect::<Vec<_>>());
    let pos: Vec<i64> = c.positions().iter().map(|&p| p as i64).collect();
    assert_eq!(values(&v), pos);
}

#[test]
fn parse_and_display() {
    for s in ["full", "window:64", "sinks:4,64"] {
        assert_eq!(s.parse::<CachePolicy>().unwrap().to_string(), s);
    }
    for bad in [
        "",
        "window",
        "window:",
        "window:0",
        "sinks:4",
        "sinks:4,0",
        "sinks:a,3",
        "x:1",
    ] {
        assert!(bad.parse::<CachePolicy>().is_err(), "{bad}");
    }
}

#[test]
fn full_never_evicts() {
    let mut c = KvCache::new(1);
    for _ in 0..10 {
        assert_eq!(feed(&mut c, 3), 0);
    }
    assert_eq!((c.len(), c.next_position(), c.evicted()), (30, 30, 0));
    check_keys(&c);
}

#[test]
fn window_keeps_the_most_recent() {
    let mut c = KvCache::with_policy(1, CachePolicy::Window { w: 4 });
    assert_eq!(feed(&mut c, 3), 0);
    assert_eq!(feed(&mut c, 1), 0);
    assert_eq!(feed(&mut c, 1), 1);
    assert_eq!(feed(&mut c, 2), 2);
    assert_eq!(c.positions(), &[3, 4, 5, 6]);
    assert_eq!((c.next_position(), c.evicted()), (7, 3));
    assert!(c.slots().iter().all(|s| s.kind == SlotKind::Recent));
    check_keys(&c);
}

#[test]
fn sinks_are_retained_and_recent_slide() {
    let mut c = KvCache::with_policy(1, CachePolicy::Sinks { s: 2, w: 3 });
    feed(&mut c, 4);
    let evicted: Vec<usize> = (0..7).map(|_| feed(&mut c, 1)).collect();
    assert_eq!(evicted, [0, 1, 1, 1, 1, 1, 1]);
    assert_eq!(c.positions(), &[0, 1, 8, 9, 10]);
    assert_eq!(c.evicted(), 6);
    let kinds: Vec<_> = c.slots().iter().map(|s| s.kind).collect();
    assert_eq!(kinds[..2], [SlotKind::Sink, SlotKind::Sink]);
    assert!(kinds[2..].iter().all(|&k| k == SlotKind::Recent));
    check_keys(&c);
}

#[test]
fn chunks_bigger_than_the_window_are_refused() {
    let mut c = KvCache::with_policy(1, CachePolicy::Sinks { s: 2, w: 3 });
    assert_eq!(c.max_chunk(), 5);
    feed(&mut c, 1);
    assert_eq!(c.max_chunk(), 4);
    feed(&mut c, 2);
    assert_eq!(c.max_chunk(), 3);
    assert!(c.len_after(4).is_err());
    assert!(c.make_room(4, &shift).is_err());
    assert_eq!(c.len(), 3, "a refused chunk leaves the cache alone");
    assert_eq!(feed(&mut c, 3), 1);
    assert_eq!(c.positions(), &[0, 1, 3, 4, 5]);
    check_keys(&c);
}

#[test]
fn truncate_rolls_back_positions() {
    let mut c = KvCache::new(1);
    feed(&mut c, 5);
    c.truncate(2);
    assert_eq!((c.len(), c.next_position()), (2, 2));
    feed(&mut c, 1);
    check_keys(&c);
}
