//! Throughput benchmarks (`valence bench`): figures are measured, never asserted in tests.

use std::sync::Arc;
use std::time::Instant;

use ndarray::Array2;
use serde::Serialize;

use crate::brain::{ModelSpec, derive_seed};
use crate::device::DeviceChoice;
use crate::error::Result;
use crate::regions::{
    BuildContext, Inputs, PfcConfig, Region, SensoryCortex, SensoryCortexConfig, WorldModel, WorldModelConfig,
};
use crate::signal::Signal;
use crate::vocabulary::Vocabulary;
use crate::worlds::{WorldSpec, build_vocabulary};
use burn::prelude::Device;

/// The vocabulary of `world` and its first `steps` tokens, read before any timing.
fn read_tokens(world: &WorldSpec, steps: usize) -> Result<(Arc<Vocabulary>, Vec<f32>)> {
    let vocabulary = Arc::new(build_vocabulary(&[world])?);
    let mut source = world.build(vocabulary.clone(), 1)?;
    let tokens = (0..steps)
        .map(|_| source.step().map(|o| o[0].1.to_host()[[0, 0]]))
        .collect::<Result<_>>()?;
    Ok((vocabulary, tokens))
}

/// A region's build context for P agents, seeds derived from 0.
fn build_context<'a>(p: usize, device: &'a Device, vocabulary: &'a Vocabulary) -> BuildContext<'a> {
    BuildContext {
        population: p,
        device,
        seeds: (0..p).map(|a| derive_seed(0, &[a as u64])).collect(),
        vocabulary,
        input_widths: Default::default(),
    }
}

/// One measured configuration.
#[derive(Debug, Clone, Serialize)]
pub struct CortexFigure {
    /// Agents stepped together.
    pub population: usize,
    /// Token steps timed.
    pub steps: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Tokens per second for the whole population (each agent trains on each token).
    pub agent_tokens_per_s: f64,
    /// Its ratio to the first (baseline) population's figure.
    pub ratio_to_baseline: f64,
}

/// Times the sensory cortex alone on `steps` tokens of `world` for each population, on `device`
/// (its tables are on a GPU only with `update = "tick"`): the tokens are read first and
/// `steps / 10` (at most 2 000) of them trained before the clock starts, so only steady-state
/// training is timed, and the device's queue is drained before the clock stops.
pub fn bench_cortex(
    world: &WorldSpec,
    config: &SensoryCortexConfig,
    device: DeviceChoice,
    populations: &[usize],
    steps: usize,
) -> Result<Vec<CortexFigure>> {
    let (vocabulary, tokens) = read_tokens(world, steps)?;
    let burn_device = device.make(0)?;
    let mut figures: Vec<CortexFigure> = Vec::new();
    for &p in populations {
        let mut cortex = SensoryCortex::new(config, &build_context(p, &burn_device, &vocabulary));
        let inputs: Vec<Inputs> = tokens
            .iter()
            .map(|&t| {
                let mut i = Inputs::default();
                i.insert("token", Signal::Host(Array2::from_elem((p, 1), t)));
                i
            })
            .collect();
        // Warm up before the clock starts: a GPU compiles each kernel at its first use, and on
        // the CPU the first write to each page of a zeroed table is a page fault (at P = 1024 on
        // WordNet, 7 GB of output rows): a one-off, not the rate a run trains at.
        for i in inputs.iter().take((steps / 10).clamp(1, 2_000)) {
            cortex.step(i)?;
        }
        sync(&burn_device)?;
        let start = Instant::now();
        let mut last = Vec::new();
        for i in &inputs {
            last = cortex.step(i)?;
        }
        sync(&burn_device)?;
        let seconds = start.elapsed().as_secs_f64();
        read_back(&last)?;
        let rate = (steps * p) as f64 / seconds;
        let base = figures.first().map_or(rate, |f| f.agent_tokens_per_s);
        figures.push(CortexFigure {
            population: p,
            steps,
            seconds,
            agent_tokens_per_s: rate,
            ratio_to_baseline: rate / base,
        });
    }
    Ok(figures)
}

