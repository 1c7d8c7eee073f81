//! Probes: measurements of the brain taken on schedule, one value per agent and key.

use std::collections::HashMap;
use std::sync::Arc;

use crate::rng::SimRng;
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::analysis::{Ridge, cosine, spearman, weat_effect_size};
use crate::brain::Brain;
use crate::checkpoint::Snapshot;
use crate::error::{Error, Result};
use crate::scenario::{ProbeKind, ProbeSpec, SignalSource};
use crate::signal::Signal;
use crate::vocabulary::{EOS, UNK, Vocabulary};
use crate::worlds::lexicon::NormSplit;
use std::cell::RefCell;
use std::collections::VecDeque;

use crate::metrics::Recorder;

/// The probes of a run, with what they need prepared once (vocabulary ids, lexicon splits).
pub struct Probes {
    vocabulary: Arc<Vocabulary>,
    /// Every real word's id (`</s>` and `<unk>` left out): the candidates of `neighbours` and
    /// `analogy`.
    words: Vec<u32>,
    splits: HashMap<String, NormSplit>,
    /// Running sums of `event` probes, by probe name.
    events: RefCell<HashMap<String, EventAverage>>,
    /// Running counts of `cooccurrence` probes, by probe name.
    cooccurrences: RefCell<HashMap<String, Cooccurrences>>,
}

/// The running co-occurrence counts of one `cooccurrence` probe.
struct Cooccurrences {
    /// (x, y) as token ids.
    pairs: Vec<(u32, u32)>,
    window: usize,
    /// The last `window` tokens of each agent's stream, newest last.
    history: Vec<VecDeque<u32>>,
    /// [pair][agent].
    counts: Vec<Vec<u64>>,
}

impl Cooccurrences {
    fn observe(&mut self, tokens: &Array2<f32>) {
        let p = tokens.nrows();
        if self.history.len() != p {
            self.history = vec![VecDeque::with_capacity(self.window + 1); p];
            self.counts = vec![vec![0; p]; self.pairs.len()];
        }
        for (agent, history) in self.history.iter_mut().enumerate() {
            let t = tokens[[agent, 0]] as u32;
            // Each co-occurrence is counted once, when the later of the two words arrives.
            for (k, &(x, y)) in self.pairs.iter().enumerate() {
                let partner = if t == x {
                    Some(y)
                } else if t == y {
                    Some(x)
                } else {
                    None
                };
                if let Some(partner) = partner {
                    self.counts[k][agent] += history.iter().filter(|&&h| h == partner).count() as u64;
                }
            }
            history.push_back(t);
            if history.len() > self.window {
                history.pop_front();
            }
        }
    }
}

