//! One-shot memory (`scenarios/one_shot_memory.toml`, as shipped): with hippocampal recall, a
//! cue seen once with a reward is valued correctly at its next presentation; the same agents
//! with recall ablated are at chance; offline replay of the stored episodes moves part of that
//! knowledge into the reward model's own weights.

mod common;

use std::collections::BTreeMap;

use common::run_rows;

#[test]
fn recall_values_a_once_seen_cue_and_ablating_it_does_not() {
    let s = common::scenario("one_shot_memory");
    let rows = run_rows(&s);
    // Mean across agents of each phase's final accuracy and error.
    let mut last: BTreeMap<(&str, &str), (u64, Vec<f32>)> = BTreeMap::new();
    for r in &rows {
        let e = last
            .entry((r.phase.as_str(), r.probe.as_str()))
            .or_insert((r.step, Vec::new()));
        if r.step > e.0 {
            *e = (r.step, Vec::new());
        }
        e.1.push(r.value);
    }
    let mean = |phase: &str, probe: &str| {
        let v = &last[&(phase, probe)].1;
        assert!(v.iter().all(|x| x.is_finite()), "{phase} {probe}: {v:?}");
        v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64
    };
    let (acc, err) = (mean("one_shot", "accuracy"), mean("one_shot", "error"));
    let (acc_off, err_off) = (
        mean("one_shot_ablated", "accuracy"),
        mean("one_shot_ablated", "error"),
    );
    let acc_replay = mean("after_replay", "accuracy");
    eprintln!(
        "one-shot: accuracy {acc:.3}, |error| {err:.3}; recall ablated: {acc_off:.3}, {err_off:.3}; \
         after replay, recall ablated: {acc_replay:.3}"
    );
    assert!(
        acc >= 0.95 && err <= 0.3,
        "with recall: accuracy {acc:.3}, error {err:.3}"
    );
    assert!(
        (acc_off - 0.5).abs() < 0.1 && err_off >= 0.8,
        "recall ablated: accuracy {acc_off:.3}, error {err_off:.3}"
    );
    assert!(
        acc_replay > acc_off + 0.1,
        "replay: {acc_replay:.3} vs {acc_off:.3}"
    );
}
