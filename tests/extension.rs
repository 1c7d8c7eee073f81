//! Regions registered from outside the crate go through the same model-file checks as built-ins.

mod common;
// Worlds and probes from outside the crate (one test binary: each links the whole crate).
#[path = "extension/custom_kinds.rs"]
mod custom_kinds;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use valence::error::{ErrorKind, SourceFile};
use valence::regions::{
    BuildContext, Inputs, Outputs, ParamError, PortSpec, Ports, Region, RegionParams, Width, register,
};
use valence::scenario::{model::any_world_ports, parse_model};
use valence::{Signal, SignalKind};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct GainConfig {
    gain: f64,
}

struct Gain(f32);

impl Region for Gain {
    fn step(&mut self, inputs: &Inputs) -> valence::Result<Outputs> {
        let r = inputs.get("reward").unwrap().to_host();
        Ok(vec![("reward", Signal::Host(r * self.0))])
    }
    fn set_learning(&mut self, _: bool) {}
}

impl RegionParams for GainConfig {
    const KIND: &'static str = "gain";
    const SUMMARY: &'static str = "scales a reward";
    const DETAIL: &'static str = "# gain\nr' = g · r";

    fn ports(&self) -> Ports {
        Ports {
            inputs: vec![PortSpec::input(
                "reward",
                SignalKind::Reward,
                Width::Fixed(1),
                "r",
            )],
            outputs: vec![PortSpec::output("reward", SignalKind::Reward, 1, "g · r")],
        }
    }

    fn check(&self) -> Result<(), ParamError> {
        if self.gain.is_finite() {
            Ok(())
        } else {
            Err(ParamError::new("gain", "a finite number"))
        }
    }

    fn build(&self, _: &BuildContext<'_>) -> valence::Result<Box<dyn Region>> {
        Ok(Box::new(Gain(self.gain as f32)))
    }
}

fn register_gain() {
    register::<GainConfig>().unwrap();
}

const MODEL: &str = r#"schema = 1
[regions.cortex]
kind = "sensory_cortex"
dim = 4
[regions.amp]
kind = "gain"
gain = 2.0
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
to = "amp.reward"
[[edges]]
from = "amp.reward"
to = "vta.reward"
"#;

#[test]
fn a_registered_kind_is_parsed_checked_wired_and_built() {
    register_gain();
    let m = parse_model(SourceFile::new("m.toml", MODEL)).unwrap();
    let plan = m.plan(("world", any_world_ports())).unwrap();
    let names: Vec<&str> = plan.order.iter().map(|&n| plan.graph[n].name.as_str()).collect();
    assert!(names.iter().position(|&n| n == "amp") < names.iter().position(|&n| n == "vta"));
    let spec = &m.spec.regions.iter().find(|(n, _)| n == "amp").unwrap().1;
    assert_eq!(spec.kind(), "gain");
    assert_eq!(spec.params()["gain"].as_float(), Some(2.0));
    let vocab = valence::worlds::Vocabulary::from_counts(vec![("a".into(), 1)]);
    let device = valence::DeviceChoice::from_env().unwrap().make(0).unwrap();
    let mut brain = valence::Brain::new(&m.spec, plan, 3, 0, &device, &vocab).unwrap();
    brain
        .tick(vec![
            ("token", Signal::zeros(3, 1)),
            ("reward", Signal::Host(Array2::from_elem((3, 1), 0.25))),
        ])
        .unwrap();
    assert_eq!(brain.signal("amp", "reward").unwrap().to_host()[[2, 0]], 0.5);
    // The resolved form keeps the kind and every parameter.
    let toml = toml::to_string(spec).unwrap();
    assert!(
        toml.contains("kind = \"gain\"") && toml.contains("gain = 2.0"),
        "{toml}"
    );
}

#[test]
fn a_misspelled_parameter_of_a_registered_kind_is_located() {
    register_gain();
    let e = parse_model(SourceFile::new(
        "m.toml",
        MODEL.replace("gain = 2.0", "gian = 2.0"),
    ))
    .unwrap_err();
    let loc = e.location().unwrap();
    assert_eq!(
        (e.kind(), loc.line, loc.column),
        (Some(ErrorKind::UnknownField), 7, 1),
        "{e}"
    );
    assert_eq!(e.help(), Some("did you mean `gain`?"));
}

#[test]
fn built_in_kinds_cannot_be_replaced() {
    /// A kind that claims a built-in's name.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    struct Impostor {}
    impl RegionParams for Impostor {
        const KIND: &'static str = "reward_model";
        const SUMMARY: &'static str = "";
        const DETAIL: &'static str = "";
        fn ports(&self) -> Ports {
            Ports::default()
        }
        fn build(&self, _: &BuildContext<'_>) -> valence::Result<Box<dyn Region>> {
            Ok(Box::new(Gain(1.0)))
        }
    }
    assert!(register::<Impostor>().is_err());
    assert!(
        valence::regions::kind_named("reward_model")
            .unwrap()
            .summary
            .contains("VTA")
    );
}
