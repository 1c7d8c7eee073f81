//! Every notebook's code cells, compiled and run against the crate (see `build.rs`), so that the
//! notebooks in `notebooks/` cannot rot. `scripts/notebook_outputs.py` uses the same run to save
//! each cell's output into the notebook.

include!(concat!(env!("OUT_DIR"), "/notebooks.rs"));

#[test]
fn valence_bleed_notebook_runs_and_draws_its_figures() {
    // Cells print `@@cell i@@` markers for the output saver.
    let mut cells = Vec::new();
    notebook_valence_bleed(&mut |i| {
        println!("@@cell {i}@@");
        cells.push(i);
    })
    .unwrap();
    println!("@@end@@");
    assert!(cells.len() >= 5, "code cells run: {cells:?}");
}
