//! The brain: regions wired as a directed graph (petgraph), stepped for P agents on a schedule.
//!
//! Edges without a delay must form a DAG; the schedule is its topological order, so every
//! region reads this tick's outputs of the regions before it. An edge with `delay = 1` carries
//! the previous tick's value (zeros on the first tick), which is how loops close. Several edges
//! into one input port are summed. The world is the node named `world`, whose outputs are the
//! observation of this tick.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use burn::prelude::Device;
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::checkpoint::Snapshot;
use crate::error::{Error, ErrorKind, Result, nearest};
use crate::ports::{Inputs, Outputs, PortSpec, Ports, Width};
use crate::regions::{BuildContext, Region, RegionSpec};
pub use crate::rng::derive_seed;
use crate::rng::name_hash;
use crate::signal::{Signal, SignalKind};
use crate::vocabulary::Vocabulary;

/// The name of the world's node in edges (`world.token`).
pub const WORLD: &str = "world";

/// `region.port`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    /// The region (or `world`).
    pub region: String,
    /// The port.
    pub port: String,
}

impl Endpoint {
    /// Parses `region.port`.
    pub fn parse(s: &str) -> Option<Endpoint> {
        let (region, port) = s.split_once('.')?;
        (!region.is_empty() && !port.is_empty() && !port.contains('.')).then(|| Endpoint {
            region: region.to_string(),
            port: port.to_string(),
        })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.region, self.port)
    }
}

/// One edge of a model: a projection from an output port to an input port.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeSpec {
    /// Source output port.
    pub from: Endpoint,
    /// Target input port.
    pub to: Endpoint,
    /// 0: this tick's value; 1: the previous tick's.
    pub delay: u32,
}

/// A brain's wiring: regions by name and edges, before anything is built.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelSpec {
    /// The model's name.
    pub name: String,
    /// Regions by name, in file order.
    pub regions: Vec<(String, RegionSpec)>,
    /// Edges, in file order.
    pub edges: Vec<EdgeSpec>,
}

/// Which part of an edge a graph error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgePart {
    /// The `from` endpoint.
    From,
    /// The `to` endpoint.
    To,
    /// The edge as a whole.
    Whole,
}

/// Where in the model a graph error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphSite {
    /// The edge with this index, and which part.
    Edge(usize, EdgePart),
    /// The region with this name.
    Region(String),
}

/// A wiring problem, with the site that a loader turns into `file:line:col`.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    /// What kind of problem.
    pub kind: ErrorKind,
    /// Where.
    pub site: GraphSite,
    /// What is wrong and what was expected.
    pub message: String,
    /// A suggestion.
    pub help: Option<String>,
}

impl GraphError {
    fn at(kind: ErrorKind, site: GraphSite, message: String, help: Option<String>) -> Self {
        GraphError {
            kind,
            site,
            message,
            help,
        }
    }
}

impl From<GraphError> for Error {
    fn from(e: GraphError) -> Self {
        Error::Run(format!("invalid model ({}): {}", e.kind.name(), e.message))
    }
}

/// A node of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    /// The region's name, or `world`.
    pub name: String,
    /// The region kind, or the world kind.
    pub kind: String,
    /// Its ports.
    pub ports: Ports,
}

/// An edge of the graph, resolved against the ports.
#[derive(Debug, Clone)]
pub struct Wire {
    /// Index of the edge in the model.
    pub index: usize,
    /// Output port of the source.
    pub from_port: &'static str,
    /// Input port of the target.
    pub to_port: &'static str,
    /// Carries the previous tick's value.
    pub delayed: bool,
    /// The signal kind.
    pub kind: SignalKind,
    /// Values per agent.
    pub width: usize,
}

/// A checked wiring: the graph, the tick order and each region's input widths.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The graph; node 0 is the world.
    pub graph: DiGraph<Node, Wire>,
    /// Regions in tick order (the world excluded).
    pub order: Vec<NodeIndex>,
    /// Each region's resolved input widths.
    pub input_widths: HashMap<NodeIndex, BTreeMap<&'static str, usize>>,
}

