//! The sensory cortex on real language: WordNet glosses, scored against human valence norms
//! (VADER) on held-out words. Needs the Debian package `wordnet-base` and the PyPI package
//! `vaderSentiment` (`bash scripts/test.sh` installs both); without them these tests fail with
//! the install hint, never pass silently.

mod common;
use common::median;

use std::path::Path;

use valence::experiment::{Row, run};
use valence::probes::CosineProbe;
use valence::regions::SensoryCortexConfig;
use valence::scenario::Scenario;
use valence::worlds::WordnetConfig;

fn require_data() {
    let wordnet = Path::new("/usr/share/wordnet/data.noun");
    assert!(
        wordnet.is_file(),
        "WordNet is missing: `apt-get install wordnet-base` (or run `bash scripts/test.sh`)"
    );
    if let Err(e) = valence::worlds::lexicon::locate_vader() {
        panic!("{e} (or run `bash scripts/test.sh`)");
    }
}

/// `scenarios/real_language_valence.toml` cut to fit CI: 60 000 glosses read three times
/// (≈ 2.7 M ticks), four agents, the probes that need only common words.
fn reduced() -> Scenario {
    let mut s = common::scenario("real_language_valence");
    s.population = 4;
    let ticks = 2_700_000;
    let Some(w) = s.phases[0].world.get_mut::<WordnetConfig>() else {
        panic!("childhood reads WordNet")
    };
    w.max_sentences = 60_000;
    s.phases[0].steps = ticks;
    s.phases[1].steps = 40_000;
    for (_, spec) in &mut s.model.regions {
        if let Some(c) = spec.get_mut::<SensoryCortexConfig>() {
            c.decay_steps = ticks;
        }
    }
    s.probes.retain(|p| ["norms", "cosine"].contains(&p.kind()));
    for p in &mut s.probes {
        if let Some(cosine) = p.get_mut::<CosineProbe>() {
            cosine.pairs.retain(|(a, _)| a == "dog");
        }
    }
    s
}

fn last(rows: &[Row], probe: &str, key: &str) -> Vec<f32> {
    let step = rows
        .iter()
        .filter(|r| r.probe == probe)
        .map(|r| r.step)
        .max()
        .unwrap();
    rows.iter()
        .filter(|r| r.probe == probe && r.key == key && r.step == step)
        .map(|r| r.value)
        .collect()
}

#[test]
fn held_out_valence_follows_human_ratings_and_shuffled_does_not() {
    require_data();
    let scenario = reduced();
    let dir = tempfile::tempdir().unwrap();
    let out = run(&scenario, &common::options(dir.path())).unwrap();
    let model = median(last(&out.rows, "norms", "model"));
    let ridge = median(last(&out.rows, "norms", "ridge"));
    let shuffled = median(last(&out.rows, "norms", "shuffled"));
    eprintln!("held-out Spearman ρ: reward model {model:.3}, ridge {ridge:.3}, shuffled {shuffled:.3}");
    assert!(model > 0.25, "reward model's held-out ρ = {model}");
    assert!(ridge > 0.25, "ridge baseline's held-out ρ = {ridge}");
    assert!(shuffled.abs() < 0.1, "shuffled control's ρ = {shuffled}");
    let (cat, tax) = (
        last(&out.rows, "cosine", "dog~cat"),
        last(&out.rows, "cosine", "dog~tax"),
    );
    let nearer = cat.iter().zip(&tax).filter(|(c, t)| c > t).count();
    assert!(
        nearer * 2 > cat.len(),
        "dog nearer to cat than to tax in only {nearer}/{} agents",
        cat.len()
    );
}
