//! Helpers shared by the integration tests (`mod common;` in each file that uses them).
#![allow(dead_code)]

use std::path::Path;

use valence::device::DeviceChoice;
use valence::experiment::{Row, RunOptions, run};
use valence::scenario::{Scenario, load_scenario};

/// The smallest model with a latent space and a value: a cortex (`dim = 8`) and a reward model
/// fed by the world's tokens and rewards.
pub const CORTEX_VTA_MODEL: &str = r#"schema = 1
name = "m"
[regions.cortex]
kind = "sensory_cortex"
dim = 8
[regions.vta]
kind = "reward_model"
[[edges]]
from = "world.token"
to = "cortex.token"
[[edges]]
from = "cortex.latent"
to = "vta.latent"
[[edges]]
from = "world.reward"
to = "vta.reward"
"#;

/// The shipped `.toml` files of these folders of the repository, sorted.
pub fn shipped(dirs: &[&str]) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<std::path::PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// A shipped scenario, `scenarios/<name>.toml`, loaded and checked.
pub fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    load_scenario(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A shipped scenario, `scenarios/<name>.toml`, with its `model = "../models/<from>.toml"`
/// swapped for `models/<to>.toml`, loaded and checked.
pub fn with_model(name: &str, from: &str, to: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let shipped = format!("model = \"../models/{from}.toml\"");
    assert!(text.contains(&shipped), "{name} uses models/{from}.toml");
    let text = text.replace(&shipped, &format!("model = \"../models/{to}.toml\""));
    valence::scenario::parse_scenario(valence::error::SourceFile::new(path, text))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Run options writing into `dir`, on the device `VALENCE_TEST_DEVICE` names (`cpu` when unset;
/// `wgpu` needs `--features wgpu`): the whole scenario suite runs on either backend.
pub fn options(dir: &Path) -> RunOptions {
    RunOptions {
        out: Some(dir.into()),
        device: DeviceChoice::from_env().expect("VALENCE_TEST_DEVICE names `cpu` or `wgpu`"),
        ..Default::default()
    }
}

/// Runs a scenario into a temporary directory on the test device (see [`options`]); every
/// probe reading.
pub fn run_rows(s: &Scenario) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap();
    run(s, &options(dir.path())).unwrap().rows
}

/// The median across agents (numpy's linear interpolation, as in `summary.json`).
pub fn median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    valence::experiment::recorder::percentile(&v, 0.5)
}

/// Each agent's reading of `probe`/`key` at that probe's last step.
pub fn last(rows: &[Row], probe: &str, key: &str) -> Vec<f32> {
    let step = rows
        .iter()
        .filter(|r| r.probe == probe)
        .map(|r| r.step)
        .max()
        .unwrap_or_else(|| panic!("no `{probe}` readings"));
    rows.iter()
        .filter(|r| r.probe == probe && r.key == key && r.step == step)
        .map(|r| r.value)
        .collect()
}
