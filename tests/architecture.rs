//! The crate's structure, checked: its top-level modules import each other without cycles (the
//! layers of `docs/DESIGN.md`: error, signal, ports, vocabulary, rng, checkpoint, device,
//! analysis, metrics and registry at the bottom; regions, worlds and plot; brain; probes; scenario;
//! experiment; sweep and bench; the CLI), read from `crate::X` paths in the sources as
//! `../shared/tools/modcycles.py` reads them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → the files it is made of.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut mods = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            let mut files = Vec::new();
            walk(&path, &mut files);
            mods.insert(name, files);
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            mods.insert(name, vec![path]);
        }
    }
    mods
}

/// The identifiers after `crate::` (and inside `crate::{…}`) in a source text, unit tests cut.
fn imports(text: &str) -> BTreeSet<String> {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        if i > 0 && text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // `valence_crate::`, not `crate::`
        }
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for part in group.split(',') {
                out.insert(ident(part.trim()));
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out
}

/// Every cycle (strongly connected component of two or more modules) of the import graph.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Two modules share a component when each reaches the other.
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(m) = stack.pop() {
            for t in &edges[&m] {
                if seen.insert(t.clone()) {
                    stack.push(t.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = edges.keys().map(|m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in edges.keys() {
        if done.contains(m) {
            continue;
        }
        let component: Vec<String> = edges
            .keys()
            .filter(|o| *o == m || (reaches[m].contains(*o) && reaches[o].contains(m)))
            .cloned()
            .collect();
        done.extend(component.iter().cloned());
        if component.len() > 1 {
            out.push(component);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    let mut edges = BTreeMap::new();
    for (m, files) in &mods {
        let mut to = BTreeSet::new();
        for f in files {
            let text = std::fs::read_to_string(f).unwrap();
            to.extend(
                imports(&text)
                    .into_iter()
                    .filter(|t| t != m && mods.contains_key(t)),
            );
        }
        edges.insert(m.clone(), to);
    }
    edges
}

#[test]
fn top_level_modules_import_each_other_without_cycles() {
    let edges = graph();
    assert!(edges.len() >= 10, "found only {:?}", edges.keys());
    let found = cycles(&edges);
    let explain: Vec<String> = found
        .iter()
        .map(|c| {
            let within: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    edges[a]
                        .iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            format!("{} ({})", c.join(" "), within.join("; "))
        })
        .collect();
    assert!(
        found.is_empty(),
        "import cycles among top-level modules: {explain:#?}"
    );
}

#[test]
fn the_bottom_layer_imports_nothing_above_it() {
    let edges = graph();
    let bottom = [
        "error",
        "signal",
        "rng",
        "vocabulary",
        "ports",
        "metrics",
        "checkpoint",
        "device",
        "analysis",
        "registry",
    ];
    for m in bottom {
        let Some(to) = edges.get(m) else {
            panic!("no top-level module `{m}`")
        };
        let above: Vec<&String> = to.iter().filter(|t| !bottom.contains(&t.as_str())).collect();
        assert!(above.is_empty(), "`{m}` imports {above:?}, which sit above it");
    }
}

#[test]
fn the_cycle_check_finds_a_planted_cycle() {
    // The check itself can fail: a → b → c → a is one cycle, d stands apart.
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")] {
        edges.entry(a.into()).or_default().insert(b.into());
        edges.entry(b.into()).or_default();
    }
    assert_eq!(
        cycles(&edges),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
    assert_eq!(
        imports("use crate::{brain::Brain, error::Result};\nlet x = crate::plot::f();"),
        ["brain", "error", "plot"].map(String::from).into()
    );
}
