//! Each block format against hand-computed blocks.

use super::*;

fn h(x: f32) -> [u8; 2] {
    f16::from_f32(x).to_le_bytes()
}

#[test]
fn type_table_is_consistent() {
    for (ty, id, name, bs, ts) in TYPES {
        assert_eq!(GgmlType::from_id(id), Some(ty));
        assert_eq!(
            (ty.id(), ty.name(), ty.block_size(), ty.type_size()),
            (id, name, bs, ts)
        );
        assert_eq!(ty.to_string(), name);
    }
    for gone in [4, 5, 31, 32, 33, 36, 37, 38, 40, 1000] {
        assert_eq!(GgmlType::from_id(gone), None);
    }
}

#[test]
fn unsupported_types_return_none() {
    for (ty, ..) in TYPES {
        assert_eq!(dequantize(ty, &[]).is_some(), ty.can_dequantize(), "{ty}");
    }
}

#[test]
fn scalar_types() {
    let f32s: Vec<u8> = [1.5f32, -2.25]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!(dequantize(GgmlType::F32, &f32s).unwrap(), [1.5, -2.25]);
    // 0x3C00 = 1.0, 0xC000 = -2.0, 0x3555 ~= 0.333 in IEEE half precision.
    let f16s = [0x00, 0x3C, 0x00, 0xC0, 0x55, 0x35];
    assert_eq!(
        dequantize(GgmlType::F16, &f16s).unwrap(),
        [1.0, -2.0, 0.333_251_95]
    );
    // bfloat16 is the top half of an f32: 0x3FC0 -> 0x3FC00000 = 1.5.
    let bf16s = [0xC0, 0x3F, 0x80, 0xBF];
    assert_eq!(dequantize(GgmlType::BF16, &bf16s).unwrap(), [1.5, -1.0]);
}

#[test]
fn q8_0_block() {
    let mut b = h(0.5).to_vec();
    b.extend((0..32).map(|j| (j as i8 - 16) as u8));
    let y = dequantize(GgmlType::Q8_0, &b).unwrap();
    assert_eq!(y.len(), 32);
    assert_eq!(y[0], -8.0); // -16 * 0.5
    assert_eq!(y[16], 0.0);
    assert_eq!(y[31], 7.5); // 15 * 0.5
}

#[test]
fn q4_0_block() {
    let mut b = h(2.0).to_vec();
    // byte j: low nibble j (element j), high nibble 15 - j (element j + 16).
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let y = dequantize(GgmlType::Q4_0, &b).unwrap();
    assert_eq!(y[0], -16.0); // (0 - 8) * 2
    assert_eq!(y[3], -10.0); // (3 - 8) * 2
    assert_eq!(y[15], 14.0); // (15 - 8) * 2
    assert_eq!(y[16], 14.0); // (15 - 8) * 2
    assert_eq!(y[31], -16.0); // (0 - 8) * 2
}

#[test]
fn q4_1_block() {
    let mut b = h(0.25).to_vec();
    b.extend(h(-1.0));
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let y = dequantize(GgmlType::Q4_1, &b).unwrap();
    assert_eq!(y[0], -1.0); // 0 * 0.25 - 1
    assert_eq!(y[5], 0.25); // 5 * 0.25 - 1
    assert_eq!(y[15], 2.75); // 15 * 0.25 - 1
    assert_eq!(y[17], 2.5); // 14 * 0.25 - 1
}

#[test]
fn q5_0_block() {
    let mut b = h(1.0).to_vec();
    // Fifth bits set for elements 1 and 17 (bits 1 and 17 of qh).
    b.extend(((1u32 << 1) | (1u32 << 17)).to_le_bytes());
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let y = dequantize(GgmlType::Q5_0, &b).unwrap();
    assert_eq!(y[0], -16.0); // 0 - 16
    assert_eq!(y[1], 1.0); // (1 | 16) - 16
    assert_eq!(y[2], -14.0); // 2 - 16
    assert_eq!(y[16], -1.0); // 15 - 16
    assert_eq!(y[17], 14.0); // (14 | 16) - 16
    assert_eq!(y[31], -16.0); // 0 - 16
}

