//! ggml tensor types and block dequantization to `f32`.
//!
//! Block layouts and formulas follow ggml's `ggml-quants.c` (`dequantize_row_*`) exactly;
//! all multi-byte fields are little-endian.

use std::fmt;

use half::f16;

/// Elements per K-quant super-block.
const QK_K: usize = 256;

/// A ggml tensor element type, as numbered in GGUF tensor infos.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    I8,
    I16,
    I32,
    I64,
    F64,
    IQ1_M,
    BF16,
    TQ1_0,
    TQ2_0,
    MXFP4,
}

/// (type, id, name, elements per block, bytes per block), from ggml's type traits.
const TYPES: [(GgmlType, u32, &str, usize, usize); 32] = {
    use GgmlType::*;
    [
        (F32, 0, "F32", 1, 4),
        (F16, 1, "F16", 1, 2),
        (Q4_0, 2, "Q4_0", 32, 18),
        (Q4_1, 3, "Q4_1", 32, 20),
        (Q5_0, 6, "Q5_0", 32, 22),
        (Q5_1, 7, "Q5_1", 32, 24),
        (Q8_0, 8, "Q8_0", 32, 34),
        (Q8_1, 9, "Q8_1", 32, 36),
        (Q2_K, 10, "Q2_K", QK_K, 84),
        (Q3_K, 11, "Q3_K", QK_K, 110),
        (Q4_K, 12, "Q4_K", QK_K, 144),
        (Q5_K, 13, "Q5_K", QK_K, 176),
        (Q6_K, 14, "Q6_K", QK_K, 210),
        (Q8_K, 15, "Q8_K", QK_K, 292),
        (IQ2_XXS, 16, "IQ2_XXS", QK_K, 66),
        (IQ2_XS, 17, "IQ2_XS", QK_K, 74),
        (IQ3_XXS, 18, "IQ3_XXS", QK_K, 98),
        (IQ1_S, 19, "IQ1_S", QK_K, 50),
        (IQ4_NL, 20, "IQ4_NL", 32, 18),
        (IQ3_S, 21, "IQ3_S", QK_K, 110),
        (IQ2_S, 22, "IQ2_S", QK_K, 82),
        (IQ4_XS, 23, "IQ4_XS", QK_K, 136),
        (I8, 24, "I8", 1, 1),
        (I16, 25, "I16", 1, 2),
        (I32, 26, "I32", 1, 4),
        (I64, 27, "I64", 1, 8),
        (F64, 28, "F64", 1, 8),
        (IQ1_M, 29, "IQ1_M", QK_K, 56),
        (BF16, 30, "BF16", 1, 2),
        (TQ1_0, 34, "TQ1_0", QK_K, 54),
        (TQ2_0, 35, "TQ2_0", QK_K, 66),
        (MXFP4, 39, "MXFP4", 32, 17),
    ]
};

impl GgmlType {
    /// The type with GGUF id `id`, or `None` for ids ggml does not (or no longer) define.
    pub fn from_id(id: u32) -> Option<Self> {
        TYPES.iter().find(|t| t.1 == id).map(|t| t.0)
    }

