//! ggml tensor types and block dequantization to `f32`.
//!
//! Block layouts and formulas follow ggml's `ggml-quants.c` (`dequantize_row_*`) exactly;
//! all multi-byte fields are little-endian.

use std::fmt;

use half::f16;

pub mod pack;

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
mod tests;
