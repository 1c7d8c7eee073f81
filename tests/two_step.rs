//! The two-step task (Daw et al. 2011; Wang et al. 2018; `scenarios/two_step.toml` at reduced
//! size): a PFC meta-trained by model-free A2C shows the model-based signature with frozen
//! weights — after a reward it repeats its first choice more when the transition was common
//! than when it was rare, and the reward × transition interaction is positive.

mod common;

use std::collections::BTreeMap;

use common::run_rows;

#[test]
fn meta_trained_pfc_shows_the_model_based_stay_signature() {
    let mut s = common::scenario("two_step");
    // CI size: 120 k meta-training ticks (600 episodes of 100 trials per agent) instead of 200 k.
    s.phases[0].steps = 120_000;
    assert!(s.phases[1].freeze.iter().any(|r| r == "pfc"));
    let rows = run_rows(&s);
    let last = rows.iter().map(|r| r.step).max().unwrap();
    // Mean across agents of each agent's stay probability over the test phase.
    let mut sums: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.phase == "test" && r.step == last) {
        assert!(
            r.value.is_finite(),
            "agent {} never met a `{}` trial",
            r.agent,
            r.probe
        );
        let e = sums.entry(r.probe.as_str()).or_default();
        e.0 += f64::from(r.value);
        e.1 += 1;
    }
    let stay = |k: &str| sums[k].0 / sums[k].1 as f64;
    let (rc, rr) = (stay("stay_rewarded_common"), stay("stay_rewarded_rare"));
    let (uc, ur) = (stay("stay_unrewarded_common"), stay("stay_unrewarded_rare"));
    eprintln!(
        "stay probability over {} agents: rewarded common {rc:.3}, rewarded rare {rr:.3}, \
         unrewarded common {uc:.3}, unrewarded rare {ur:.3}",
        sums["stay_rewarded_common"].1
    );
    assert!(rc - rr > 0.1, "rewarded: common {rc:.3} vs rare {rr:.3}");
    let interaction = (rc - rr) - (uc - ur);
    assert!(
        interaction > 0.0,
        "reward × transition interaction {interaction:.3}"
    );
}
