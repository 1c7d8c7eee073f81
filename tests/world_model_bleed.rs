//! Does valence bleed survive prediction? `mere_exposure.toml` and `second_order.toml` with the
//! predictive world model (`models/*_world_model.toml`) in place of the skip-gram cortex.
//!
//! Measured (fixed seeds): with the world model, mere exposure does **not** produce geometric
//! bleed (the second-order TD route survives, weakened). A next-token model places a word by what follows it, so words that co-occur (`a b4`,
//! `b4 a`: each predicts the other) land apart, not together: cos(a, b4) < cos(a, b0), and the
//! valence of b_k falls with the dose instead of rising. The skip-gram cortex's `w + c` readout
//! keeps first-order co-occurrence in its geometry (tests/end_to_end.rs); a purely predictive
//! state does not. These tests hold that measured direction, so that a change to the world
//! model that restores (or deepens) the failure is seen; the README reports it as a failure of
//! the predicted phenomenon.

mod common;
use common::{last, median, run_rows, with_model};

#[test]
fn mere_exposure_with_a_world_model_separates_co_occurring_words_instead_of_bleeding() {
    let s = with_model("mere_exposure", "mere_exposure", "mere_exposure_world_model");
    let p = s.population;
    let rows = run_rows(&s);
    let doses: Vec<Vec<f32>> = (0..5).map(|k| last(&rows, "valence", &format!("b{k}"))).collect();
    let medians: Vec<f32> = doses.iter().map(|d| median(d.clone())).collect();
    let top_over_zero = (0..p).filter(|&i| doses[4][i] > doses[0][i]).count();
    let (near, far) = (
        median(last(&rows, "cosine", "a~b4")),
        median(last(&rows, "cosine", "a~b0")),
    );
    let a = median(last(&rows, "valence", "a"));
    eprintln!(
        "world model: median valence by dose {medians:?}; b4 > b0 in {top_over_zero}/{p} agents \
         (the skip-gram criterion is ≥ 90%); cos(a, b4) {near:.3}, cos(a, b0) {far:.3}; valence(a) {a:.3}"
    );
    // The rewarded concept is valued: conditioning worked.
    assert!(a > 0.05, "valence(a) {a}");
    // The measured failure: co-occurrence pushes apart, and the dose lowers valence.
    assert!(near < far, "cos(a, b4) {near} vs cos(a, b0) {far}");
    assert!(medians[4] < medians[0], "{medians:?}");
    assert!(top_over_zero * 2 < p, "b4 > b0 in {top_over_zero}/{p}");
}

/// `second_order.toml` with the world model: the two routes, reported apart. Geometric bleed
/// (γ = 0, after conditioning) is absent, as in mere exposure; the TD route (γ = 0.9, `b a`
/// sentences) moves value towards `b`, weakly: TD raises the value of the states in which `b`
/// is read in the stream, and the probe reads `b` from a fresh state, which is near them but
/// not at them.
#[test]
fn second_order_with_a_world_model_keeps_the_td_route_and_loses_the_geometric_one() {
    let s = with_model("second_order", "mere_exposure", "mere_exposure_world_model");
    let p = s.population;
    let rows = run_rows(&s);
    let at = |phase: &str, key: &str| -> Vec<f32> {
        let step = rows
            .iter()
            .filter(|r| r.phase == phase)
            .map(|r| r.step)
            .max()
            .unwrap();
        rows.iter()
            .filter(|r| r.phase == phase && r.probe == "valence" && r.key == key && r.step == step)
            .map(|r| r.value)
            .collect()
    };
    let route = |phase: &str| {
        let (b, c) = (at(phase, "b"), at(phase, "c"));
        let wins = b.iter().zip(&c).filter(|(b, c)| b > c).count();
        (median(b), median(c), wins)
    };
    let (geometric, td) = (route("conditioning"), route("second_order"));
    eprintln!(
        "world model — geometric route (γ = 0, conditioning): b {:.4}, c {:.4}, b > c in {}/{p}; \
         TD route (γ = 0.9): b {:.4}, c {:.4}, b > c in {}/{p}",
        geometric.0, geometric.1, geometric.2, td.0, td.1, td.2
    );
    assert!(
        td.0 - td.1 > geometric.0 - geometric.1 + 0.01 && td.2 > geometric.2,
        "TD should move value towards b: {td:?} after {geometric:?}"
    );
    assert!(
        geometric.2 * 4 <= p * 3,
        "no reliable geometric bleed was measured: {geometric:?}"
    );
}
