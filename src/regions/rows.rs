//! Per-agent rows `[P, W]` on the host or on the brain's device: the operations the linear
//! regions' equations are written in, once, for both.
//!
//! A region whose state is a few rows per agent (the reward model's weights and traces) pays
//! more for a burn operation's dispatch and allocation than for its arithmetic when P is small:
//! at P = 1 a 32-wide row update is ~10 ns of work behind ~0.5 µs of overhead. On the CPU device
//! such a region keeps its rows in host arrays ([`Array2`]); on another device, in burn tensors
//! ([`Tensor<2>`]). Its equations are written once, generic over [`Rows`], and serve burn's
//! tensors; a host schedule of them (the reward model's `step_host`, one agent at a time in one
//! pass) is held to their bits by a test, and the rest (values, checkpoints) is the generic code.
//!
//! **Bits.** Every operation is element-wise except [`Rows::row_sum`], so the host and the CPU
//! device agree bit for bit as long as the row sum does: the host's is burn's own CPU kernel
//! (`burn_flex`'s `sum_rows_f32`, the one `sum_dim` runs on the last axis), so the two give the
//! same bits on one machine — the figures of every scenario are the same whichever holds the rows.

use std::ops::{Add, Mul, Range, Sub};

use burn::prelude::{Device, Tensor};
use ndarray::{Array2, Axis, s};

use crate::checkpoint::Snapshot;
use crate::error::Result;
use crate::signal::{Signal, array_to_tensor, tensor_to_array};

/// A batch of per-agent rows, `[P, W]`. Binary operations broadcast a `[P, 1]` operand across
/// the row, as burn and ndarray both do.
pub(crate) trait Rows:
    Clone
    + Send
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Mul<f32, Output = Self>
    + Add<f32, Output = Self>
{
    /// `[P, W]` of zeros.
    fn zeros(shape: [usize; 2], device: &Device) -> Self;
    /// A signal's values, moved to where these rows live.
    fn from_signal(signal: &Signal, device: &Device) -> Self;
    /// Host values, moved to where these rows live.
    fn from_host(host: Array2<f32>, device: &Device) -> Self;
    /// As a signal (no copy).
    fn into_signal(self) -> Signal;
    /// The values in host memory.
    fn to_host(&self) -> Array2<f32>;
    /// `[P, W]`.
    fn dims(&self) -> [usize; 2];
    /// Σ over each row, `[P, W]` → `[P, 1]`.
    fn row_sum(&self) -> Self;
    /// Columns `range` of every row.
    fn column_range(&self, range: Range<usize>) -> Self;
    /// The rows of `self` and `other` side by side, `[P, W + W′]`.
    fn beside(self, other: Self) -> Self;
    /// Stores the rows under `key` (the same format from either place: a checkpoint moves
    /// between devices).
    fn save(&self, out: &mut Snapshot, key: &str);
    /// Reads back rows of `shape` saved under `key`.
    fn load(from: &Snapshot, key: &str, shape: [usize; 2], device: &Device) -> Result<Self>;
    /// Stores rows that may be absent, as the snapshot stores an optional array.
    fn save_optional(rows: Option<&Self>, out: &mut Snapshot, key: &str);
    /// Reads back rows saved with [`Rows::save_optional`].
    fn load_optional(from: &Snapshot, key: &str, shape: [usize; 2], device: &Device) -> Result<Option<Self>>;
}

impl Rows for Array2<f32> {
    fn zeros(shape: [usize; 2], _: &Device) -> Self {
        Array2::zeros(shape)
    }

    fn from_signal(signal: &Signal, _: &Device) -> Self {
        signal.to_host()
    }

    fn from_host(host: Array2<f32>, _: &Device) -> Self {
        host
    }

    fn into_signal(self) -> Signal {
        Signal::Host(self)
    }

    fn to_host(&self) -> Array2<f32> {
        self.clone()
    }

    fn dims(&self) -> [usize; 2] {
        [self.nrows(), self.ncols()]
    }

    fn row_sum(&self) -> Self {
        let (p, w) = self.dim();
        let mut sums = Array2::zeros((p, 1));
        let out = sums.as_slice_mut().expect("fresh array");
        match self.as_slice() {
            Some(data) => burn::backend::flex::simd::kernels::sum_rows_f32(data, out, p, w),
            None => {
                let data = self.as_standard_layout();
                let data = data.as_slice().expect("standard layout");
                burn::backend::flex::simd::kernels::sum_rows_f32(data, out, p, w)
            }
        }
        sums
    }

