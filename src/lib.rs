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
//! Build a brain from a model file and tick it by hand, then run a whole scenario and read its
//! metrics back:
//!
//! ```
//! use std::sync::Arc;
//! use valence::experiment::{RunOptions, read_csv, run};
//! use valence::scenario::{load_model, load_scenario};
//! use valence::worlds::build_vocabulary;
//! use valence::{Brain, DeviceChoice};
//!
//! let root = env!("CARGO_MANIFEST_DIR");
//! let mut scenario = load_scenario(format!("{root}/scenarios/mere_exposure.toml"))?;
//!
//! // 1. A brain from a model file, for 4 agents, fed by the scenario's world.
//! let model = load_model(format!("{root}/models/mere_exposure.toml"))?;
//! let world_spec = &scenario.world;
//! let vocabulary = Arc::new(build_vocabulary(&[world_spec])?);
//! let plan = model.plan((world_spec.kind(), world_spec.ports()))?;
//! let device = DeviceChoice::Cpu.make(0)?;
//! let mut brain = Brain::new(&model.spec, plan, 4, 0, &device, &vocabulary)?;
//! let mut world = world_spec.build(vocabulary.clone(), 4)?;
//! world.reset(&[1, 2, 3, 4]);
//! for _ in 0..100 {
//!     brain.tick(world.step()?)?;
//! }
//! assert_eq!(brain.schedule(), ["cortex", "vta"]);
//! assert_eq!(brain.signal("cortex", "latent").unwrap().shape(), [4, 32]);
//!
//! // 2. The scenario, shortened, run programmatically; 3. its metrics, read back.
//! scenario.population = 4;
//! for phase in &mut scenario.phases {
//!     phase.steps = 500;
//! }
//! let dir = tempfile::tempdir().unwrap();
//! let out = run(&scenario, &RunOptions { out: Some(dir.path().into()), ..Default::default() })?;
//! let rows = read_csv(&out.dir.join("metrics.csv"))?;
//! assert!(rows.iter().any(|r| r.probe == "valence" && r.key == "b4"));
//! println!("median valence(b4): {}", out.summary["valence"]["b4"].median);
//! # Ok::<(), valence::Error>(())
//! ```
#![warn(missing_docs)]

pub mod analysis;
pub mod battery;
pub mod bench;
pub mod brain;
pub mod checkpoint;
pub mod device;
pub mod effects;
pub mod error;
pub mod experiment;
pub mod metrics;
pub mod plot;
pub mod ports;
pub mod probes;
pub mod regions;
pub mod registry;
pub mod resources;
pub mod rng;
pub mod scenario;
pub mod signal;
pub mod sweep;
pub mod vocabulary;
pub mod worlds;

pub use brain::{Brain, ModelSpec, Plan};
pub use device::DeviceChoice;
pub use error::{Error, ErrorKind, Result};
pub use regions::{Region, RegionSpec};
pub use scenario::{Scenario, load_scenario};
pub use signal::{Signal, SignalKind};
pub use worlds::World;
