//! The element types our own CPU kernels read and write: f32, and bf16 widened exactly to
//! f32 (and rounded back to nearest even, as libtorch does).

use half::bf16;

/// f32 or bf16.
pub(crate) trait Elem: Copy + Send + Sync + 'static {
    fn to_f32(self) -> f32;
    fn from_f32(v: f32) -> Self;
}

impl Elem for f32 {
    fn to_f32(self) -> f32 {
        self
    }
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl Elem for bf16 {
    fn to_f32(self) -> f32 {
        // The top half of an f32 (a shift the compiler vectorises; `half`'s conversion
        // branches on NaN).
        f32::from_bits(u32::from(self.to_bits()) << 16)
    }
    fn from_f32(v: f32) -> Self {
        bf16::from_f32(v)
    }
}

/// Whether this CPU runs AVX2 and FMA (checked once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_fma() -> bool {
    static YES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *YES.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}