fn port_help(name: &str, ports: &[PortSpec]) -> Option<String> {
    match nearest(name, ports.iter().map(|p| p.name)) {
        Some(n) => Some(format!("did you mean `{n}`?")),
        None => Some(format!(
            "ports here: {}",
            ports.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Checks a model's wiring and computes the schedule.
///
/// `world` is the world's kind and output ports.
pub fn plan(model: &ModelSpec, world: (&str, Ports)) -> Result<Plan, GraphError> {
    let mut graph = DiGraph::new();
    let mut by_name: HashMap<&str, NodeIndex> = HashMap::new();
    let w = graph.add_node(Node {
        name: WORLD.into(),
        kind: world.0.into(),
        ports: world.1,
    });
    by_name.insert(WORLD, w);
    for (name, spec) in &model.regions {
        let n = graph.add_node(Node {
            name: name.clone(),
            kind: spec.kind().into(),
            ports: spec.ports(),
        });
        by_name.insert(name, n);
    }
    let names: Vec<&str> = by_name.keys().copied().collect();
    let resolve = |end: &Endpoint, i: usize, part: EdgePart| -> Result<NodeIndex, GraphError> {
        by_name.get(end.region.as_str()).copied().ok_or_else(|| {
            GraphError::at(
                ErrorKind::UnknownRegion,
                GraphSite::Edge(i, part),
                format!("`{}` names no region of this model", end.region),
                nearest(&end.region, names.iter().copied()).map(|n| format!("did you mean `{n}`?")),
            )
        })
    };
    let mut widths: HashMap<NodeIndex, BTreeMap<&'static str, usize>> = HashMap::new();
    for (i, edge) in model.edges.iter().enumerate() {
        let src = resolve(&edge.from, i, EdgePart::From)?;
        let dst = resolve(&edge.to, i, EdgePart::To)?;
        let out = graph[src].ports.output(&edge.from.port).cloned().ok_or_else(|| {
            GraphError::at(
                ErrorKind::UnknownPort,
                GraphSite::Edge(i, EdgePart::From),
                format!(
                    "`{}` ({}) has no output port `{}`",
                    edge.from.region, graph[src].kind, edge.from.port
                ),
                port_help(&edge.from.port, &graph[src].ports.outputs),
            )
        })?;
        let inp = graph[dst].ports.input(&edge.to.port).cloned().ok_or_else(|| {
            GraphError::at(
                ErrorKind::UnknownPort,
                GraphSite::Edge(i, EdgePart::To),
                format!(
                    "`{}` ({}) has no input port `{}`",
                    edge.to.region, graph[dst].kind, edge.to.port
                ),
                port_help(&edge.to.port, &graph[dst].ports.inputs),
            )
        })?;
        if out.kind != inp.kind {
            return Err(GraphError::at(
                ErrorKind::PortTypeMismatch,
                GraphSite::Edge(i, EdgePart::Whole),
                format!(
                    "`{}` carries {} but `{}` expects {}",
                    edge.from,
                    out.kind.name(),
                    edge.to,
                    inp.kind.name()
                ),
                None,
            ));
        }
        let Width::Fixed(width) = out.width else {
            unreachable!("output ports have fixed widths")
        };
        let expected = match inp.width {
            Width::Fixed(n) => Some(n),
            Width::Inferred => widths.get(&dst).and_then(|m| m.get(inp.name)).copied(),
        };
        if let Some(n) = expected.filter(|&n| n != width) {
            return Err(GraphError::at(
                ErrorKind::PortSizeMismatch,
                GraphSite::Edge(i, EdgePart::Whole),
                format!("`{}` is {width} wide but `{}` takes {n}", edge.from, edge.to),
                None,
            ));
        }
        if edge.delay > 1 {
            return Err(GraphError::at(
                ErrorKind::InvalidValue,
                GraphSite::Edge(i, EdgePart::Whole),
                format!("delay = {}; expected 0 or 1", edge.delay),
                None,
            ));
        }
        widths.entry(dst).or_default().insert(inp.name, width);
        graph.add_edge(
            src,
            dst,
            Wire {
                index: i,
                from_port: out.name,
                to_port: inp.name,
                delayed: edge.delay == 1,
                kind: out.kind,
                width,
            },
        );
    }
    for n in graph.node_indices() {
        for port in graph[n].ports.inputs.iter().filter(|p| p.required) {
            if !widths.get(&n).is_some_and(|m| m.contains_key(port.name)) {
                return Err(GraphError::at(
                    ErrorKind::UnconnectedInput,
                    GraphSite::Region(graph[n].name.clone()),
                    format!(
                        "required input `{}.{}` ({}) has no edge into it",
                        graph[n].name,
                        port.name,
                        port.kind.name()
                    ),
                    Some(format!(
                        "add an edge with `to = \"{}.{}\"`",
                        graph[n].name, port.name
                    )),
                ));
            }
        }
    }
    // What the world is given (an action) takes effect on its next step: edges into the world
    // never constrain this tick's order.
    let into_world: Vec<usize> = graph
        .edge_references()
        .filter(|e| e.target() == w)
        .map(|e| e.weight().index)
        .collect();
    let instant = graph.filter_map(
        |_, _| Some(()),
        |_, e| (!e.delayed && !into_world.contains(&e.index)).then_some(e.index),
    );
    let order = match toposort(&instant, None) {
        Ok(order) => order.into_iter().filter(|&n| n != w).collect(),
        Err(cycle) => {
            let scc = tarjan_scc(&instant)
                .into_iter()
                .find(|c| c.contains(&cycle.node_id()))
                .unwrap_or_default();
            let edge = instant
                .edge_references()
                .filter(|e| scc.contains(&e.source()) && scc.contains(&e.target()))
                .map(|e| *e.weight())
                .min()
                .unwrap_or(0);
            let members: Vec<&str> = scc.iter().rev().map(|&n| graph[n].name.as_str()).collect();
            return Err(GraphError::at(
                ErrorKind::CycleWithoutDelay,
                GraphSite::Edge(edge, EdgePart::Whole),
                format!(
                    "edges form a cycle without a delay through {}",
                    members.join(" → ")
                ),
                Some("mark one edge of the loop `delay = 1`".into()),
            ));
        }
    };
    Ok(Plan {
        graph,
        order,
        input_widths: widths,
    })
}

impl Plan {
    /// The graph in Graphviz DOT: regions as nodes, edges labelled by port, delayed edges dashed.
    pub fn to_dot(&self, name: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "digraph {} {{", quote(name));
        let _ = writeln!(s, "  rankdir=LR;\n  node [shape=box, style=rounded];");
        for n in self.graph.node_indices() {
            let node = &self.graph[n];
            let shape = if n.index() == 0 { ", shape=ellipse" } else { "" };
            let _ = writeln!(
                s,
                "  {} [label={}{shape}];",
                quote(&node.name),
                quote(&format!("{}\n{}", node.name, node.kind))
            );
        }
        for e in self.graph.edge_references() {
            let wire = e.weight();
            let style = if wire.delayed { ", style=dashed" } else { "" };
            let _ = writeln!(
                s,
                "  {} -> {} [label={}{style}];",
                quote(&self.graph[e.source()].name),
                quote(&self.graph[e.target()].name),
                quote(&format!("{} → {} [{}]", wire.from_port, wire.to_port, wire.width))
            );
        }
        s.push_str("}\n");
        s
    }
}

fn quote(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
    )
}

/// What a wire carries to its target: `clamp` if it has one this phase; else, if `delayed` and
/// the wire is, the previous tick's value; else its source's latest output — borrowed where it is.
fn carried<'a>(
    outputs: &'a HashMap<NodeIndex, Outputs>,
    delayed_values: &'a HashMap<usize, Signal>,
    clamp: Option<f32>,
    population: usize,
    source: NodeIndex,
    wire: &Wire,
    delayed: bool,
) -> Option<Cow<'a, Signal>> {
    if let Some(v) = clamp {
        return Some(Cow::Owned(Signal::filled(population, wire.width, v)));
    }
    if delayed && wire.delayed {
        return delayed_values.get(&wire.index).map(Cow::Borrowed);
    }
    outputs
        .get(&source)?
        .iter()
        .find(|(p, _)| *p == wire.from_port)
        .map(|(_, s)| Cow::Borrowed(s))
}

