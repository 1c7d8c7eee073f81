//! Choosing the compute device. This is the only file that names a burn backend: the embedded
//! pure-Rust CPU backend (`flex`) is always there; GPUs come with the `wgpu` cargo feature.

use std::fmt;
use std::str::FromStr;

use burn::prelude::Device;

use crate::error::{Error, Result};

/// Which device the dense parts of the brain (reward model, actor-critic, PFC) run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// burn's pure-Rust CPU backend (`flex`), the embedded default. Bit-reproducible.
    #[default]
    Cpu,
    /// burn's wgpu backend (Vulkan, Metal, DX12, or software Vulkan); needs the `wgpu` feature.
    Wgpu,
}

impl FromStr for DeviceChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Ok(DeviceChoice::Cpu),
            "wgpu" | "gpu" => Ok(DeviceChoice::Wgpu),
            other => Err(Error::Device(format!(
                "unknown device `{other}`; expected `cpu` or `wgpu`"
            ))),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Wgpu => "wgpu",
        })
    }
}

impl DeviceChoice {
    /// The device named by `VALENCE_TEST_DEVICE`, or the CPU; lets one test suite run on both.
    pub fn from_env() -> Result<Self> {
        match std::env::var("VALENCE_TEST_DEVICE") {
            Ok(s) if !s.is_empty() => s.parse(),
            _ => Ok(DeviceChoice::Cpu),
        }
    }

    /// Whether this build can make the device at all.
    pub fn is_compiled(self) -> bool {
        match self {
            DeviceChoice::Cpu => true,
            DeviceChoice::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// Makes the burn device, seeded so that any backend-side randomness is reproducible.
    pub fn make(self, seed: u64) -> Result<Device> {
        let device = match self {
            DeviceChoice::Cpu => Device::flex(),
            DeviceChoice::Wgpu => wgpu_device()?,
        };
        device.seed(seed);
        Ok(device)
    }
}

/// The most bytes one tensor may hold on `device`: a GPU binds a tensor as one storage buffer,
/// and wgpu guarantees 128 MiB of one (a device may state more); unbounded on the CPU. The
/// device tables (`regions/device_tables.rs`) split into blocks of agents below it.
pub fn max_tensor_bytes(device: &Device) -> u64 {
    #[cfg(feature = "wgpu")]
    if let burn_dispatch::DispatchDevice::Cube(cube) = device.as_dispatch() {
        return cube.client().properties().memory.max_page_size;
    }
    let _ = device;
    u64::MAX
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    Ok(Device::wgpu(burn::prelude::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device> {
    Err(Error::Device(
        "this build of valence has no GPU support; rebuild with the `wgpu` feature: \
         `cargo run --release --features wgpu -- run … --device wgpu`"
            .to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_rejects_others() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("WGPU".parse::<DeviceChoice>().unwrap(), DeviceChoice::Wgpu);
        assert!(matches!("tpu".parse::<DeviceChoice>(), Err(Error::Device(_))));
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_says_how_to_enable_it() {
        let err = DeviceChoice::Wgpu.make(0).unwrap_err().to_string();
        assert!(err.contains("--features wgpu"), "{err}");
    }
}
