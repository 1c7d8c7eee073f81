//! Polysemy (`scenarios/polysemy.toml`, 16 agents): `bank` is read among river words and among
//! money words equally often, and only the money sense is rewarded. A contextual cortex (the
//! world model) must value "money bank" above "river bank"; a word-vector cortex whose latent
//! is the word's vector (skip-gram, `context_decay = 0`) cannot: both phrases end at one point.
//! The skip-gram cortex with its context blend is reported beside (no criterion: the blend
//! carries the previous word, so it may separate the senses somewhat).

mod common;
use common::{median, run_rows, with_model};

/// Per agent: valence("money bank") − valence("river bank") at the end, and the perplexities.
fn run(model: &str) -> (Vec<f32>, Vec<(String, f32)>) {
    let rows = run_rows(&with_model("polysemy", "polysemy", model));
    let last = rows.iter().map(|r| r.step).max().unwrap();
    let at = |probe: &str, key: &str| -> Vec<f32> {
        let v: Vec<f32> = rows
            .iter()
            .filter(|r| r.probe == probe && r.key == key && r.step == last)
            .map(|r| r.value)
            .collect();
        v
    };
    let (money, river) = (at("bank", "money bank"), at("bank", "river bank"));
    assert_eq!((money.len(), river.len()), (16, 16));
    let gaps = money.iter().zip(&river).map(|(m, r)| m - r).collect();
    let perplexity = ["model", "bigram", "unigram"]
        .iter()
        .filter_map(|k| {
            let v = at("prediction", k);
            (!v.is_empty()).then(|| (k.to_string(), median(v)))
        })
        .collect();
    (gaps, perplexity)
}

#[test]
fn the_world_model_values_one_sense_of_a_word_and_a_word_vector_cannot() {
    let (gaps, perplexity) = run("polysemy");
    let separated = gaps.iter().filter(|&&g| g > 0.2).count();
    eprintln!(
        "world model: median valence(money bank) − valence(river bank) {:.3}, > 0.2 in {separated}/16 agents; \
         perplexity {perplexity:?}",
        median(gaps.clone())
    );
    assert!(separated >= 15, "{separated}/16 agents (≥ 90% needed)");
    let ppl = |k: &str| perplexity.iter().find(|(n, _)| n == k).unwrap().1;
    assert!(ppl("model") < ppl("bigram"), "{perplexity:?}");
    assert!(ppl("bigram") < ppl("unigram"), "{perplexity:?}");

    let (gaps, perplexity) = run("polysemy_sgns");
    eprintln!("skip-gram, context_decay = 0: gaps {gaps:?}");
    assert!(
        gaps.iter().all(|&g| g == 0.0),
        "one word form, one latent point: {gaps:?}"
    );
    assert!(
        perplexity.iter().all(|(k, _)| k != "model"),
        "skip-gram predicts nothing"
    );

    let (gaps, _) = run("polysemy_sgns_context");
    let separated = gaps.iter().filter(|&&g| g > 0.2).count();
    eprintln!(
        "skip-gram, context_decay = 0.5: median gap {:.3}, > 0.2 in {separated}/16 agents",
        median(gaps)
    );
}