/// A built brain for P agents.
pub struct Brain {
    plan: Plan,
    regions: HashMap<NodeIndex, Box<dyn Region>>,
    /// This tick's outputs per node and port.
    outputs: HashMap<NodeIndex, Outputs>,
    /// The previous tick's value on each delayed edge (by edge index in the model).
    delayed: HashMap<usize, Signal>,
    /// Edges (by index in the model) whose signal is replaced by a constant this phase.
    /// Indexed by edge; empty when nothing is clamped (a plain index on the tick's path).
    clamped: Vec<Option<f32>>,
    population: usize,
    /// Wall time spent in each region's `step`, by node (a profile for `valence bench`).
    busy: HashMap<NodeIndex, std::time::Duration>,
    /// Regions whose learning is off.
    frozen: std::collections::HashSet<NodeIndex>,
}

impl Brain {
    /// Builds every region of a planned model. Per-region seeds derive from `seed`, the region's
    /// name and the agent index, so adding or reordering regions does not reseed the others.
    pub fn new(
        model: &ModelSpec,
        plan: Plan,
        population: usize,
        seed: u64,
        device: &Device,
        vocabulary: &Vocabulary,
    ) -> Result<Self> {
        let mut regions = HashMap::new();
        for (name, spec) in &model.regions {
            let n = plan
                .graph
                .node_indices()
                .find(|&n| plan.graph[n].name == *name)
                .expect("planned from this model");
            let ctx = BuildContext {
                population,
                device,
                seeds: (0..population)
                    .map(|a| derive_seed(seed, &[name_hash(name), a as u64]))
                    .collect(),
                vocabulary,
                input_widths: plan.input_widths.get(&n).cloned().unwrap_or_default(),
            };
            regions.insert(n, spec.build(&ctx)?);
        }
        let delayed = plan
            .graph
            .edge_references()
            .filter(|e| e.weight().delayed)
            .map(|e| (e.weight().index, Signal::zeros(population, e.weight().width)))
            .collect();
        Ok(Brain {
            plan,
            regions,
            outputs: HashMap::new(),
            busy: HashMap::new(),
            frozen: Default::default(),
            delayed,
            clamped: Vec::new(),
            population,
        })
    }