#[test]
fn q4_k_scale_unpacking() {
    // Sub-blocks 0..4 use the low 6 bits of bytes 0..4 (scale) and 4..8 (min);
    // 4..8 combine nibbles of bytes 8..12 with the top 2 bits of bytes 0..8.
    let s = [0b01_000011, 0, 0, 0, 0b10_000101, 0, 0, 0, 0x97, 0, 0, 0];
    assert_eq!(scale_min_k4(0, &s), (3, 5));
    // scale 4: low nibble of byte 8 (7) | top bits of byte 0 (1) << 4 = 23;
    // min 4: high nibble of byte 8 (9) | top bits of byte 4 (2) << 4 = 41.
    assert_eq!(scale_min_k4(4, &s), (23, 41));
}

#[test]
fn q4_k_block() {
    let mut b = h(0.5).to_vec(); // d
    b.extend(h(0.25)); // dmin
                       // sub-block 0: sc=2, m=4; sub-block 1: sc=3, m=1; sub-block 5: sc=1|1<<4=17, m=6|2<<4=38.
    let scales = [2, 0b01_000011, 0, 0, 4, 0b10_000001, 0, 0, 0, 0x61, 0, 0];
    b.extend(scales);
    let mut qs = [0u8; 128];
    qs[0] = 0x9A; // element 0 = 10, element 32 = 9
    qs[31] = 0x0F; // element 31 = 15, element 63 = 0
    qs[32 + 7] = 0x50; // element 64 + 7 = 0, element 96 + 7 = 5 (sub-block 3)
    qs[64 + 1] = 0x3C; // element 128 + 1 = 12 (sub-block 4), element 160 + 1 = 3 (sub-block 5)
    b.extend(qs);
    let y = dequantize(GgmlType::Q4_K, &b).unwrap();
    assert_eq!(y.len(), 256);
    assert_eq!(y[0], 0.5 * 2.0 * 10.0 - 0.25 * 4.0);
    assert_eq!(y[31], 0.5 * 2.0 * 15.0 - 0.25 * 4.0);
    assert_eq!(y[32], 0.5 * 3.0 * 9.0 - 0.25 * 1.0);
    assert_eq!(y[63], -0.25);
    // Sub-blocks 2..4 and 6.. have zero scale and min.
    assert_eq!(y[71], 0.0);
    assert_eq!(y[103], 0.0);
    assert_eq!(y[129], 0.0);
    assert_eq!(y[161], 0.5 * 17.0 * 3.0 - 0.25 * 38.0);
    assert_eq!(y[160], -0.25 * 38.0);
}

#[test]
fn q6_k_block() {
    let mut ql = [0u8; 128];
    let mut qh = [0u8; 64];
    let mut scales = [0i8; 16];
    scales[0] = 2;
    scales[1] = -3;
    scales[2] = 1;
    scales[4] = 4;
    scales[6] = -1;
    scales[8 + 7] = 5;
    // Element 0: low nibble of ql[0], bits 0..2 of qh[0]; element 64: high nibble
    // of ql[0], bits 4..6 of qh[0].
    ql[0] = 0x3A; // q(0) low = 10, q(64) low = 3
    qh[0] = 0b10_01_00_01; // q(0) high = 1, q(32) high = 0, q(64) high = 1, q(96) high = 2
    ql[32] = 0x70; // q(32) low = 0, q(96) low = 7
    ql[17] = 0x05; // element 17: sub-scale index 1
                   // Second half: element 128 + 96 + 20 uses ql[64 + 32 + 20] high nibble, qh[32 + 20] bits 6..8.
    ql[116] = 0xF0;
    qh[52] = 0b11_00_00_00;
    let mut b = Vec::new();
    b.extend(ql);
    b.extend(qh);
    b.extend(scales.map(|s| s as u8));
    b.extend(h(0.5));
    assert_eq!(b.len(), 210);
    let y = dequantize(GgmlType::Q6_K, &b).unwrap();
    assert_eq!(y[0], 0.5 * 2.0 * ((10 + 16) - 32) as f32);
    assert_eq!(y[32], 0.5 * 1.0 * (0 - 32) as f32);
    assert_eq!(y[64], 0.5 * 4.0 * ((3 + 16) - 32) as f32);
    assert_eq!(y[96], -0.5 * ((7 + 32) - 32) as f32);
    assert_eq!(y[17], 0.5 * -3.0 * (5 - 32) as f32);
    assert_eq!(y[128 + 96 + 20], 0.5 * 5.0 * ((15 + 48) - 32) as f32);
}

#[test]
fn trailing_partial_block_is_ignored() {
    let y = dequantize(GgmlType::Q8_0, &[0u8; 34 * 2 + 5]).unwrap();
    assert_eq!(y.len(), 64);
}