    fn column_range(&self, range: Range<usize>) -> Self {
        self.slice(s![.., range]).to_owned()
    }

    fn beside(self, other: Self) -> Self {
        ndarray::concatenate(Axis(1), &[self.view(), other.view()]).expect("rows of one population")
    }

    fn save(&self, out: &mut Snapshot, key: &str) {
        out.put_host(key, self);
    }

    fn load(from: &Snapshot, key: &str, shape: [usize; 2], _: &Device) -> Result<Self> {
        from.host(key, shape)
    }

    fn save_optional(rows: Option<&Self>, out: &mut Snapshot, key: &str) {
        out.put_optional_host(key, rows);
    }

    fn load_optional(from: &Snapshot, key: &str, shape: [usize; 2], _: &Device) -> Result<Option<Self>> {
        from.optional_host(key, shape)
    }
}

impl Rows for Tensor<2> {
    fn zeros(shape: [usize; 2], device: &Device) -> Self {
        Tensor::zeros(shape, device)
    }

    fn from_signal(signal: &Signal, device: &Device) -> Self {
        signal.to_tensor(device)
    }

    fn from_host(host: Array2<f32>, device: &Device) -> Self {
        array_to_tensor(&host, device)
    }

    fn into_signal(self) -> Signal {
        Signal::device(self)
    }

    fn to_host(&self) -> Array2<f32> {
        tensor_to_array(self.clone())
    }

    fn dims(&self) -> [usize; 2] {
        Tensor::dims(self)
    }

    fn row_sum(&self) -> Self {
        self.clone().sum_dim(1)
    }

    fn column_range(&self, range: Range<usize>) -> Self {
        let p = Tensor::dims(self)[0];
        self.clone().slice([0..p, range])
    }

    fn beside(self, other: Self) -> Self {
        Tensor::cat(vec![self, other], 1)
    }

    fn save(&self, out: &mut Snapshot, key: &str) {
        out.put_tensor(key, self);
    }

    fn load(from: &Snapshot, key: &str, shape: [usize; 2], device: &Device) -> Result<Self> {
        from.tensor(key, shape, device)
    }

    fn save_optional(rows: Option<&Self>, out: &mut Snapshot, key: &str) {
        out.put_optional_tensor(key, rows);
    }

    fn load_optional(from: &Snapshot, key: &str, shape: [usize; 2], device: &Device) -> Result<Option<Self>> {
        from.optional_tensor(key, shape, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::SmallRng};

    fn random(shape: (usize, usize), rng: &mut SmallRng) -> Array2<f32> {
        Array2::from_shape_fn(shape, |_| rng.gen_range(-3.0f32..3.0))
    }

    /// The host rows and the CPU device's tensors give the same bits for every operation, at
    /// widths on both sides of the SIMD kernels' blocks (8 and 64 lanes on AVX2, 16 and 128
    /// with AVX-512) — a row sum in another order would differ in the last place for some.
    #[test]
    fn host_rows_and_cpu_tensors_agree_bit_for_bit() {
        let device = Device::flex();
        let mut rng = SmallRng::seed_from_u64(7);
        for w in [1, 3, 8, 15, 16, 31, 33, 64, 100, 129, 300] {
            let (a, b) = (random((5, w), &mut rng), random((5, w), &mut rng));
            let c = random((5, 1), &mut rng);
            let host = (a.clone() * b.clone() + c.clone()) * 0.3f32 - b.clone() * c.clone() + 1.5f32;
            let host = host.clone().beside(host.row_sum()).column_range(1..w + 1);
            let t = |x: &Array2<f32>| <Tensor<2> as Rows>::from_host(x.clone(), &device);
            let (ta, tb, tc) = (t(&a), t(&b), t(&c));
            let dev = (ta * tb.clone() + tc.clone()) * 0.3f32 - tb * tc + 1.5f32;
            let dev = dev.clone().beside(dev.row_sum()).column_range(1..w + 1);
            let bits = |x: &Array2<f32>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&host), bits(&dev.to_host()), "width {w}");
        }
    }

    #[test]
    fn a_row_sum_is_a_sum_of_each_row() {
        let a = Array2::from_shape_vec((2, 3), vec![1.0f32, 2.0, 3.0, -1.0, 0.5, 0.25]).unwrap();
        assert_eq!(a.row_sum().into_raw_vec_and_offset().0, vec![6.0, -0.25]);
        let strided = a.t().to_owned().reversed_axes();
        assert_eq!(strided.row_sum().into_raw_vec_and_offset().0, vec![6.0, -0.25]);
    }
}