/// The running event-related average of one `event` probe.
struct EventAverage {
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

/// What `source` carries after the last tick.
fn read(brain: &Brain, source: &SignalSource) -> Option<Signal> {
    match source {
        SignalSource::Port { region, port } => brain.signal(region, port).cloned(),
        SignalSource::Edge { index, .. } => brain.edge_signal(*index),
    }
}

impl ProbeKind {
    /// Every word the probe names.
    pub fn concepts(&self) -> Vec<&String> {
        match self {
            ProbeKind::Valence { concepts, .. } | ProbeKind::Neighbours { concepts, .. } => {
                concepts.iter().collect()
            }
            ProbeKind::Cosine { pairs, .. } | ProbeKind::Cooccurrence { pairs, .. } => {
                pairs.iter().flat_map(|(a, b)| [a, b]).collect()
            }
            ProbeKind::Weat {
                targets, attributes, ..
            } => targets.iter().chain(attributes).flatten().collect(),
            ProbeKind::Analogy { analogies, .. } => analogies.iter().flatten().collect(),
            ProbeKind::Event { events, .. } => {
                events.iter().flat_map(|(_, ps)| ps.iter().flatten()).collect()
            }
            ProbeKind::Norms { .. } | ProbeKind::Signal { .. } => Vec::new(),
        }
    }
}

impl Probes {
    /// Checks every concept against the vocabulary (for open corpora this is known only now) and
    /// reads the lexicons of `norms` probes.
    pub fn new(probes: &[ProbeSpec], vocabulary: Arc<Vocabulary>) -> Result<Self> {
        let mut splits = HashMap::new();
        for probe in probes {
            if let Some(w) = probe
                .kind
                .concepts()
                .into_iter()
                .find(|w| vocabulary.id(w).is_none())
            {
                return Err(Error::Run(format!(
                    "probe `{}`: concept `{w}` is not in the vocabulary ({} words; words rarer than \
                     `min_count` become {UNK})",
                    probe.name,
                    vocabulary.len()
                )));
            }
            if let ProbeKind::Norms { lexicon, .. } = &probe.kind {
                splits.insert(probe.name.clone(), lexicon.split(&vocabulary)?);
            }
        }
        let skip = [vocabulary.id(EOS), vocabulary.id(UNK)];
        let words = (0..vocabulary.len() as u32)
            .filter(|i| !skip.contains(&Some(*i)))
            .collect();
        let mut events = HashMap::new();
        for probe in probes {
            if let ProbeKind::Event {
                source,
                events: groups,
            } = &probe.kind
            {
                let vocabulary = &vocabulary;
                let phrases: Vec<(usize, Vec<u32>)> = groups
                    .iter()
                    .enumerate()
                    .flat_map(|(g, (_, ps))| {
                        ps.iter().map(move |p| {
                            (
                                g,
                                p.iter()
                                    .map(|w| vocabulary.id(w).expect("checked above"))
                                    .collect(),
                            )
                        })
                    })
                    .collect();
                let longest = phrases.iter().map(|(_, p)| p.len()).max().unwrap_or(1);
                events.insert(
                    probe.name.clone(),
                    EventAverage {
                        source: source.clone(),
                        phrases,
                        groups: groups.iter().map(|(g, _)| g.clone()).collect(),
                        history: Vec::new(),
                        longest,
                        sums: Vec::new(),
                        counts: Vec::new(),
                    },
                );
            }
        }
        let cooccurrences = probes
            .iter()
            .filter_map(|probe| match &probe.kind {
                ProbeKind::Cooccurrence { pairs, window } => Some((
                    probe.name.clone(),
                    Cooccurrences {
                        pairs: pairs
                            .iter()
                            .map(|(x, y)| {
                                (
                                    vocabulary.id(x).expect("checked"),
                                    vocabulary.id(y).expect("checked"),
                                )
                            })
                            .collect(),
                        window: *window,
                        history: Vec::new(),
                        counts: Vec::new(),
                    },
                )),
                _ => None,
            })
            .collect();
        Ok(Probes {
            vocabulary,
            words,
            splits,
            events: RefCell::new(events),
            cooccurrences: RefCell::new(cooccurrences),
        })
    }

    /// Whether any probe needs to see every tick (`event` probes).
    pub fn observes(&self) -> bool {
        !self.events.borrow().is_empty() || !self.cooccurrences.borrow().is_empty()
    }

    /// The running state of `event` and `cooccurrence` probes (for checkpoints).
    pub fn save(&self, out: &mut Snapshot) {
        for (name, ev) in self.events.borrow().iter() {
            out.put(&format!("events/{name}/history"), &ev.history);
            out.put(&format!("events/{name}/sums"), &ev.sums);
            out.put(&format!("events/{name}/counts"), &ev.counts);
        }
        for (name, c) in self.cooccurrences.borrow().iter() {
            out.put(&format!("cooccurrences/{name}/history"), &c.history);
            out.put(&format!("cooccurrences/{name}/counts"), &c.counts);
        }
    }

