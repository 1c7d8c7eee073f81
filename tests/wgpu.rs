//! The GPU path (`--features wgpu`): the same scenarios on burn's wgpu backend as on the CPU.
//! CI runs this file on Mesa's software Vulkan (lavapipe), so the wgpu code path is built and
//! exercised on every change even without a GPU; on a GPU machine it is the same test.
#![cfg(feature = "wgpu")]

use std::path::Path;

use valence::device::DeviceChoice;
use valence::experiment::{Row, RunOptions, run};
use valence::scenario::{Scenario, load_scenario};

fn scenario(name: &str) -> Scenario {
    load_scenario(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)).unwrap()
}

fn rows_on(s: &Scenario, device: DeviceChoice) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap();
    let options = RunOptions {
        out: Some(dir.path().into()),
        device,
        ..Default::default()
    };
    run(s, &options).unwrap().rows
}

/// Runs `s` on the CPU and on wgpu: the largest difference between their readings (each
/// divided by `scale` of the CPU's reading), after checking that both read the same things in
/// the same order, and wgpu's readings.
fn largest_difference(s: &Scenario, scale: impl Fn(&Row) -> f32) -> (f32, Vec<Row>) {
    let cpu = rows_on(s, DeviceChoice::Cpu);
    let gpu = rows_on(s, DeviceChoice::Wgpu);
    assert_eq!(cpu.len(), gpu.len());
    assert!(cpu.len() >= 40, "{} readings: too few to compare", cpu.len());
    let mut worst = 0.0f32;
    for (c, g) in cpu.iter().zip(&gpu) {
        assert_eq!(
            (&c.phase, c.step, c.agent, &c.probe, &c.key),
            (&g.phase, g.step, g.agent, &g.probe, &g.key)
        );
        worst = worst.max((c.value - g.value).abs() / scale(c));
    }
    (worst, gpu)
}

/// Pavlovian conditioning has no actions, so both devices see the same trials: every reading
/// of the reward model's δ and value must agree up to float rounding.
#[test]
fn wgpu_computes_the_pavlovian_rpe_the_cpu_computes() {
    let mut s = scenario("pavlovian.toml");
    s.population = 4;
    for phase in &mut s.phases {
        phase.steps = phase.steps.min(600);
    }
    let (worst, gpu) = largest_difference(&s, |_| 1.0);
    eprintln!("largest |cpu − wgpu| over {} readings: {worst:e}", gpu.len());
    assert!(worst < 1e-3, "cpu and wgpu differ by {worst}");
}

/// Every region of the full architecture runs and learns on wgpu (sampled actions make the
/// devices' trajectories part ways after the first rounding difference, so this checks the
/// run, not equality).
#[test]
fn the_full_architecture_runs_on_wgpu() {
    let mut s = scenario("millidge_bandit.toml");
    s.population = 4;
    s.phases[0].steps = 300;
    s.phases[1].steps = 100;
    let rows = rows_on(&s, DeviceChoice::Wgpu);
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.value.is_finite()), "non-finite reading");
    assert!(rows.iter().filter(|r| r.probe == "recall").all(|r| r.value > 0.9));
}

/// The world model (`scenarios/polysemy.toml`, cut to 4 agents and 2 000 ticks): its GRU, BPTT
/// and tables run as burn ops on wgpu (the tables as `[P·V, ·]` tensors, predictions and row
/// updates as gathers and scatters: `world_tables.rs`); the CPU keeps the tables on the host.
/// Noise tokens are drawn on the host from each agent's seed, so both devices train on the same
/// candidates, and only float rounding separates them: every valence and perplexity reading must
/// agree within 1e-4. Run as shipped (sampled softmax, the state as the latent) and with negative
/// sampling and the output row beside the state.
#[test]
fn wgpu_trains_the_world_model_as_the_cpu_does() {
    use valence::regions::world_model::{Objective, Readout, WorldModelConfig};
    for variant in [None, Some((Objective::NegativeSampling, Readout::StateAndOutput))] {
        let mut s = scenario("polysemy.toml");
        s.population = 4;
        s.phases[0].steps = 1500;
        s.phases[1].steps = 500;
        for (_, spec) in &mut s.model.regions {
            if let (Some(c), Some((objective, readout))) = (spec.get_mut::<WorldModelConfig>(), variant) {
                (c.objective, c.readout) = (objective, readout);
            }
        }
        // Perplexities are compared relative to their size.
        let (worst, gpu) = largest_difference(&s, |c| {
            if c.probe == "prediction" {
                c.value.abs().max(1.0)
            } else {
                1.0
            }
        });
        eprintln!(
            "world model {variant:?}: largest |cpu − wgpu| over {} readings: {worst:e}",
            gpu.len()
        );
        assert!(worst < 1e-4, "{variant:?}: cpu and wgpu differ by {worst}");
    }
}

