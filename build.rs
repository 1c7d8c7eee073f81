//! Turns every Rust notebook's code cells (`notebooks/*.ipynb`, evcxr kernel) into one Rust
//! function per notebook, `notebook_<stem>`, that `tests/notebooks.rs` compiles and runs against
//! the crate. Cells run in order in one scope, as in the kernel; evcxr commands (`:dep …`) are
//! dropped; `cell(i)` is called before cell i so that a runner can split the output per cell.

use std::fmt::Write;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=notebooks");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("notebooks.rs");
    let mut code = String::new();
    let mut paths: Vec<_> = std::fs::read_dir("notebooks")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.retain(|p| p.extension().is_some_and(|x| x == "ipynb"));
    paths.sort();
    for path in paths {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("notebook readable");
        let nb: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a JSON notebook: {e}", path.display()));
        // Python notebooks (the `valence` package's) are executed by scripts/test.sh instead.
        if nb["metadata"]["kernelspec"]["language"]
            .as_str()
            .is_some_and(|l| l != "rust")
        {
            continue;
        }
        let stem = path
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace(['-', ' ', '.'], "_");
        writeln!(
            code,
            "/// The code cells of `{}`.\n#[allow(unused, clippy::all)]\npub fn notebook_{stem}(cell: &mut dyn FnMut(usize)) -> Result<(), Box<dyn std::error::Error>> {{",
            path.display()
        )
        .unwrap();
        let cells = nb["cells"].as_array().expect("a notebook has cells");
        for (i, c) in cells.iter().enumerate().filter(|(_, c)| c["cell_type"] == "code") {
            let source: String = match &c["source"] {
                serde_json::Value::Array(lines) => lines.iter().filter_map(|l| l.as_str()).collect(),
                serde_json::Value::String(s) => s.clone(),
                _ => String::new(),
            };
            writeln!(code, "cell({i});").unwrap();
            for line in source.lines().filter(|l| !l.trim_start().starts_with(':')) {
                writeln!(code, "{line}").unwrap();
            }
            // A cell may end in an expression the kernel displays; here it becomes a statement.
            writeln!(code, ";").unwrap();
        }
        writeln!(code, "Ok(())\n}}").unwrap();
    }
    std::fs::write(&out, code).expect("OUT_DIR writable");
}
