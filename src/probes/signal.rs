//! # signal — the latest value of any output port or edge, averaged over its width, per agent
//!
//! `signal = "region.port"` (or `"world.port"`) reads an output port; `signal = "from.port ->
//! to.port"` reads what an edge delivered to its target after any intervention: any signal on
//! any edge can be recorded. Key: the signal as written.
//!
//! ```toml
//! [[probes]]
//! kind = "signal"
//! signal = "vta.rpe"
//! every = 1
//! ```

use std::sync::Arc;

use ndarray::Axis;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::{Probe, ProbeContext, ProbeParams, Readings, SignalSource};
use crate::brain::Brain;
use crate::error::Result;
use crate::vocabulary::Vocabulary;

/// The latest value of a port or an edge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalProbe {
    /// Where it is read.
    pub source: SignalSource,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    signal: Option<Spanned<String>>,
}

impl ProbeParams for SignalProbe {
    const KIND: &'static str = "signal";
    const SUMMARY: &'static str = "the latest value of an output port or an edge, averaged over its width";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self> {
        let f: Fields = cx.fields(table)?;
        let sig = f
            .signal
            .as_ref()
            .ok_or_else(|| cx.required("signal", "\"region.port\" or \"region.port -> region.port\""))?;
        Ok(SignalProbe {
            source: cx.signal_source(sig)?,
        })
    }

    fn reads_world(&self) -> bool {
        self.source.is_world()
    }

    fn build(&self, _name: &str, _vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        Ok(Box::new(self.clone()))
    }
}

impl Probe for SignalProbe {
    fn take(&mut self, brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        let signal = self
            .source
            .read(brain)
            .ok_or_else(|| out.fail(format!("`{}` has not been computed yet", self.source)))?;
        let values = signal.to_host().mean_axis(Axis(1)).expect("width ≥ 1");
        out.record(&self.source.to_string(), &values);
        Ok(())
    }
}
