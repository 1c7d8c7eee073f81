//! # valence
//!
//! A simulator of a brain-inspired cognitive architecture (Millidge 2023, "The computational
//! anatomy of human values") for studying how linguistic value concepts acquire valence. A
//! sensory cortex learns a latent space from a token stream without reward; a dopaminergic
//! reward model learns to value points of that space from sparse primary reward. Because value
//! generalises over latent geometry, valence bleeds between concepts that merely co-occur.
//!
//! Regions are wired as a graph ([`brain`]) from a model file; a scenario file ([`scenario`])
//! says what happens to a population of agents; [`experiment::run`] runs it and writes metrics.
//!
//! ```no_run
//! use valence::experiment::{RunOptions, run_file};
//! let out = run_file("scenarios/mere_exposure.toml", &RunOptions::default())?;
//! println!("{:?}", out.summary["valence"]["b"]);
//! # Ok::<(), valence::Error>(())
//! ```
#![warn(missing_docs)]

pub mod analysis;
pub mod bench;
pub mod brain;
pub mod device;
pub mod error;
pub mod experiment;
pub mod plot;
pub mod regions;
pub mod scenario;
pub mod signal;
pub mod worlds;

pub use brain::{Brain, ModelSpec, Plan};
pub use device::DeviceChoice;
pub use error::{Error, ErrorKind, Result};
pub use regions::{Region, RegionSpec};
pub use scenario::{Scenario, load_scenario};
pub use signal::{Signal, SignalKind};
pub use worlds::World;