/// Reads the last tick's outputs back: a kernel that failed on the device (a buffer past its
/// limit, say) says so here, where nothing else in a timed loop reads a value back and a
/// failing run would otherwise time as a fast one.
fn read_back(outputs: &crate::ports::Outputs) -> Result<()> {
    for (port, signal) in outputs {
        if let Signal::Device(t) = signal {
            (**t).clone().try_into_data().map_err(|e| {
                crate::error::Error::Device(format!("the device failed (reading `{port}` back): {e:?}"))
            })?;
        }
    }
    Ok(())
}

/// Waits for the device's queue to drain.
fn sync(device: &Device) -> Result<()> {
    device
        .sync()
        .map_err(|e| crate::error::Error::Device(format!("the device failed: {e:?}")))
}

/// One measured population of the world model.
#[derive(Debug, Clone, Serialize)]
pub struct WorldModelFigure {
    /// Agents stepped together.
    pub population: usize,
    /// Token steps timed.
    pub steps: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Tokens per second for the whole population (each agent trains on each token).
    pub agent_tokens_per_s: f64,
    /// Its ratio to the first population's figure.
    pub ratio_to_baseline: f64,
    /// Bytes of state per agent (tables, GRU weights, Adam's moments).
    pub bytes_per_agent: usize,
    /// Shares of the timed seconds: forward step, predictions (output rows), window updates
    /// (BPTT, Adam, input rows).
    pub shares: [f64; 3],
}

/// Times the world model alone on `steps` tokens of `world` for each population, on `device`
/// (the tokens are read first, so only training is timed), after `steps / 10` warm-up ticks.
pub fn bench_world_model(
    world: &WorldSpec,
    config: &WorldModelConfig,
    device: DeviceChoice,
    populations: &[usize],
    steps: usize,
) -> Result<Vec<WorldModelFigure>> {
    let warm = steps / 10;
    let (vocabulary, tokens) = read_tokens(world, steps + warm)?;
    let device = device.make(0)?;
    let mut figures: Vec<WorldModelFigure> = Vec::new();
    for &p in populations {
        let mut model = WorldModel::new(config, &build_context(p, &device, &vocabulary));
        let input = |t: f32| {
            let mut i = Inputs::default();
            i.insert("token", Signal::Host(Array2::from_elem((p, 1), t)));
            i
        };
        for &t in &tokens[..warm] {
            model.step(&input(t))?;
        }
        // On a GPU the tables live there too: nothing waits for a tick but the clock.
        sync(&device)?;
        let before = model.seconds();
        let start = Instant::now();
        let mut last = Vec::new();
        for &t in &tokens[warm..] {
            last = model.step(&input(t))?;
        }
        sync(&device)?;
        let seconds = start.elapsed().as_secs_f64();
        read_back(&last)?;
        let parts: Vec<f64> = model.seconds().iter().zip(before).map(|(a, b)| a - b).collect();
        let rate = (steps * p) as f64 / seconds;
        let base = figures.first().map_or(rate, |f| f.agent_tokens_per_s);
        figures.push(WorldModelFigure {
            population: p,
            steps,
            seconds,
            agent_tokens_per_s: rate,
            ratio_to_baseline: rate / base,
            bytes_per_agent: model.bytes_per_agent(),
            shares: [parts[0] / seconds, parts[1] / seconds, parts[2] / seconds],
        });
    }
    Ok(figures)
}

