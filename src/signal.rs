//! The typed signals that travel on the brain graph's edges. Every signal is population-first:
//! shape `[P, width]`, one row per agent. A signal lives either in host memory (`ndarray`, for
//! regions that update sparse rows in place, such as the cortex's embedding tables) or on the
//! burn device (for the dense regions); each side converts on demand, once per edge and tick.

use burn::prelude::{Device, Tensor, TensorData};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// What a signal means in the theory. Edges may only join ports of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// Token ids from the world (stored as exact small integers in `f32`; vocabularies < 2^24).
    Token,
    /// Primary reward from the world, or a pseudo-reward from the cortex.
    Reward,
    /// A point in the cortex's latent space.
    Latent,
    /// A state value V(z).
    Value,
    /// A reward prediction error δ.
    Rpe,
    /// Action preferences (unnormalised log-probabilities).
    Logits,
    /// Content retrieved from episodic memory.
    Memory,
    /// A clock: time within a trial, a trial count.
    Time,
    /// A chosen action's index (exact small integers in `f32`).
    Action,
}

impl SignalKind {
    /// The name used in files and messages.
    pub fn name(self) -> &'static str {
        match self {
            SignalKind::Token => "token",
            SignalKind::Reward => "reward",
            SignalKind::Latent => "latent",
            SignalKind::Value => "value",
            SignalKind::Rpe => "rpe",
            SignalKind::Logits => "logits",
            SignalKind::Memory => "memory",
            SignalKind::Time => "time",
            SignalKind::Action => "action",
        }
    }
}

/// A `[P, width]` signal, on the host or on the device.
// A burn tensor handle is 256 bytes (~640 with `wgpu`): unboxed, a region's outputs and inputs
// (lists of a few signals) were over glibc's 1 KiB small-allocation limit, and every tick paid for
// a heap consolidation (~5% of a P = 1 tick on the CPU device, where signals are host arrays).
#[derive(Debug, Clone)]
pub enum Signal {
    /// Host memory.
    Host(Array2<f32>),
    /// A burn tensor on the brain's device (boxed: see above; [`Signal::device`] boxes it).
    Device(Box<Tensor<2>>),
}

impl Signal {
    /// A device signal.
    pub fn device(t: Tensor<2>) -> Self {
        Signal::Device(Box::new(t))
    }

    /// A host signal of zeros.
    pub fn zeros(population: usize, width: usize) -> Self {
        Signal::Host(Array2::zeros((population, width)))
    }

    /// A host signal with every entry `value` (a clamped edge).
    pub fn filled(population: usize, width: usize, value: f32) -> Self {
        Signal::Host(Array2::from_elem((population, width), value))
    }

    /// `[P, width]`.
    pub fn shape(&self) -> [usize; 2] {
        match self {
            Signal::Host(a) => [a.nrows(), a.ncols()],
            Signal::Device(t) => t.dims(),
        }
    }

    /// The values in host memory, borrowed when they are already there (a device signal is
    /// read back).
    pub fn host(&self) -> std::borrow::Cow<'_, Array2<f32>> {
        match self {
            Signal::Host(a) => std::borrow::Cow::Borrowed(a),
            Signal::Device(t) => std::borrow::Cow::Owned(tensor_to_array((**t).clone())),
        }
    }

    /// The values in host memory (a device signal is read back).
    pub fn to_host(&self) -> Array2<f32> {
        match self {
            Signal::Host(a) => a.clone(),
            Signal::Device(t) => tensor_to_array((**t).clone()),
        }
    }

    /// The first agent (row) with a value that is not finite, if any (a device signal is read
    /// back).
    pub fn first_non_finite_row(&self) -> Option<usize> {
        let first = |a: &Array2<f32>| {
            a.rows()
                .into_iter()
                .position(|r| !r.iter().all(|v| v.is_finite()))
        };
        match self {
            Signal::Host(a) => first(a),
            Signal::Device(t) => first(&tensor_to_array((**t).clone())),
        }
    }

    /// The values as a tensor on `device` (a host signal is uploaded).
    pub fn to_tensor(&self, device: &Device) -> Tensor<2> {
        match self {
            Signal::Host(a) => array_to_tensor(a, device),
            Signal::Device(t) => (**t).clone(),
        }
    }

    /// Element-wise sum; several edges into one port add up.
    pub fn add(&self, other: &Signal) -> Signal {
        match (self, other) {
            (Signal::Host(a), Signal::Host(b)) => Signal::Host(a + b),
            (Signal::Device(a), b) | (b, Signal::Device(a)) => {
                let device = a.device();
                Signal::device((**a).clone() + b.to_tensor(&device))
            }
        }
    }
}

/// Uploads a host array as a `[rows, cols]` tensor.
pub fn array_to_tensor(a: &Array2<f32>, device: &Device) -> Tensor<2> {
    let (rows, cols) = a.dim();
    let values: Vec<f32> = a.iter().copied().collect();
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// Reads a `[rows, cols]` tensor back into host memory.
pub fn tensor_to_array(t: Tensor<2>) -> Array2<f32> {
    let [rows, cols] = t.dims();
    let values = t.into_data().try_to_vec::<f32>().expect("f32 tensor");
    Array2::from_shape_vec((rows, cols), values).expect("shape matches data")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_device_round_trip_and_add() {
        let device = Device::flex();
        let a = Signal::Host(Array2::from_shape_vec((2, 3), vec![1., 2., 3., 4., 5., 6.]).unwrap());
        let t = Signal::device(a.to_tensor(&device));
        assert_eq!(t.shape(), [2, 3]);
        assert_eq!(t.to_host(), a.to_host());
        let sum = a.add(&t).to_host();
        assert_eq!(sum.as_slice().unwrap(), &[2., 4., 6., 8., 10., 12.]);
    }
}