    /// P.
    pub fn population(&self) -> usize {
        self.population
    }

    /// The plan it was built from.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    fn node(&self, name: &str) -> Option<NodeIndex> {
        self.plan
            .graph
            .node_indices()
            .find(|&n| self.plan.graph[n].name == name)
    }

    /// A region by name.
    pub fn region(&self, name: &str) -> Option<&dyn Region> {
        self.node(name)
            .and_then(|n| self.regions.get(&n))
            .map(|r| r.as_ref())
    }

    /// The region names in tick order.
    pub fn schedule(&self) -> Vec<&str> {
        self.plan
            .order
            .iter()
            .map(|&n| self.plan.graph[n].name.as_str())
            .collect()
    }

    /// Freezes (false) or unfreezes (true) a region's learning.
    pub fn set_learning(&mut self, name: &str, learning: bool) -> Result<()> {
        let n = self
            .node(name)
            .ok_or_else(|| Error::Run(format!("no region `{name}`")))?;
        self.regions
            .get_mut(&n)
            .ok_or_else(|| Error::Run(format!("`{name}` is not a region")))?
            .set_learning(learning);
        match learning {
            true => self.frozen.remove(&n),
            false => self.frozen.insert(n),
        };
        Ok(())
    }

    /// Whether a region learns (`false` after `set_learning(name, false)`); `false` for a name
    /// that is not a region.
    pub fn is_learning(&self, name: &str) -> bool {
        self.node(name)
            .is_some_and(|n| self.regions.contains_key(&n) && !self.frozen.contains(&n))
    }

    /// The world's outputs for one tick of a replay phase: the named region's replayed
    /// `token` and `reward`, every other world port (`ports`) silent (zeros).
    pub fn replay(&mut self, name: &str, ports: &[PortSpec]) -> Result<Outputs> {
        let n = self
            .node(name)
            .ok_or_else(|| Error::Run(format!("no region `{name}`")))?;
        let region = self
            .regions
            .get_mut(&n)
            .ok_or_else(|| Error::Run(format!("`{name}` is not a region")))?;
        let mut out = region
            .replay()
            .ok_or_else(|| Error::Run(format!("region `{name}` stores nothing to replay")))??;
        for port in ports {
            if !out.iter().any(|(p, _)| *p == port.name) {
                let width = match port.width {
                    Width::Fixed(w) => w,
                    Width::Inferred => 1,
                };
                out.push((port.name, Signal::zeros(self.population, width)));
            }
        }
        Ok(out)
    }

    /// Gives a region new parameters (between phases).
    pub fn configure(&mut self, name: &str, spec: &RegionSpec) -> Result<()> {
        let n = self
            .node(name)
            .ok_or_else(|| Error::Run(format!("no region `{name}`")))?;
        self.regions
            .get_mut(&n)
            .ok_or_else(|| Error::Run(format!("`{name}` is not a region")))?
            .configure(spec)
            .map_err(|e| e.in_region(name))
    }

    /// Replaces the signal on each listed edge (by its index in the model's edges) with the
    /// constant given, from the next tick on; every other edge carries its source again. An
    /// ablation is a clamp at 0. The source region still runs: only what travels on the edge
    /// changes, so other edges from the same port are untouched.
    pub fn set_clamps(&mut self, clamps: &[(usize, f32)]) -> Result<()> {
        let edges = self.plan.graph.edge_count();
        if let Some((i, _)) = clamps.iter().find(|(i, _)| *i >= edges) {
            return Err(Error::Run(format!(
                "no edge with index {i} (the model has {edges})"
            )));
        }
        self.clamped = vec![None; if clamps.is_empty() { 0 } else { edges }];
        for &(i, v) in clamps {
            self.clamped[i] = Some(v);
        }
        Ok(())
    }

    /// The constant edge `index` is clamped to this phase, if any.
    fn clamp(&self, index: usize) -> Option<f32> {
        self.clamped.get(index).copied().flatten()
    }

    /// What edge `index` (in the model's edge order) carries after the last tick, after any
    /// clamp: what its target received (for a `delay = 1` edge, what it will receive next tick).
    pub fn edge_signal(&self, index: usize) -> Option<Signal> {
        let e = self
            .plan
            .graph
            .edge_references()
            .find(|e| e.weight().index == index)?;
        self.carried(e.source(), e.weight(), false)
    }

    /// What a wire carries to its target: its clamp if it has one this phase; else, if
    /// `delayed` and the wire is, the previous tick's value; else its source's latest output.
    fn carried(&self, source: NodeIndex, wire: &Wire, delayed: bool) -> Option<Signal> {
        self.lent(source, wire, delayed).map(Cow::into_owned)
    }

    /// [`Brain::carried`], borrowed where the signal is.
    fn lent(&self, source: NodeIndex, wire: &Wire, delayed: bool) -> Option<Cow<'_, Signal>> {
        let clamp = self.clamp(wire.index);
        carried(
            &self.outputs,
            &self.delayed,
            clamp,
            self.population,
            source,
            wire,
            delayed,
        )
    }

    /// The latest value of `region.port` (after a tick).
    pub fn signal(&self, region: &str, port: &str) -> Option<&Signal> {
        let n = self.node(region)?;
        self.outputs
            .get(&n)?
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, s)| s)
    }

    /// One tick: the world's outputs in, every region stepped in schedule order.
    pub fn tick(&mut self, world: Outputs) -> Result<()> {
        let world_node = NodeIndex::new(0);
        self.outputs.insert(world_node, world);
        for &n in &self.plan.order {
            // The inputs borrow this tick's outputs (no copy unless two edges meet in a port).
            let mut inputs = Inputs::default();
            for e in self.plan.graph.edges_directed(n, petgraph::Direction::Incoming) {
                let wire = e.weight();
                let clamp = self.clamp(wire.index);
                let signal = carried(
                    &self.outputs,
                    &self.delayed,
                    clamp,
                    self.population,
                    e.source(),
                    wire,
                    true,
                )
                .ok_or_else(|| {
                    Error::Run(format!(
                        "`{}` produced no `{}` this tick",
                        self.plan.graph[e.source()].name,
                        wire.from_port
                    ))
                })?;
                inputs.add_signal(wire.to_port, signal);
            }
            let region = self
                .regions
                .get_mut(&n)
                .expect("every scheduled node is a region");
            let start = std::time::Instant::now();
            let out = region
                .step(&inputs)
                .map_err(|e| e.in_region(&self.plan.graph[n].name))?;
            *self.busy.entry(n).or_default() += start.elapsed();
            drop(inputs);
            self.outputs.insert(n, out);
        }
        for e in self.plan.graph.edge_references().filter(|e| e.weight().delayed) {
            let wire = e.weight();
            if let Some((_, s)) = self
                .outputs
                .get(&e.source())
                .and_then(|o| o.iter().find(|(p, _)| *p == wire.from_port))
            {
                self.delayed.insert(wire.index, s.clone());
            }
        }
        Ok(())
    }

    /// Seconds each region has spent in `step` since the brain was built (or since
    /// [`Brain::reset_profile`]), in schedule order. On an asynchronous device (wgpu) this is
    /// the time to enqueue the work, not to run it.
    pub fn profile(&self) -> Vec<(String, f64)> {
        self.plan
            .order
            .iter()
            .map(|n| {
                let busy = self.busy.get(n).copied().unwrap_or_default();
                (self.plan.graph[*n].name.clone(), busy.as_secs_f64())
            })
            .collect()
    }

    /// Zeroes the per-region timings of [`Brain::profile`].
    pub fn reset_profile(&mut self) {
        self.busy.clear();
    }

    /// What the regions send the world this tick (e.g. `world.action`), summed per port.
    pub fn world_inputs(&self) -> Inputs<'_> {
        let mut inputs = Inputs::default();
        for e in self
            .plan
            .graph
            .edges_directed(NodeIndex::new(0), petgraph::Direction::Incoming)
        {
            let wire = e.weight();
            if let Some(s) = self.lent(e.source(), wire, false) {
                inputs.add_signal(wire.to_port, s);
            }
        }
        inputs
    }

    /// Every region's state (under `regions/<name>/`) and the delayed edges' last values
    /// (under `delayed/<edge index>`): all a checkpoint needs of the brain.
    pub fn save(&self, out: &mut Snapshot) -> Result<()> {
        for n in &self.plan.order {
            let name = &self.plan.graph[*n].name;
            let mut region = Snapshot::default();
            self.regions[n].save(&mut region).map_err(|e| e.in_region(name))?;
            out.nest(&format!("regions/{name}"), region);
        }
        for (index, signal) in &self.delayed {
            out.put_signal(&format!("delayed/{index}"), signal);
        }
        Ok(())
    }

    /// Per region (schedule order), the bytes of memory one tick reads and writes: the region's
    /// own figure ([`Region::bytes_per_tick`]) or, by default, every array it saves read once
    /// and, while learning, written once. `None` for a region that can neither say nor be saved.
    pub fn traffic(&self) -> Vec<(String, Option<crate::regions::Traffic>)> {
        self.plan
            .order
            .iter()
            .map(|n| {
                let name = self.plan.graph[*n].name.clone();
                let region = &self.regions[n];
                let bytes = region.bytes_per_tick().or_else(|| {
                    let mut state = Snapshot::default();
                    region.save(&mut state).ok()?;
                    let (bytes, learning) = (state.array_bytes(), !self.frozen.contains(n));
                    Some(crate::regions::Traffic {
                        read: bytes,
                        written: if learning { bytes } else { 0 },
                    })
                });
                (name, bytes)
            })
            .collect()
    }

    /// Restores what [`Brain::save`] wrote into a brain built from the same model.
    pub fn restore(&mut self, from: &Snapshot) -> Result<()> {
        for n in &self.plan.order {
            let name = &self.plan.graph[*n].name;
            self.regions
                .get_mut(n)
                .expect("every scheduled node is a region")
                .restore(&from.scope(&format!("regions/{name}")))
                .map_err(|e| e.in_region(name))?;
        }
        for (index, signal) in self.delayed.iter_mut() {
            let shape = signal.to_host().dim();
            *signal = Signal::Host(from.host(&format!("delayed/{index}"), [shape.0, shape.1])?);
        }
        Ok(())
    }

    /// The first region (in schedule order) whose outputs of this tick are not finite, and the
    /// first such agent: the per-tick check, a few values per region. The region named is the
    /// one whose learnable state is not finite ([`Brain::first_divergent`]) when some region's
    /// is, else the first whose output is.
    pub fn divergent_output(&self) -> Option<(&str, usize)> {
        let at = self.plan.order.iter().find_map(|n| {
            let out = self.outputs.get(n)?;
            let agent = out.iter().find_map(|(_, s)| s.first_non_finite_row())?;
            Some((self.plan.graph[*n].name.as_str(), agent))
        })?;
        Some(self.first_divergent().unwrap_or(at))
    }

    /// The first region (in schedule order) whose learnable state is not finite, and the first
    /// agent in it that diverged.
    pub fn first_divergent(&self) -> Option<(&str, usize)> {
        self.plan.order.iter().find_map(|n| {
            self.regions[n]
                .divergent_agent()
                .map(|a| (self.plan.graph[*n].name.as_str(), a))
        })
    }
}