/// One measured population of the whole brain.
#[derive(Debug, Clone, Serialize)]
pub struct BrainFigure {
    /// The scenario's model.
    pub model: String,
    /// The device.
    pub device: String,
    /// Agents stepped together.
    pub population: usize,
    /// Agents sharing one PFC controller's weights (the first PFC region's `workers`; `None`
    /// when the model has no PFC).
    pub pfc_workers: Option<usize>,
    /// Ticks timed (after warm-up).
    pub ticks: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Agent-ticks per second: P × ticks / seconds.
    pub agent_ticks_per_s: f64,
    /// Its ratio to the first (baseline) population's figure.
    pub ratio_to_baseline: f64,
    /// Share of the timed seconds spent in each region's step (and `world` for the world's
    /// step and reply), in schedule order.
    pub shares: Vec<(String, f64)>,
    /// Bytes of memory a tick must read and write, per region in schedule order
    /// ([`crate::brain::Brain::traffic`]; a region that can neither say nor be saved counts 0).
    pub traffic: Vec<(String, crate::regions::Traffic)>,
    /// Their sum.
    pub bytes_per_tick: u64,
    /// Of those, the bytes read.
    pub read_bytes_per_tick: u64,
    /// The machine's streaming bandwidth for reads and writes together ([`stream_bandwidth`]):
    /// the higher of the figures measured just before and just after this population's ticks
    /// (a shared machine's memory is not one speed; the higher figure gives the shorter
    /// roofline, so the ratio to it is the less flattering one).
    pub bandwidth_bytes_per_s: f64,
    /// Its streaming bandwidth for reads alone, measured the same way ([`stream_bandwidth`]).
    pub read_bandwidth_bytes_per_s: f64,
    /// The two read figures, just before and just after the ticks: a run whose two differ
    /// much spans a change in the machine's memory speed (this VM's moves between ~35 and
    /// ~63 GB/s from one minute to the next).
    pub read_bandwidths_before_after: [f64; 2],
    /// A cache line's round trip between two threads in nanoseconds ([`round_trip_ns`]), just
    /// before and just after the ticks (`None` with one thread): where two threads share a
    /// last-level cache, ~110 ns on this VM; ~350–400 ns where they do not, which is also when
    /// its read figure is ~55–65 GB/s instead of ~35–40 (each core then has a memory link of
    /// its own), and when every hand-off between the threads costs more.
    pub round_trips_ns_before_after: [Option<f64>; 2],
    /// The memory roofline: the seconds the timed ticks would take if moving their bytes were
    /// all they did — ticks × the longer of bytes read / read bandwidth and all bytes / read
    /// and write bandwidth (a tick that mostly reads is bound by the first).
    pub roofline_seconds: f64,
    /// Measured seconds over the roofline's (1: at the memory limit).
    pub over_roofline: f64,
}

/// The machine's streaming memory bandwidths in bytes per second, `(reads and writes, reads)`,
/// over one 256 MiB buffer, far larger than any cache, on all threads (rayon, one contiguous
/// block each), the best of three passes each: in-place `x ← a·x + b` (every value read and
/// written once: the limit a tick that streams its state through memory cannot beat), then a sum
/// (sixteen running sums, so the adds keep up with the loads: the limit for a tick that reads
/// its state and writes little).
pub fn stream_bandwidth() -> (f64, f64) {
    use rayon::prelude::*;
    const FLOATS: usize = 64 << 20;
    fn best_of_three(mut pass: impl FnMut()) -> f64 {
        (0..3)
            .map(|_| {
                let start = Instant::now();
                pass();
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    }
    let mut x = vec![1.0f32; FLOATS];
    let block = FLOATS.div_ceil(rayon::current_num_threads().max(1));
    let update = best_of_three(|| {
        x.par_chunks_mut(block).for_each(|c| {
            for v in c.iter_mut() {
                *v = 0.999 * *v + 0.001;
            }
        })
    });
    let mut total = 0.0f32;
    let sum = best_of_three(|| {
        total += x
            .par_chunks(block)
            .map(|c| {
                let mut acc = [0.0f32; 16];
                for chunk in c.chunks_exact(16) {
                    for (a, v) in acc.iter_mut().zip(chunk) {
                        *a += v;
                    }
                }
                acc.iter().sum::<f32>()
            })
            .sum::<f32>()
    });
    std::hint::black_box(total);
    let bytes = (4 * FLOATS) as f64;
    (2.0 * bytes / update, bytes / sum)
}

/// The median round trip, in nanoseconds, of one cache line between this thread and another
/// that bounces it back (each bumps a counter the other waits for), over up to 20 000 trips or
/// 50 ms; `None` where rayon's pool has one thread (where the machine has one core and rayon is
/// told two, the trips are the scheduler's switches, milliseconds each).
/// What it tells: whether the two threads share a last-level cache (a cheap hand-off) or not.
pub fn round_trip_ns() -> Option<f64> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    if rayon::current_num_threads() < 2 {
        return None;
    }
    // Threads still spinning after the work just done (the helper's ~200 µs) settle first.
    std::thread::sleep(std::time::Duration::from_millis(1));
    let (line, stop) = (AtomicU64::new(0), AtomicBool::new(false));
    let mut trips = Vec::with_capacity(20_000);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let v = line.load(Ordering::Acquire);
                if v % 2 == 1 {
                    line.store(v + 1, Ordering::Release);
                } else {
                    std::hint::spin_loop();
                }
            }
        });
        let start = Instant::now();
        while trips.len() < 20_000 && start.elapsed().as_millis() < 50 {
            let v = line.load(Ordering::Acquire);
            let sent = Instant::now();
            line.store(v + 1, Ordering::Release);
            let mut spins = 0u32;
            while line.load(Ordering::Acquire) != v + 2 {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                // The clock read now and then (each read is itself tens of nanoseconds).
                if spins.is_multiple_of(256) && start.elapsed().as_millis() >= 50 {
                    break;
                }
            }
            trips.push(sent.elapsed().as_secs_f64() * 1e9);
        }
        stop.store(true, Ordering::Relaxed);
    });
    trips.sort_by(f64::total_cmp);
    trips.get(trips.len() / 2).copied()
}

