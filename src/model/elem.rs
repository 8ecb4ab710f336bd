//! The element types our own CPU kernels read and write: f32, and bf16 widened exactly to
//! f32 (and rounded back to nearest even, as libtorch does).

use half::bf16;

/// f32 or bf16.
pub(crate) trait Elem: Copy + Send + Sync + 'static {
    /// Whether the element is bf16 (the AVX2 kernels load it differently).
    const BF16: bool;
    fn to_f32(self) -> f32;
    fn from_f32(v: f32) -> Self;
}

impl Elem for f32 {
    const BF16: bool = false;
    fn to_f32(self) -> f32 {
        self
    }
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl Elem for bf16 {
    const BF16: bool = true;
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
    fn from_f32(v: f32) -> Self {
        bf16::from_f32(v)
    }
}
