//! The `valence` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use valence::bench::bench_cortex;
use valence::device::DeviceChoice;
use valence::experiment::{RunOptions, run};
use valence::regions::sensory_cortex::Update;
use valence::regions::{RegionSpec, SensoryCortexConfig, registry};
use valence::scenario::{FileKind, file_kind, load_scenario, model::any_world_ports, parse_model, validate};
use valence::worlds::{WordnetConfig, WorldSpec};

#[derive(Parser)]
#[command(
    name = "valence",
    version,
    about = "How linguistic value concepts acquire valence: a brain-architecture simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its run directory.
    Run {
        /// The scenario file.
        #[arg(required_unless_present = "resume")]
        scenario: Option<PathBuf>,
        /// The run directory (default: runs/<scenario>-seed<S>-<time>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue the run in this directory from its last checkpoint (the scenario needs
        /// `checkpoint_every`); the scenario is read again from where the run started.
        #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["scenario", "out", "seed"])]
        resume: Option<PathBuf>,
        /// Start from the last checkpoint of the run in this directory instead of from step 0:
        /// the scenario may change what comes after that checkpoint (later phases, worlds,
        /// learning rates, probes), nothing before it. Writes a new run directory.
        #[arg(long, value_name = "RUN_DIR", requires = "scenario")]
        fork: Option<PathBuf>,
        /// cpu (embedded, default) or wgpu (needs the `wgpu` feature).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Replace the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// What a scenario's real-text corpora hold: per source, sentences, tokens and share of
    /// the stream (one pass over each).
    Corpus {
        /// The scenario file.
        scenario: PathBuf,
        /// Also print this many sentences of each source, as the cortex reads them.
        #[arg(long, default_value_t = 0)]
        sample: usize,
        /// Write one pass of the mix, in stream order, one sentence a line, to this file (the
        /// same tokens for a reference trainer: `scripts/gensim_reference.py --sentences`).
        #[arg(long, value_name = "FILE")]
        dump: Option<PathBuf>,
        /// Write the scenario's lexicon splits to this JSON file: per split (per agent with
        /// `split_per_agent`), the training and held-out words, so that a reference scores
        /// the very same words (`scripts/gensim_reference.py --splits`).
        #[arg(long, value_name = "FILE")]
        splits: Option<PathBuf>,
    },
    /// Check model and scenario files; errors name file:line:column.
    Validate {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run (one shard of) a sweep: a grid of scenario parameters × seeds, one run directory each.
    Sweep {
        /// The sweep file.
        sweep: PathBuf,
        /// Where the runs go.
        #[arg(long, default_value = "runs/sweep")]
        out: PathBuf,
        /// I/N: run shard I of N (default: SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, else all).
        #[arg(long)]
        shard: Option<String>,
        /// cpu (default) or wgpu.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Join a sweep's runs into one table (`merged.csv` in the sweep's directory).
    Merge {
        /// The sweep file.
        sweep: PathBuf,
        /// Where the runs are.
        #[arg(long, default_value = "runs/sweep")]
        out: PathBuf,
        /// Include runs that did not finish (interrupted, failed), marked in a `complete` column;
        /// without it such runs are refused.
        #[arg(long)]
        allow_incomplete: bool,
    },
    /// Redraw a run's plots (plots/*.svg and *.png) from its metrics.csv.
    Plot {
        /// The run directory.
        run: PathBuf,
    },
    /// Overlay several runs' curves (e.g. cortex learning vs frozen): one figure per probe that
    /// every run has, each run's keys labelled `run: key`.
    Compare {
        /// Run directories (two or more).
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
        /// Only these keys (comma-separated), e.g. `--keys x,b4`.
        #[arg(long, value_delimiter = ',')]
        keys: Vec<String>,
        /// Where the figures go.
        #[arg(long, default_value = "compare")]
        out: PathBuf,
    },
    /// Run the conditioning battery: each paradigm of scenarios/battery/ (or those named), each
    /// effect scored against its published direction; writes battery.{md,csv,json,svg,png}.
    Battery {
        /// Paradigms to run (file stems, e.g. `blocking`); default all.
        paradigms: Vec<String>,
        /// One model for every paradigm (regions named `cortex` and `vta`); default each
        /// paradigm's own.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Where the paradigms are.
        #[arg(long, default_value = "scenarios/battery")]
        dir: PathBuf,
        /// Where the runs and the table go.
        #[arg(long, default_value = "runs/battery")]
        out: PathBuf,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Print a model's (or a scenario's model's) graph as Graphviz DOT.
    Graph {
        /// A model or scenario file.
        file: PathBuf,
    },
    /// List region kinds with their ports and parameters.
    Regions {
        /// Print one kind's equation sheet: what it models, its updates, ports, parameters, paper.
        #[arg(long, value_name = "KIND")]
        detail: Option<String>,
    },
    /// Measure throughput: the sensory cortex on WordNet glosses (CPU), or with `--brain` whole
    /// ticks of a scenario's model (every region learning).
    Bench {
        /// Time whole ticks of `--scenario`'s model instead of the cortex alone.
        #[arg(long)]
        brain: bool,
        /// Time the world model (`world_model`, GRU next-token cortex) instead of the skip-gram
        /// cortex, on `--device`, with the share of time per phase.
        #[arg(long, conflicts_with = "brain")]
        world_model: bool,
        /// The scenario whose model and first world `--brain` times.
        #[arg(long, default_value = "scenarios/millidge_bandit.toml")]
        scenario: PathBuf,
        /// Ticks timed per population with `--brain`.
        #[arg(long, default_value_t = 200, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000_000))]
        ticks: usize,
        /// Device: cpu or wgpu (the skip-gram cortex's tables are on the device only with
        /// `--update tick`).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Populations to time; the first is the baseline of the ratios.
        #[arg(long, value_delimiter = ',', default_value = "1,32", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
        populations: Vec<usize>,
        /// With `--brain`: agents sharing one PFC controller's weights (A2C workers), at most
        /// this many and dividing P (the model's own `workers` when not given).
        #[arg(long, value_name = "W", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
        pfc_workers: Option<usize>,
        /// Token steps per population.
        #[arg(long, default_value_t = 200_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000_000))]
        steps: usize,
        /// Latent dimension.
        #[arg(long, default_value_t = 64, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=65_536))]
        dim: usize,
        /// The skip-gram cortex's update: sequential (word2vec's order, host tables) or tick
        /// (a tick's pairs batched; on wgpu the tables live on the device).
        #[arg(long, default_value = "sequential", value_parser = ["sequential", "tick"])]
        update: String,
        /// The skip-gram cortex's `shared_negatives`: every agent trains a tick against the same
        /// noise tokens (one draw for the population).
        #[arg(long)]
        shared_negatives: bool,
        /// Context window.
        #[arg(long, default_value_t = 4, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
        window: usize,
        /// Write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// glibc's allocator hands large blocks (≥ 128 KiB, rising to 32 MiB) back to the kernel on
/// every free, so a population's per-tick tensors are page-faulted in afresh each tick (a third
/// of a P = 1024 tick went to the kernel). Keep freed memory in the process instead.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    const M_TRIM_THRESHOLD: i32 = -1;
    const M_MMAP_THRESHOLD: i32 = -3;
    // SAFETY: mallopt only tunes glibc's allocator; called once before any thread starts.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

/// Where glibc can back its memory with 2 MiB pages (`glibc.malloc.hugetlb=1`: it advises the
/// kernel so on the memory it maps, honoured when transparent huge pages are `madvise` or
/// `always`), a large population's state takes far fewer page-table walks: `valence bench
/// --brain` at P = 1024 (`millidge`, a controller an agent) measured 150–161 k → 172 k
/// agent-ticks/s, as with the kernel's `always`. glibc reads its tunables only at start-up, so
/// the program executes itself once more with the tunable added. A `GLIBC_TUNABLES` that
/// already names it is left as it is (`glibc.malloc.hugetlb=0` opts out), and so is a program
/// run under a loader or a tool (its executable is not itself); if the re-execution fails, the
/// program runs on as it is. Only memory's placement changes, never a result.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn with_huge_pages() {
    use std::os::unix::process::CommandExt;
    const TUNABLE: &str = "glibc.malloc.hugetlb";
    let current = std::env::var_os("GLIBC_TUNABLES");
    let current = current.as_ref().map(|t| t.to_string_lossy().into_owned());
    if current.as_ref().is_some_and(|t| t.contains(TUNABLE)) {
        return;
    }
    let value = match current {
        Some(t) if !t.is_empty() => format!("{t}:{TUNABLE}=1"),
        _ => format!("{TUNABLE}=1"),
    };
    let mut args = std::env::args_os();
    let Some(name) = args.next() else {
        return;
    };
    // Only when this program is what the kernel ran: under a loader or a tool that runs it
    // (`ld.so ./valence`, valgrind) /proc/self/exe is that loader or tool.
    let exe = std::env::current_exe().ok();
    let ran = |n: &std::ffi::OsStr| std::path::Path::new(n).file_name().map(ToOwned::to_owned);
    if exe.as_ref().and_then(|e| ran(e.as_os_str())) != ran(&name) {
        return;
    }
    // `exec` returns only when it failed.
    let _ = std::process::Command::new("/proc/self/exe")
        .arg0(name)
        .args(args)
        .env("GLIBC_TUNABLES", value)
        .exec();
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn with_huge_pages() {}

/// A closed pipe ends the program quietly, as it does any Unix tool (`valence regions | head`):
/// Rust starts with SIGPIPE ignored, and the next `println!` would then panic.
#[cfg(unix)]
fn die_quietly_on_closed_pipes() {
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: restores the default disposition of one signal, before any thread starts.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

#[cfg(not(unix))]
fn die_quietly_on_closed_pipes() {}

fn main() -> ExitCode {
    with_huge_pages();
    keep_freed_memory();
    die_quietly_on_closed_pipes();
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Run {
            scenario,
            out,
            resume,
            fork,
            device,
            seed,
            quiet,
        } => {
            let device: DeviceChoice = device.parse()?;
            let options = RunOptions {
                out,
                device,
                seed,
                progress: !quiet,
                ..Default::default()
            };
            let started = std::time::Instant::now();
            let output = match (&resume, &scenario) {
                (Some(dir), _) => {
                    eprintln!(
                        "valence: resuming {} from its last checkpoint, device {device}",
                        dir.display()
                    );
                    valence::experiment::resume(dir, None, &options).context("resumed run failed")?
                }
                (None, Some(path)) => {
                    let scenario = load_scenario(path)?;
                    let steps: u64 = scenario.phases.iter().map(|p| p.steps).sum();
                    eprintln!(
                        "valence: `{}` — {} agents, {} phases, {steps} steps, seed {}, device {device}",
                        scenario.name,
                        scenario.population,
                        scenario.phases.len(),
                        options.seed.unwrap_or(scenario.seed)
                    );
                    match &fork {
                        Some(parent) => {
                            // (fork.toml in the new run directory names the step.)
                            eprintln!("valence: forking from {}'s last checkpoint", parent.display());
                            valence::experiment::fork(parent, &scenario, &options)
                                .context("forked run failed")?
                        }
                        None => run(&scenario, &options).context("run failed")?,
                    }
                }
                (None, None) => unreachable!("clap requires a scenario or --resume"),
            };
            let secs = started.elapsed().as_secs_f64();
            let population = output.population;
            println!(
                "run `{}` finished in {secs:.1} s → {}",
                output.name,
                output.dir.display()
            );
            println!(
                "{:<12} {:<14} {:>10} {:>10} {:>10}",
                "probe", "key", "p10", "median", "p90"
            );
            for (probe, keys) in &output.summary {
                for (key, e) in keys {
                    println!(
                        "{probe:<12} {key:<14} {:>10.4} {:>10.4} {:>10.4}",
                        e.p10, e.median, e.p90
                    );
                }
            }
            println!("(across {population} agents, at the last probe of each key)");
            for m in &output.effects {
                println!(
                    "effect `{}` ({}): a − b = {:.4} [{:.4}, {:.4}], a > b in {:.0}% of agents: {}",
                    m.spec.name,
                    m.spec.source,
                    m.median,
                    m.p10,
                    m.p90,
                    100.0 * m.share,
                    m.verdict
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Corpus {
            scenario,
            sample,
            dump,
            splits,
        } => {
            let scenario = valence::scenario::load_scenario(&scenario)?;
            if let Some(path) = &splits {
                write_splits(&scenario, path)?;
            }
            let mut seen = Vec::new();
            let worlds = std::iter::once(&scenario.world).chain(scenario.phases.iter().map(|p| &p.world));
            for config in worlds.filter_map(|w| w.get::<valence::worlds::CorporaConfig>()) {
                if seen.contains(&config) {
                    continue;
                }
                seen.push(config);
                for (i, c) in config.sources.iter().enumerate().filter(|_| sample > 0) {
                    let mut reader = c.open(i)?;
                    let mut sentence = Vec::new();
                    println!("{}:", c.label());
                    for _ in 0..sample {
                        if !reader.next_sentence(&mut sentence)? {
                            break;
                        }
                        println!("  {}", sentence.join(" "));
                    }
                }
                let started = std::time::Instant::now();
                let (_, sizes) = config.count()?;
                let stream: f64 = config
                    .sources
                    .iter()
                    .zip(&sizes)
                    .map(|(c, z)| c.weight * z.tokens as f64)
                    .sum();
                println!(
                    "{:<16} {:>10} {:>12} {:>7} {:>9} {:>7}",
                    "source", "sentences", "tokens", "weight", "fraction", "share"
                );
                for (c, z) in config.sources.iter().zip(&sizes) {
                    println!(
                        "{:<16} {:>10} {:>12} {:>7} {:>9} {:>6.1}%",
                        c.label(),
                        z.sentences,
                        z.tokens,
                        c.weight,
                        c.fraction,
                        100.0 * c.weight * z.tokens as f64 / stream
                    );
                }
                let (s, t) = sizes
                    .iter()
                    .fold((0, 0), |(s, t), z| (s + z.sentences, t + z.tokens));
                println!(
                    "{:<16} {s:>10} {t:>12}   (one pass of the mix: {:.0} tokens; read in {:.1} s)",
                    "all",
                    stream,
                    started.elapsed().as_secs_f64()
                );
            }
            if let (Some(path), Some(config)) = (&dump, seen.first()) {
                // Written whole, then renamed: a reader never sees half a stream.
                let tmp = path.with_extension("partial");
                let file = std::fs::File::create(&tmp)
                    .map_err(|e| valence::Error::Run(format!("{}: {e}", tmp.display())))?;
                let mut out = std::io::BufWriter::new(file);
                let (sentences, tokens) = config.write_stream(&mut out)?;
                std::io::Write::flush(&mut out)
                    .map_err(|e| valence::Error::Run(format!("{}: {e}", tmp.display())))?;
                std::fs::rename(&tmp, path)
                    .map_err(|e| valence::Error::Run(format!("{}: {e}", path.display())))?;
                println!(
                    "wrote {sentences} sentences, {tokens} tokens (with </s>) to {}",
                    path.display()
                );
            }
            if seen.is_empty() && splits.is_none() {
                eprintln!("{}: no `corpora` world in this scenario", scenario.path.display());
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { files } => {
            let mut failed = false;
            for f in &files {
                // A sweep is checked grid point by grid point; models and scenarios by themselves.
                let checked = match valence::error::SourceFile::read(f).and_then(|s| file_kind(&s)) {
                    Ok(FileKind::Sweep) => valence::sweep::check_sweep(f).map(|_| FileKind::Sweep),
                    _ => validate(f),
                };
                match checked {
                    Ok(kind) => println!(
                        "{}: ok ({})",
                        f.display(),
                        match kind {
                            FileKind::Model => "model",
                            FileKind::Scenario => "scenario",
                            FileKind::Sweep => "sweep",
                        }
                    ),
                    Err(e) => {
                        eprintln!("{e}");
                        failed = true;
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Sweep {
            sweep,
            out,
            shard,
            device,
        } => {
            let (index, count) = valence::sweep::shard_from(shard.as_deref())?;
            let options = RunOptions {
                device: device.parse()?,
                progress: false,
                ..Default::default()
            };
            let report = valence::sweep::run_sweep(&sweep, &out, index, count, &options)?;
            for (r, e) in &report.failed {
                eprintln!("{}: failed: {e}", r.id);
            }
            for (r, pid) in &report.busy {
                eprintln!("{}: left to process {pid}, which is running it", r.id);
            }
            println!(
                "shard {index}/{count}: {} runs in {}: {} done, {} failed, {} running elsewhere",
                report.runs.len(),
                out.display(),
                report.runs.len() - report.failed.len() - report.busy.len(),
                report.failed.len(),
                report.busy.len()
            );
            Ok(match report.failed.is_empty() {
                true => ExitCode::SUCCESS,
                false => ExitCode::FAILURE,
            })
        }
        Command::Merge {
            sweep,
            out,
            allow_incomplete,
        } => {
            let (columns, runs) = valence::sweep::merge(&sweep, &out, allow_incomplete)?;
            let path = valence::sweep::write_merged(&out, &columns, &runs, allow_incomplete)?;
            // Each derived summary entry (polarisation, agreement, …) across the runs.
            let charts = valence::sweep::derived_charts(&columns, &runs, &out);
            if !charts.is_empty() {
                let plots = out.join("plots");
                std::fs::create_dir_all(&plots).map_err(|e| valence::Error::io(&plots, e))?;
                for chart in &charts {
                    valence::plot::draw_chart(chart, &[])?.write(&plots.join(chart.stem()))?;
                }
                println!(
                    "{} figures of derived results across the runs → {}",
                    charts.len(),
                    plots.display()
                );
            }
            let unfinished: Vec<_> = runs.iter().filter(|r| !r.complete).collect();
            let with_rows = unfinished.iter().filter(|r| !r.rows.is_empty()).count();
            println!(
                "{} runs ({} unfinished: {with_rows} with readings, marked `complete = false`; the \
                 others have none) → {}",
                runs.len(),
                unfinished.len(),
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Plot { run } => {
            let rows = valence::experiment::read_csv(&run.join("metrics.csv"))?;
            for path in valence::experiment::replot(&run, &rows)? {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Battery {
            paradigms,
            model,
            dir,
            out,
            quiet,
        } => {
            let files = valence::battery::paradigms(&dir, &paradigms)?;
            let options = valence::battery::BatteryOptions {
                model,
                out: out.clone(),
                progress: !quiet,
            };
            let started = std::time::Instant::now();
            let battery = valence::battery::run_battery(&files, &options)?;
            let written = valence::battery::write(&battery, &out)?;
            print!("{}", valence::battery::markdown(&battery));
            println!(
                "{} paradigms run, {} skipped, {} effects in {:.0} s → {}",
                files.len() - battery.skipped.len(),
                battery.skipped.len(),
                battery.rows.len(),
                started.elapsed().as_secs_f64(),
                written.first().map_or(out.clone(), |p| p.clone()).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare { runs, keys, out } => {
            let mut loaded = Vec::new();
            for run in &runs {
                let rows = valence::experiment::read_csv(&run.join("metrics.csv"))?;
                let name = run
                    .file_name()
                    .map_or_else(|| run.display().to_string(), |n| n.to_string_lossy().into_owned());
                loaded.push((name, rows));
            }
            // The first run's phases and titles (its scenario.toml, else its metrics.csv).
            let layout = match (runs.first(), loaded.first()) {
                (Some(dir), Some((_, rows))) => valence::experiment::run_layout_or_rows(dir, rows),
                _ => valence::plot::RunLayout::default(),
            };
            let written = valence::plot::compare_runs(&loaded, &keys, &out, &layout)?;
            if written.is_empty() {
                anyhow::bail!("the runs share no probe (with the keys asked for) to compare");
            }
            for path in written {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Graph { file } => {
            let source = valence::error::SourceFile::read(&file)?;
            let dot = match file_kind(&source)? {
                FileKind::Scenario => {
                    let s = load_scenario(&file)?;
                    s.plan().to_dot(&s.model.name)
                }
                FileKind::Model => {
                    let m = parse_model(source)?;
                    m.plan(("world", any_world_ports()))?.to_dot(&m.spec.name)
                }
                FileKind::Sweep => anyhow::bail!(
                    "{}: a sweep has no graph of its own; give its scenario",
                    file.display()
                ),
            };
            print!("{dot}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            brain: true,
            scenario,
            ticks,
            device,
            populations,
            pfc_workers,
            json,
            ..
        } => {
            let scenario = valence::scenario::load_scenario(&scenario)?;
            let device: DeviceChoice = device.parse()?;
            eprintln!(
                "timing model `{}` ({} regions) on `{}` ticks, device {device}…",
                scenario.model.name,
                scenario.model.regions.len(),
                scenario.phases[0].world.kind()
            );
            let figures = valence::bench::bench_brain(&scenario, device, &populations, ticks, pfc_workers)?;
            println!(
                "{:>6} {:>12} {:>8} {:>10} {:>16} {:>10}",
                "P", "pfc workers", "ticks", "seconds", "agent-ticks/s", "ratio"
            );
            for f in &figures {
                let workers = f.pfc_workers.map_or("-".to_string(), |w| w.to_string());
                println!(
                    "{:>6} {:>12} {:>8} {:>10.2} {:>16.0} {:>9.2}x",
                    f.population, workers, f.ticks, f.seconds, f.agent_ticks_per_s, f.ratio_to_baseline
                );
            }
            println!("where the time goes (share of the timed seconds):");
            for f in &figures {
                let shares: Vec<String> = f
                    .shares
                    .iter()
                    .map(|(name, s)| format!("{name} {:.0}%", s * 100.0))
                    .collect();
                println!("{:>6}  {}", f.population, shares.join(", "));
            }
            println!(
                "memory roofline (the longer of bytes read / the read bandwidth and all bytes / the \
                 read-and-write bandwidth; each the higher of two measurements, just before and just \
                 after the population's ticks):"
            );
            println!(
                "{:>6} {:>14} {:>14} {:>10} {:>10} {:>12} {:>12} {:>8} {:>16}",
                "P",
                "MB per tick",
                "of which read",
                "read GB/s",
                "r+w GB/s",
                "roofline s",
                "measured s",
                "over",
                "round trip ns"
            );
            for f in &figures {
                let trip = |t: Option<f64>| t.map_or("-".to_string(), |t| format!("{t:.0}"));
                let [before, after] = f.round_trips_ns_before_after;
                println!(
                    "{:>6} {:>14.3} {:>14.3} {:>10.1} {:>10.1} {:>12.4} {:>12.2} {:>7.1}x {:>16}",
                    f.population,
                    f.bytes_per_tick as f64 / 1e6,
                    f.read_bytes_per_tick as f64 / 1e6,
                    f.read_bandwidth_bytes_per_s / 1e9,
                    f.bandwidth_bytes_per_s / 1e9,
                    f.roofline_seconds,
                    f.seconds,
                    f.over_roofline,
                    format!("{} / {}", trip(before), trip(after))
                );
            }
            println!(
                "(round trip: a cache line between two threads, before / after the ticks: ~100 ns where \
                 they share a last-level cache; several times that where they do not, when the read \
                 figure is higher and every hand-off between the threads slower)"
            );
            if let Some(f) = figures.last() {
                let regions: Vec<String> = f
                    .traffic
                    .iter()
                    .map(|(name, t)| format!("{name} {:.2} MB", t.total() as f64 / 1e6))
                    .collect();
                println!("bytes per tick at P = {}: {}", f.population, regions.join(", "));
            }
            if let Some(path) = json {
                valence::experiment::write_atomic(&path, serde_json::to_string_pretty(&figures)?.as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            world_model: true,
            populations,
            steps,
            dim,
            device,
            json,
            ..
        } => {
            let world = WorldSpec::new(WordnetConfig::default());
            let config = valence::regions::WorldModelConfig {
                dim,
                ..Default::default()
            };
            let device: DeviceChoice = device.parse()?;
            eprintln!(
                "timing the world model (dim {dim}, embed {}, bptt {}, {} noise tokens) on {steps} WordNet tokens, device {device}…",
                config.embed, config.bptt, config.negatives
            );
            let figures = valence::bench::bench_world_model(&world, &config, device, &populations, steps)?;
            println!(
                "{:>6} {:>10} {:>18} {:>8} {:>14} {:>8} {:>8} {:>8}",
                "P", "seconds", "agent-tokens/s", "ratio", "bytes/agent", "forward", "predict", "update"
            );
            for f in &figures {
                println!(
                    "{:>6} {:>10.2} {:>18.0} {:>7.2}x {:>14} {:>7.0}% {:>7.0}% {:>7.0}%",
                    f.population,
                    f.seconds,
                    f.agent_tokens_per_s,
                    f.ratio_to_baseline,
                    f.bytes_per_agent,
                    100.0 * f.shares[0],
                    100.0 * f.shares[1],
                    100.0 * f.shares[2]
                );
            }
            if let Some(path) = json {
                valence::experiment::write_atomic(&path, serde_json::to_string_pretty(&figures)?.as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            populations,
            steps,
            dim,
            window,
            json,
            device,
            update,
            shared_negatives,
            ..
        } => {
            let world = WorldSpec::new(WordnetConfig::default());
            let update = if update == "tick" {
                Update::Tick
            } else {
                Update::Sequential
            };
            let device: DeviceChoice = device.parse()?;
            if device != DeviceChoice::Cpu && update == Update::Sequential {
                anyhow::bail!(
                    "the skip-gram cortex keeps its tables on the host with the sequential update: \
                     add `--update tick` to time them on {device}"
                );
            }
            let config = SensoryCortexConfig {
                dim,
                window,
                subsample: 1e-3,
                update,
                shared_negatives,
                ..Default::default()
            };
            let noise = if shared_negatives { "shared" } else { "private" };
            eprintln!(
                "timing the sensory cortex (dim {dim}, window {window}, 5 negatives, {noise} noise draws, \
                 {update:?} update, {device}) on {steps} WordNet tokens…"
            );
            let figures = bench_cortex(&world, &config, device, &populations, steps)?;
            println!(
                "{:>6} {:>10} {:>18} {:>10}",
                "P", "seconds", "agent-tokens/s", "ratio"
            );
            for f in &figures {
                println!(
                    "{:>6} {:>10.2} {:>18.0} {:>9.2}x",
                    f.population, f.seconds, f.agent_tokens_per_s, f.ratio_to_baseline
                );
            }
            if let Some(path) = json {
                valence::experiment::write_atomic(&path, serde_json::to_string_pretty(&figures)?.as_bytes())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Regions { detail: Some(kind) } => match RegionSpec::detail(&kind) {
            Some(sheet) => {
                println!("{sheet}");
                Ok(ExitCode::SUCCESS)
            }
            None => {
                let names = RegionSpec::kind_names();
                let hint = valence::error::did_you_mean(&kind, names.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("kinds: {}", names.join(", ")));
                anyhow::bail!("unknown region kind `{kind}`; {hint}")
            }
        },
        Command::Regions { detail: None } => {
            for kind in registry() {
                let spec = kind.defaults();
                println!("{} — {}", kind.name, kind.summary);
                let ports = spec.ports();
                for p in &ports.inputs {
                    let req = if p.required { "required" } else { "optional" };
                    println!(
                        "  in  {:<10} {:<8} [P, {}] {req}: {}",
                        p.name,
                        p.kind.name(),
                        p.width,
                        p.doc
                    );
                }
                for p in &ports.outputs {
                    println!(
                        "  out {:<10} {:<8} [P, {}] {}",
                        p.name,
                        p.kind.name(),
                        p.width,
                        p.doc
                    );
                }
                for (k, v) in spec.params() {
                    println!("  param {k} = {v}");
                }
                println!();
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `valence corpus --splits`: the lexicon world's splits of the scenario's vocabulary, as the
/// run draws them (one per agent with `split_per_agent`), written as JSON.
fn write_splits(scenario: &valence::scenario::Scenario, path: &std::path::Path) -> anyhow::Result<()> {
    use valence::worlds::LexiconConfig;
    let worlds: Vec<_> = scenario.phases.iter().map(|p| &p.world).collect();
    let Some(lexicon) = worlds.iter().find_map(|w| w.get::<LexiconConfig>()) else {
        return Err(anyhow::anyhow!(
            "{}: no `lexicon` world in this scenario, so no splits",
            scenario.path.display()
        ));
    };
    let vocabulary = valence::worlds::build_vocabulary(&worlds)?;
    let known = lexicon.known(&vocabulary)?;
    let agents = if lexicon.split_per_agent {
        scenario.population as u64
    } else {
        1
    };
    let word = |(id, _): &(u32, f32)| vocabulary.word(*id).unwrap_or_default().to_string();
    let splits = (0..agents)
        .map(|a| {
            let split = lexicon.split_known(known.clone(), a)?;
            Ok(serde_json::json!({
                "split_seed": lexicon.split_seed_of(a),
                "train": split.train.iter().map(word).collect::<Vec<_>>(),
                "held_out": split.held_out.iter().map(word).collect::<Vec<_>>(),
            }))
        })
        .collect::<valence::Result<Vec<_>>>()?;
    let json = serde_json::json!({ "norms": lexicon.norms.name(), "splits": splits });
    valence::experiment::write_atomic(path, json.to_string().as_bytes())?;
    println!(
        "wrote {} split(s) of {} rated words to {}",
        splits.len(),
        known.len(),
        path.display()
    );
    Ok(())
}