/// The model with every PFC's `workers` set to the largest divisor of `population` that is at
/// most `workers` (so P = 1 keeps one agent per controller), and the first PFC's `workers`.
pub fn share_pfc(model: &ModelSpec, population: usize, workers: Option<usize>) -> (ModelSpec, Option<usize>) {
    let mut model = model.clone();
    let mut first = None;
    for (_, spec) in model.regions.iter_mut() {
        if let Some(config) = spec.get_mut::<PfcConfig>() {
            if let Some(w) = workers {
                config.workers = (1..=w.min(population))
                    .rev()
                    .find(|d| population.is_multiple_of(*d))
                    .unwrap_or(1);
            }
            first.get_or_insert(config.workers);
        }
    }
    (model, first)
}

/// Ticks run before [`bench_brain`] starts the clock: a tenth of those timed, and at least 128 —
/// past a PFC rollout of 100 ticks and its first update, which touches the rollout, gradient
/// and moment arrays for the first time (at P = 1024 some 300 MB of first-touch page faults, a
/// one-off that was a tenth of a 300-tick measurement, not the steady state a run lives in).
pub fn warm_up_ticks(ticks: usize) -> usize {
    (ticks / 10).max(128)
}

/// Times whole ticks — world step, every region learning, the world's reply — of a scenario's
/// model on its first phase's world, for each population (each after [`warm_up_ticks`]).
/// `pfc_workers`, when given, shares PFC controllers among up to that many agents
/// ([`share_pfc`]).
pub fn bench_brain(
    scenario: &crate::scenario::Scenario,
    device: DeviceChoice,
    populations: &[usize],
    ticks: usize,
    pfc_workers: Option<usize>,
) -> Result<Vec<BrainFigure>> {
    let world_spec = &scenario.phases[0].world;
    let vocabulary = Arc::new(build_vocabulary(&[world_spec])?);
    let mut before = stream_bandwidth();
    let mut trip_before = round_trip_ns();
    let mut figures: Vec<BrainFigure> = Vec::new();
    for &p in populations {
        let burn_device = device.make(scenario.seed)?;
        let (model, workers) = share_pfc(&scenario.model, p, pfc_workers);
        let mut brain = crate::brain::Brain::new(
            &model,
            scenario.plan().clone(),
            p,
            scenario.seed,
            &burn_device,
            &vocabulary,
        )?;
        let mut world = world_spec.build(vocabulary.clone(), p)?;
        world.reset(
            &(0..p)
                .map(|a| derive_seed(scenario.seed, &[a as u64]))
                .collect::<Vec<_>>(),
        );
        let mut in_world = std::time::Duration::ZERO;
        let mut tick = |brain: &mut crate::brain::Brain, n: usize| -> Result<std::time::Duration> {
            let mut in_world = std::time::Duration::ZERO;
            for _ in 0..n {
                let start = Instant::now();
                let sensed = world.step()?;
                in_world += start.elapsed();
                brain.tick(sensed)?;
                let inputs = brain.world_inputs();
                let start = Instant::now();
                world.act(&inputs)?;
                in_world += start.elapsed();
            }
            Ok(in_world)
        };
        tick(&mut brain, warm_up_ticks(ticks))?;
        brain.reset_profile();
        sync(&burn_device)?;
        let start = Instant::now();
        in_world += tick(&mut brain, ticks)?;
        sync(&burn_device)?;
        let seconds = start.elapsed().as_secs_f64();
        let after = stream_bandwidth();
        let trip_after = round_trip_ns();
        let (bandwidth, read_bandwidth) = (before.0.max(after.0), before.1.max(after.1));
        let rate = (ticks * p) as f64 / seconds;
        let base = figures.first().map_or(rate, |f| f.agent_ticks_per_s);
        let traffic: Vec<(String, crate::regions::Traffic)> = brain
            .traffic()
            .into_iter()
            .map(|(name, bytes)| (name, bytes.unwrap_or_default()))
            .collect();
        let bytes_per_tick: u64 = traffic.iter().map(|(_, t)| t.total()).sum();
        let read_bytes_per_tick: u64 = traffic.iter().map(|(_, t)| t.read).sum();
        let roofline_seconds = ticks as f64
            * (read_bytes_per_tick as f64 / read_bandwidth).max(bytes_per_tick as f64 / bandwidth);
        figures.push(BrainFigure {
            model: scenario.model.name.clone(),
            device: device.to_string(),
            population: p,
            pfc_workers: workers,
            ticks,
            seconds,
            agent_ticks_per_s: rate,
            ratio_to_baseline: rate / base,
            shares: std::iter::once(("world".to_string(), in_world.as_secs_f64()))
                .chain(brain.profile())
                .map(|(name, s)| (name, s / seconds))
                .collect(),
            traffic,
            bytes_per_tick,
            read_bytes_per_tick,
            bandwidth_bytes_per_s: bandwidth,
            read_bandwidth_bytes_per_s: read_bandwidth,
            read_bandwidths_before_after: [before.1, after.1],
            round_trips_ns_before_after: [trip_before, trip_after],
            roofline_seconds,
            over_roofline: seconds / roofline_seconds,
        });
        (before, trip_before) = (after, trip_after);
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regions::RegionSpec;

    fn model(workers: usize) -> ModelSpec {
        ModelSpec {
            name: "m".into(),
            regions: vec![(
                "pfc".into(),
                RegionSpec::new(PfcConfig {
                    workers,
                    ..Default::default()
                }),
            )],
            edges: Vec::new(),
        }
    }

    #[test]
    fn shared_pfc_workers_divide_the_population() {
        for (p, w, want) in [
            (1, 32, 1),
            (32, 32, 32),
            (1024, 32, 32),
            (12, 8, 6),
            (7, 4, 1),
            (6, 100, 6),
        ] {
            let (m, first) = share_pfc(&model(1), p, Some(w));
            assert_eq!(first, Some(want), "P = {p}, at most {w}");
            let c = m.regions[0].1.get::<PfcConfig>().unwrap();
            assert_eq!(c.workers, want);
        }
        // Not given: the model's own.
        assert_eq!(share_pfc(&model(4), 8, None).1, Some(4));
        let mut none = model(1);
        none.regions.clear();
        assert_eq!(share_pfc(&none, 8, Some(4)).1, None);
    }
}