    /// Restores what [`Probes::save`] wrote.
    pub fn restore(&self, from: &Snapshot) -> Result<()> {
        for (name, ev) in self.events.borrow_mut().iter_mut() {
            ev.history = from.get(&format!("events/{name}/history"))?;
            ev.sums = from.get(&format!("events/{name}/sums"))?;
            ev.counts = from.get(&format!("events/{name}/counts"))?;
        }
        for (name, c) in self.cooccurrences.borrow_mut().iter_mut() {
            c.history = from.get(&format!("cooccurrences/{name}/history"))?;
            c.counts = from.get(&format!("cooccurrences/{name}/counts"))?;
        }
        Ok(())
    }

    /// Called after every tick: `event` probes match the world's latest token against their
    /// phrases and add the signal of the agents where one ends.
    pub fn observe(&self, brain: &Brain) -> Result<()> {
        let mut events = self.events.borrow_mut();
        let mut cooccurrences = self.cooccurrences.borrow_mut();
        if events.is_empty() && cooccurrences.is_empty() {
            return Ok(());
        }
        let tokens = brain
            .signal(crate::brain::WORLD, "token")
            .ok_or_else(|| {
                Error::Run("event and cooccurrence probes need a world with a `token` output".into())
            })?
            .to_host();
        for c in cooccurrences.values_mut() {
            c.observe(&tokens);
        }
        let p = tokens.nrows();
        for (name, ev) in events.iter_mut() {
            if ev.history.len() != p {
                ev.history = vec![VecDeque::with_capacity(ev.longest + 1); p];
                ev.sums = vec![vec![0.0; p]; ev.groups.len()];
                ev.counts = vec![vec![0; p]; ev.groups.len()];
            }
            let mut values: Option<Array2<f32>> = None;
            for (agent, history) in ev.history.iter_mut().enumerate() {
                history.push_back(tokens[[agent, 0]] as u32);
                if history.len() > ev.longest {
                    history.pop_front();
                }
                let mut hit = vec![false; ev.groups.len()];
                for (g, phrase) in &ev.phrases {
                    let n = phrase.len();
                    if !hit[*g]
                        && history.len() >= n
                        && history.iter().skip(history.len() - n).eq(phrase.iter())
                    {
                        hit[*g] = true;
                    }
                }
                if !hit.iter().any(|&h| h) {
                    continue;
                }
                if values.is_none() {
                    let signal = read(brain, &ev.source).ok_or_else(|| {
                        Error::Run(format!("probe `{name}`: `{}` has carried nothing yet", ev.source))
                    })?;
                    values = Some(signal.to_host());
                }
                let row = values.as_ref().expect("read above").row(agent);
                let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / row.len() as f64;
                for (g, _) in hit.iter().enumerate().filter(|(_, h)| **h) {
                    ev.sums[g][agent] += mean;
                    ev.counts[g][agent] += 1;
                }
            }
        }
        Ok(())
    }

    fn id(&self, word: &str) -> u32 {
        self.vocabulary.id(word).expect("checked in Probes::new")
    }

