//! # event — an event-related average of a signal, per agent and group of phrases
//!
//! The mean of a signal over the ticks at which the world's token stream ends with one of a
//! group's phrases, per agent, since the probe last recorded (key: the group). E.g. the value
//! the reward model gives `snake` after `forest` vs after `photo`. An agent that met no event
//! of a group in that window records nothing for it.
//!
//! ```toml
//! [[probes]]
//! kind = "event"
//! signal = "vta.value"
//! events = { real = ["forest snake"], photo = ["photo snake"] }
//! ```

use std::collections::VecDeque;
use std::sync::Arc;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::{Probe, ProbeContext, ProbeParams, Readings, SignalSource, id, world_tokens};
use crate::brain::Brain;
use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result};
use crate::vocabulary::Vocabulary;

/// An event-related average of a signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventProbe {
    /// Where it is read.
    pub source: SignalSource,
    /// Group name → phrases (space-separated words, the last being the current token).
    pub events: Vec<(String, Vec<Vec<String>>)>,
}

/// `events = { group = ["phrase", …], … }`.
type EventGroups = std::collections::BTreeMap<String, Spanned<Vec<Spanned<String>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    #[serde(default)]
    signal: Option<Spanned<String>>,
    #[serde(default)]
    events: Option<Spanned<EventGroups>>,
}

impl ProbeParams for EventProbe {
    const KIND: &'static str = "event";
    const SUMMARY: &'static str = "the mean of a signal at the ticks where a group's phrases end, per group";

    fn parse(table: &Spanned<DeValue<'_>>, cx: &ProbeContext<'_>) -> Result<Self> {
        let f: Fields = cx.fields(table)?;
        let groups = f.events.as_ref().ok_or_else(|| {
            cx.required(
                "events",
                "{ real = [\"forest snake\"], photo = [\"photo snake\"] }",
            )
        })?;
        if groups.get_ref().is_empty() {
            return Err(cx.error(
                ErrorKind::InvalidValue,
                groups.span(),
                "`events`: expected at least one group",
            ));
        }
        let mut events = Vec::new();
        for (group, phrases) in groups.get_ref() {
            if phrases.get_ref().is_empty() {
                return Err(cx.error(
                    ErrorKind::InvalidValue,
                    phrases.span(),
                    format!("event group `{group}` needs at least one phrase"),
                ));
            }
            let mut list = Vec::new();
            for phrase in phrases.get_ref() {
                let tokens: Vec<Spanned<String>> = phrase
                    .get_ref()
                    .split_whitespace()
                    .map(|w| Spanned::new(phrase.span(), w.to_string()))
                    .collect();
                if tokens.is_empty() {
                    return Err(cx.error(ErrorKind::InvalidValue, phrase.span(), "an empty phrase"));
                }
                list.push(cx.words(&tokens)?);
            }
            events.push((group.clone(), list));
        }
        let sig = f
            .signal
            .as_ref()
            .ok_or_else(|| cx.required("signal", "\"region.port\" or \"region.port -> region.port\""))?;
        Ok(EventProbe {
            source: cx.signal_source(sig)?,
            events,
        })
    }

    fn concepts(&self) -> Vec<&String> {
        self.events
            .iter()
            .flat_map(|(_, ps)| ps.iter().flatten())
            .collect()
    }

    fn build(&self, name: &str, vocabulary: &Arc<Vocabulary>) -> Result<Box<dyn Probe>> {
        let phrases: Vec<(usize, Vec<u32>)> = self
            .events
            .iter()
            .enumerate()
            .flat_map(|(g, (_, ps))| {
                ps.iter()
                    .map(move |p| (g, p.iter().map(|w| id(vocabulary, w)).collect()))
            })
            .collect();
        let longest = phrases.iter().map(|(_, p)| p.len()).max().unwrap_or(1);
        Ok(Box::new(EventAverage {
            name: name.to_string(),
            source: self.source.clone(),
            phrases,
            groups: self.events.iter().map(|(g, _)| g.clone()).collect(),
            history: Vec::new(),
            longest,
            sums: Vec::new(),
            counts: Vec::new(),
        }))
    }
}

/// The running event-related average of one probe.
struct EventAverage {
    name: String,
    source: SignalSource,
    /// (group, phrase as token ids).
    phrases: Vec<(usize, Vec<u32>)>,
    groups: Vec<String>,
    /// The last tokens of each agent's stream, newest last.
    history: Vec<VecDeque<u32>>,
    longest: usize,
    /// [group][agent] sum and count since the last record.
    sums: Vec<Vec<f64>>,
    counts: Vec<Vec<u32>>,
}

impl Probe for EventAverage {
    fn observes(&self) -> bool {
        true
    }

    /// Matches the world's latest token against the phrases and adds the signal of the agents
    /// where one ends.
    fn observe(&mut self, brain: &Brain) -> Result<()> {
        let tokens = world_tokens(brain)?;
        let p = tokens.nrows();
        if self.history.len() != p {
            self.history = vec![VecDeque::with_capacity(self.longest + 1); p];
            self.sums = vec![vec![0.0; p]; self.groups.len()];
            self.counts = vec![vec![0; p]; self.groups.len()];
        }
        let mut values: Option<Array2<f32>> = None;
        for (agent, history) in self.history.iter_mut().enumerate() {
            history.push_back(tokens[[agent, 0]] as u32);
            if history.len() > self.longest {
                history.pop_front();
            }
            let mut hit = vec![false; self.groups.len()];
            for (g, phrase) in &self.phrases {
                let n = phrase.len();
                if !hit[*g] && history.len() >= n && history.iter().skip(history.len() - n).eq(phrase.iter())
                {
                    hit[*g] = true;
                }
            }
            if !hit.iter().any(|&h| h) {
                continue;
            }
            if values.is_none() {
                let signal = self.source.read(brain).ok_or_else(|| {
                    Error::Run(format!(
                        "probe `{}`: `{}` has carried nothing yet",
                        self.name, self.source
                    ))
                })?;
                values = Some(signal.to_host());
            }
            let row = values.as_ref().expect("read above").row(agent);
            let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / row.len() as f64;
            for (g, _) in hit.iter().enumerate().filter(|(_, h)| **h) {
                self.sums[g][agent] += mean;
                self.counts[g][agent] += 1;
            }
        }
        Ok(())
    }

    fn take(&mut self, _brain: &Brain, out: &mut Readings<'_>) -> Result<()> {
        for (g, group) in self.groups.iter().enumerate() {
            for agent in 0..self.counts.get(g).map_or(0, Vec::len) {
                let n = self.counts[g][agent];
                if n > 0 {
                    let mean = self.sums[g][agent] / f64::from(n);
                    out.record_one(agent, group, mean as f32);
                }
                self.sums[g][agent] = 0.0;
                self.counts[g][agent] = 0;
            }
        }
        Ok(())
    }

    fn save(&self, out: &mut Snapshot) {
        out.put(&format!("events/{}/history", self.name), &self.history);
        out.put(&format!("events/{}/sums", self.name), &self.sums);
        out.put(&format!("events/{}/counts", self.name), &self.counts);
    }

    fn restore(&mut self, from: &Snapshot) -> Result<()> {
        self.history = from.get(&format!("events/{}/history", self.name))?;
        self.sums = from.get(&format!("events/{}/sums", self.name))?;
        self.counts = from.get(&format!("events/{}/counts", self.name))?;
        Ok(())
    }
}