    fn traits(self) -> &'static (GgmlType, u32, &'static str, usize, usize) {
        // Every variant has exactly one row in TYPES (checked by a unit test).
        TYPES.iter().find(|t| t.0 == self).unwrap_or(&TYPES[0])
    }

    /// The GGUF id of this type.
    pub fn id(self) -> u32 {
        self.traits().1
    }

    /// ggml's name for the type, e.g. `Q4_K`.
    pub fn name(self) -> &'static str {
        self.traits().2
    }

    /// Elements per block (1 for plain scalar types).
    pub fn block_size(self) -> usize {
        self.traits().3
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        self.traits().4
    }

    /// Whether [`dequantize`] handles this type.
    pub fn can_dequantize(self) -> bool {
        use GgmlType::*;
        matches!(
            self,
            F32 | F16 | BF16 | Q8_0 | Q4_0 | Q4_1 | Q5_0 | Q4_K | Q6_K
        )
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Dequantizes whole blocks of type `ty` from `data` into `f32`s.
///
/// Returns `None` when `ty` has no dequantizer (see [`GgmlType::can_dequantize`]).
/// A trailing partial block in `data` is ignored; tensor sizes are validated when a
/// GGUF file is opened, so callers pass whole tensors.
pub fn dequantize(ty: GgmlType, data: &[u8]) -> Option<Vec<f32>> {
    use GgmlType::*;
    Some(match ty {
        F32 => blocks::<4, 1>(data, |b, y| y[0] = f32::from_le_bytes(*b)),
        F16 => blocks::<2, 1>(data, |b, y| y[0] = f16::from_le_bytes(*b).to_f32()),
        BF16 => blocks::<2, 1>(data, |b, y| {
            y[0] = f32::from_bits(u32::from(u16::from_le_bytes(*b)) << 16)
        }),
        Q8_0 => blocks::<34, 32>(data, q8_0),
        Q4_0 => blocks::<18, 32>(data, q4_0),
        Q4_1 => blocks::<20, 32>(data, q4_1),
        Q5_0 => blocks::<22, 32>(data, q5_0),
        Q4_K => blocks::<144, QK_K>(data, q4_k),
        Q6_K => blocks::<210, QK_K>(data, q6_k),
        _ => return None,
    })
}

/// Applies `f` to every whole `TS`-byte block of `data`, each producing `BS` outputs.
fn blocks<const TS: usize, const BS: usize>(
    data: &[u8],
    f: impl Fn(&[u8; TS], &mut [f32; BS]),
) -> Vec<f32> {
    let (input, _) = data.as_chunks::<TS>();
    let mut out = vec![0f32; input.len() * BS];
    let (output, _) = out.as_chunks_mut::<BS>();
    for (b, y) in input.iter().zip(output) {
        f(b, y);
    }
    out
}

#[inline(always)]
fn f16_at<const N: usize>(b: &[u8; N], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// `{ f16 d; i8 qs[32] }`: `y = d * q`.
fn q8_0(b: &[u8; 34], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for j in 0..32 {
        y[j] = f32::from(b[2 + j] as i8) * d;
    }
}

/// `{ f16 d; u8 qs[16] }`: low nibbles are elements 0..16, high nibbles 16..32; `y = d * (q - 8)`.
fn q4_0(b: &[u8; 18], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for j in 0..16 {
        let q = b[2 + j];
        y[j] = f32::from(i16::from(q & 0x0F) - 8) * d;
        y[j + 16] = f32::from(i16::from(q >> 4) - 8) * d;
    }
}

/// `{ f16 d; f16 m; u8 qs[16] }`: nibbles as in Q4_0; `y = d * q + m`.
fn q4_1(b: &[u8; 20], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    for j in 0..16 {
        let q = b[4 + j];
        y[j] = f32::from(q & 0x0F) * d + m;
        y[j + 16] = f32::from(q >> 4) * d + m;
    }
}

/// `{ f16 d; u32 qh; u8 qs[16] }`: bit `j` of `qh` is the fifth bit of element `j`;
/// `y = d * (q - 16)`.
fn q5_0(b: &[u8; 22], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for j in 0..16 {
        let q = b[6 + j];
        let h0 = ((qh >> j) << 4) & 0x10;
        let h1 = (qh >> (j + 12)) & 0x10;
        let x0 = (u32::from(q & 0x0F) | h0) as i32 - 16;
        let x1 = (u32::from(q >> 4) | h1) as i32 - 16;
        y[j] = x0 as f32 * d;
        y[j + 16] = x1 as f32 * d;
    }
}

/// Unpacks the 6-bit scale and min of sub-block `j` (0..8) from Q4_K's 12 packed bytes
/// (ggml's `get_scale_min_k4`).
#[inline(always)]
fn scale_min_k4(j: usize, s: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// `{ f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }`: eight sub-blocks of 32 with 6-bit
/// scale `sc` and min `m`; `y = d * sc * q - dmin * m`. Each 32 bytes of `qs` hold two
/// consecutive sub-blocks, low nibbles first.
fn q4_k(b: &[u8; 144], y: &mut [f32; QK_K]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales: [u8; 12] = std::array::from_fn(|i| b[4 + i]);
    for chunk in 0..4 {
        let (sc1, m1) = scale_min_k4(2 * chunk, &scales);
        let (sc2, m2) = scale_min_k4(2 * chunk + 1, &scales);
        let (d1, m1) = (d * f32::from(sc1), dmin * f32::from(m1));
        let (d2, m2) = (d * f32::from(sc2), dmin * f32::from(m2));
        for l in 0..32 {
            let q = b[16 + 32 * chunk + l];
            y[64 * chunk + l] = d1 * f32::from(q & 0x0F) - m1;
            y[64 * chunk + 32 + l] = d2 * f32::from(q >> 4) - m2;
        }
    }
}

/// `{ u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }`: 6-bit quants, low 4 bits in `ql`,
/// high 2 bits in `qh`, one signed 8-bit scale per 16 elements; `y = d * sc * (q - 32)`.
fn q6_k(b: &[u8; 210], y: &mut [f32; QK_K]) {
    let d = f16_at(b, 208);
    for half in 0..2 {
        let (ql, qh, sc, out) = (64 * half, 128 + 32 * half, 192 + 8 * half, 128 * half);
        for l in 0..32 {
            let is = l / 16;
            let (lo, hi, h) = (b[ql + l], b[ql + l + 32], b[qh + l]);
            let q1 = i32::from((lo & 0x0F) | ((h & 3) << 4)) - 32;
            let q2 = i32::from((hi & 0x0F) | (((h >> 2) & 3) << 4)) - 32;
            let q3 = i32::from((lo >> 4) | (((h >> 4) & 3) << 4)) - 32;
            let q4 = i32::from((hi >> 4) | (((h >> 6) & 3) << 4)) - 32;
            let s = |k: usize| d * f32::from(b[sc + is + k] as i8);
            y[out + l] = s(0) * q1 as f32;
            y[out + l + 32] = s(2) * q2 as f32;
            y[out + l + 64] = s(4) * q3 as f32;
            y[out + l + 96] = s(6) * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
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
}