    /// Reads one probe for every agent and records it.
    pub fn take(
        &self,
        brain: &Brain,
        probe: &ProbeSpec,
        phase: &str,
        step: u64,
        rec: &mut Recorder,
    ) -> Result<()> {
        let fail = |m: String| Error::Run(format!("probe `{}`: {m}", probe.name));
        let region = |name: &str| {
            brain
                .region(name)
                .ok_or_else(|| fail(format!("no region `{name}`")))
        };
        // [P, n, D] latents of a list of token ids.
        let latents = |cortex: &str, ids: &[u32]| -> Result<Vec<Array2<f32>>> {
            let r = region(cortex)?;
            ids.iter()
                .map(|&id| {
                    r.concept_latent(id)
                        .ok_or_else(|| fail(format!("region `{cortex}` has no latent space")))
                })
                .collect()
        };
        let per_agent = |l: &[Array2<f32>], agent: usize| -> Array2<f32> {
            let rows: Vec<_> = l.iter().map(|m| m.row(agent)).collect();
            ndarray::stack(Axis(0), &rows).expect("equal widths")
        };
        let p = brain.population();
        match &probe.kind {
            ProbeKind::Valence {
                concepts,
                cortex,
                reward_model,
            } => {
                for c in concepts {
                    let z = &latents(cortex, &[self.id(c)])?[0];
                    let v = region(reward_model)?.value_at(z).ok_or_else(|| {
                        fail(format!("region `{reward_model}` values no latent of this width"))
                    })?;
                    rec.record(phase, step, &probe.name, c, &v);
                }
            }
            ProbeKind::Cosine { pairs, cortex } => {
                for (a, b) in pairs {
                    let l = latents(cortex, &[self.id(a), self.id(b)])?;
                    let cos: Array1<f32> = (0..p).map(|i| cosine(l[0].row(i), l[1].row(i))).collect();
                    rec.record(phase, step, &probe.name, &format!("{a}~{b}"), &cos);
                }
            }
            ProbeKind::Neighbours { concepts, k, cortex } => {
                let all = &self.words;
                let table = latents(cortex, all)?;
                let per_agent_tables: Vec<Array2<f32>> = (0..p).map(|a| per_agent(&table, a)).collect();
                for c in concepts {
                    let target = self.id(c);
                    let targets = latents(cortex, &[target])?;
                    for (agent, m) in per_agent_tables.iter().enumerate() {
                        let z = targets[0].row(agent);
                        let mut scored: Vec<(f32, u32)> = all
                            .iter()
                            .zip(m.outer_iter())
                            .filter(|(id, _)| **id != target)
                            .map(|(id, row)| (cosine(z, row), *id))
                            .collect();
                        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                        for (rank, (cos, id)) in scored.into_iter().take(*k).enumerate() {
                            let word = self.vocabulary.word(id).unwrap_or("?");
                            rec.record_one(
                                phase,
                                step,
                                agent,
                                &probe.name,
                                &format!("{c}#{}:{word}", rank + 1),
                                cos,
                            );
                        }
                    }
                }
            }
            ProbeKind::Weat {
                targets,
                attributes,
                cortex,
            } => {
                let ids = |ws: &Vec<String>| ws.iter().map(|w| self.id(w)).collect::<Vec<_>>();
                let sets = [&targets[0], &targets[1], &attributes[0], &attributes[1]]
                    .map(|ws| latents(cortex, &ids(ws)));
                let [x, y, a, b] = sets;
                let (x, y, a, b) = (x?, y?, a?, b?);
                let d: Array1<f32> = (0..p)
                    .map(|i| {
                        weat_effect_size(
                            &per_agent(&x, i),
                            &per_agent(&y, i),
                            &per_agent(&a, i),
                            &per_agent(&b, i),
                        ) as f32
                    })
                    .collect();
                rec.record(phase, step, &probe.name, "d", &d);
            }
            ProbeKind::Analogy { analogies, cortex } => {
                let all = &self.words;
                let table = latents(cortex, all)?;
                let per_agent_tables: Vec<Array2<f32>> = (0..p).map(|a| per_agent(&table, a)).collect();
                for q in analogies {
                    let ids = q.clone().map(|w| self.id(&w));
                    let quad = latents(cortex, &ids)?;
                    let ranks: Array1<f32> = (0..p)
                        .map(|agent| {
                            let target = &quad[1].row(agent) - &quad[0].row(agent) + quad[2].row(agent);
                            let m = &per_agent_tables[agent];
                            let answer = cosine(target.view(), quad[3].row(agent));
                            let better = all
                                .iter()
                                .zip(m.outer_iter())
                                .filter(|(id, _)| !ids[..3].contains(id) && **id != ids[3])
                                .filter(|(_, row)| cosine(target.view(), *row) > answer)
                                .count();
                            (better + 1) as f32
                        })
                        .collect();
                    rec.record(phase, step, &probe.name, &q.join(":"), &ranks);
                }
            }
            ProbeKind::Signal { source } => {
                let signal = read(brain, source)
                    .ok_or_else(|| fail(format!("`{source}` has not been computed yet")))?;
                let values = signal.to_host().mean_axis(Axis(1)).expect("width ≥ 1");
                rec.record(phase, step, &probe.name, &source.to_string(), &values);
            }
            ProbeKind::Cooccurrence { pairs, .. } => {
                let counts = self.cooccurrences.borrow();
                let c = &counts[&probe.name];
                for (k, (x, y)) in pairs.iter().enumerate() {
                    if let Some(per_agent) = c.counts.get(k) {
                        let values: Array1<f32> = per_agent.iter().map(|&n| n as f32).collect();
                        rec.record(phase, step, &probe.name, &format!("{x}~{y}"), &values);
                    }
                }
            }
            ProbeKind::Event { .. } => {
                let mut events = self.events.borrow_mut();
                let ev = events.get_mut(&probe.name).expect("built in Probes::new");
                for (g, group) in ev.groups.iter().enumerate() {
                    for agent in 0..ev.counts.get(g).map_or(0, Vec::len) {
                        let n = ev.counts[g][agent];
                        if n > 0 {
                            let mean = ev.sums[g][agent] / f64::from(n);
                            rec.record_one(phase, step, agent, &probe.name, group, mean as f32);
                        }
                        ev.sums[g][agent] = 0.0;
                        ev.counts[g][agent] = 0;
                    }
                }
            }
            ProbeKind::Norms {
                ridge,
                cortex,
                reward_model,
                ..
            } => {
                let split = &self.splits[&probe.name];
                let (train_ids, train_y): (Vec<u32>, Vec<f64>) =
                    split.train.iter().map(|(i, r)| (*i, *r as f64)).unzip();
                let (test_ids, test_y): (Vec<u32>, Vec<f64>) =
                    split.held_out.iter().map(|(i, r)| (*i, *r as f64)).unzip();
                let train = latents(cortex, &train_ids)?;
                let test = latents(cortex, &test_ids)?;
                let rm = region(reward_model)?;
                // V of every held-out word for all agents at once ([P] per word).
                let test_values: Vec<Array1<f32>> = test
                    .iter()
                    .map(|z| {
                        rm.value_at(z).ok_or_else(|| {
                            fail(format!("region `{reward_model}` values no latent of this width"))
                        })
                    })
                    .collect::<Result<_>>()?;
                let (mut model, mut baseline, mut shuffled) = (Vec::new(), Vec::new(), Vec::new());
                for agent in 0..p {
                    let xtr = per_agent(&train, agent).mapv(f64::from);
                    let xte = per_agent(&test, agent).mapv(f64::from);
                    let values: Vec<f64> = test_values.iter().map(|v| f64::from(v[agent])).collect();
                    model.push(spearman(&values, &test_y) as f32);
                    let fit = Ridge::fit(xtr.view(), Array1::from(train_y.clone()).view(), *ridge);
                    baseline.push(
                        spearman(fit.predict(xte.view()).as_slice().expect("contiguous"), &test_y) as f32,
                    );
                    // The control: the same ridge fitted to the training ratings in an order of
                    // the agent's own, so that the median across agents averages permutations.
                    let mut shuffled_y = train_y.clone();
                    shuffled_y.shuffle(&mut SimRng::seed_from_u64(0x5eed ^ agent as u64));
                    let fit = Ridge::fit(xtr.view(), Array1::from(shuffled_y).view(), *ridge);
                    shuffled.push(
                        spearman(fit.predict(xte.view()).as_slice().expect("contiguous"), &test_y) as f32,
                    );
                }
                rec.record(phase, step, &probe.name, "model", &Array1::from(model));
                rec.record(phase, step, &probe.name, "ridge", &Array1::from(baseline));
                rec.record(phase, step, &probe.name, "shuffled", &Array1::from(shuffled));
            }
        }
        Ok(())
    }
}