/// The skip-gram cortex with `update = "tick"` keeps its tables on the device as burn tensors
/// (gathers and scatter-adds over the touched rows); the CPU runs the same tick update on the
/// host. `scenarios/mere_exposure.toml` cut to 4 agents and 4 000 ticks: the noise tokens are
/// drawn on the host from each agent's seed, so only float rounding (and the order of a GPU's
/// atomic adds) separates the devices; every valence, cosine and exposure reading must agree
/// within 1e-3.
#[test]
fn wgpu_trains_the_skip_gram_tables_on_the_device_as_the_cpu_does() {
    use valence::regions::sensory_cortex::{SensoryCortexConfig, Update};
    let mut s = scenario("mere_exposure.toml");
    s.population = 4;
    s.phases[0].steps = 3000;
    s.phases[1].steps = 1000;
    for (_, spec) in &mut s.model.regions {
        if let Some(c) = spec.get_mut::<SensoryCortexConfig>() {
            c.update = Update::Tick;
        }
    }
    let (worst, gpu) = largest_difference(&s, |_| 1.0);
    eprintln!(
        "skip-gram tables on the device: largest |cpu − wgpu| over {} readings: {worst:e}",
        gpu.len()
    );
    assert!(worst < 1e-3, "cpu and wgpu differ by {worst}");
    // The cortex learned: a, rewarded, is valued above the control c.
    let last = |key: &str| {
        let v: Vec<f32> = gpu
            .iter()
            .filter(|r| r.probe == "valence" && r.key == key && r.phase == "conditioning")
            .map(|r| r.value)
            .collect();
        v[v.len() - 4..].iter().sum::<f32>() / 4.0
    };
    assert!(last("a") > last("c") + 0.1, "a {} vs c {}", last("a"), last("c"));
}

/// Tables past the device's largest buffer (wgpu guarantees 128 MiB of one; a kernel over a
/// larger one fails) live in blocks of agents: four skip-gram agents whose tables are half the
/// largest buffer each (on lavapipe 262 144 words × 64 floats, 67 MB) train on wgpu as on the
/// CPU, rows at both ends of every block included.
#[test]
fn wgpu_tables_past_the_largest_buffer_train_in_blocks() {
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use valence::regions::sensory_cortex::{SensoryCortexConfig, Update};
    use valence::regions::{BuildContext, Inputs, Region, RegionParams};
    use valence::signal::Signal;
    use valence::vocabulary::Vocabulary;

    let (p, dim) = (4usize, 64usize);
    let gpu = DeviceChoice::Wgpu.make(0).unwrap();
    let limit = valence::device::max_tensor_bytes(&gpu);
    let v = (limit / (4 * dim as u64) / 2).clamp(1_000, 300_000) as usize;
    eprintln!("largest buffer: {limit} bytes; {v} words an agent");
    let vocab = Vocabulary::from_counts((0..v).map(|i| (format!("w{i}"), 1 + (i % 3) as u64)).collect());
    let config = SensoryCortexConfig {
        dim,
        negatives: 2,
        lr: 0.2,
        subsample: 0.0,
        update: Update::Tick,
        ..Default::default()
    };
    let build = |device: &burn::prelude::Device| -> Box<dyn Region> {
        let ctx = BuildContext {
            population: p,
            device,
            seeds: (0..p as u64).collect(),
            vocabulary: &vocab,
            input_widths: Default::default(),
        };
        config.build(&ctx).unwrap()
    };
    let cpu_device = DeviceChoice::Cpu.make(0).unwrap();
    let (mut cpu, mut wgpu) = (build(&cpu_device), build(&gpu));
    // Each agent reads the first and last words of its table and a few in between.
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let ends = [0, 1, v - 2, v - 1];
    let mut worst = 0.0f32;
    for t in 0..60 {
        let ids: Vec<f32> = (0..p)
            .map(|_| if t % 2 == 0 { ends[rng.gen_range(0..4)] } else { rng.gen_range(0..v) } as f32)
            .collect();
        let mut inputs = Inputs::default();
        inputs.insert(
            "token",
            Signal::Host(Array2::from_shape_vec((p, 1), ids).unwrap()),
        );
        let (a, b) = (cpu.step(&inputs).unwrap(), wgpu.step(&inputs).unwrap());
        let (a, b) = (a[0].1.to_host(), b[0].1.to_host());
        worst = a.iter().zip(&b).fold(worst, |w, (x, y)| w.max((x - y).abs()));
    }
    for w in ends {
        let (a, b) = (
            cpu.concept_latent(&[w as u32]).unwrap(),
            wgpu.concept_latent(&[w as u32]).unwrap(),
        );
        worst = a.iter().zip(&b).fold(worst, |m, (x, y)| m.max((x - y).abs()));
    }
    eprintln!("tables in blocks: largest |cpu − wgpu| {worst:e}");
    assert!(worst < 1e-4, "cpu and wgpu differ by {worst}");
}
