#!/usr/bin/env bash
# Regenerates the README's gallery, assets/gallery/*.png, from the shipped scenarios and sweeps
# at their shipped sizes and seeds (about 7 minutes on 2 cores). Runs go to RUNS (default: a
# temporary directory); a scenario whose run in RUNS has finished (summary.json) is not rerun,
# only redrawn (`valence plot`).
#
#   bash scripts/gallery.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
bin=target/release/valence
runs=${1:-$(mktemp -d)}
gallery=assets/gallery
mkdir -p "$runs" "$gallery"

run() {  # run SCENARIO: runs scenarios/SCENARIO.toml into RUNS/SCENARIO, or redraws a finished run
    if [ -f "$runs/$1/summary.json" ]; then
        "$bin" plot "$runs/$1" >/dev/null
    else
        "$bin" run "scenarios/$1.toml" --out "$runs/$1" --quiet >/dev/null
    fi
}
# compare NAME SWEEP KEYS LABEL_A LABEL_B: the sweep's first run of seed 1 (as written) against
# its fourth (the ablation), under readable names.
compare() {
    local name=$1 sweep=$2 keys=$3
    [ -f "$runs/$name/run0003-seed1/summary.json" ] \
        || "$bin" sweep "sweeps/$sweep.toml" --out "$runs/$name" >/dev/null
    ln -sfn run0000-seed1 "$runs/$name/$4"
    ln -sfn run0003-seed1 "$runs/$name/$5"
    local args=("$runs/$name/$4" "$runs/$name/$5" --out "$runs/$name-compare")
    [ -z "$keys" ] || args+=(--keys "$keys")
    "$bin" compare "${args[@]}" >/dev/null
}

for s in mere_exposure propaganda ideology polysemy pavlovian meta_bandit two_step; do
    echo "gallery: $s"
    run "$s"
done
echo "gallery: cortical_override (with and without the cortical edge)"
compare override cortical_override_ablation "" "with edge" "edge ablated"
echo "gallery: sparse_reward (cortex learning vs frozen)"
compare sparse sparse_reward_ablation t1,t3 "cortex learning" "cortex frozen"
echo "gallery: values_outlast (the should loop, with and without)"
compare values values_outlast v,n "with the loop" "loop ablated"
echo "gallery: transmission (listening ablated vs always listening) and polarisation"
compare transmission transmission x "listening ablated" "always listening"
run polarisation
[ -f "$runs/polarisation-sweep/run0003-seed1/summary.json" ] \
    || "$bin" sweep sweeps/polarisation.toml --out "$runs/polarisation-sweep" >/dev/null
"$bin" merge sweeps/polarisation.toml --out "$runs/polarisation-sweep" >/dev/null
echo "gallery: harmony (with and without the partner's speech)"
[ -f "$runs/harmony/run0001-seed1/summary.json" ] \
    || "$bin" sweep sweeps/harmony.toml --out "$runs/harmony" >/dev/null
ln -sfn run0000-seed1 "$runs/harmony/with speech"
ln -sfn run0001-seed1 "$runs/harmony/speech ablated"
"$bin" compare "$runs/harmony/with speech" "$runs/harmony/speech ablated" --keys world.harmony \
    --out "$runs/harmony-compare" >/dev/null
echo "gallery: the conditioning battery"
"$bin" battery --out "$runs/battery" --quiet >/dev/null

cp "$runs/mere_exposure/plots/dose_valence.png" "$gallery/mere_exposure_dose.png"
cp "$runs/propaganda/plots/valence.png" "$gallery/propaganda_valence.png"
cp "$runs/ideology/plots/valence_correlation.png" "$gallery/ideology_correlation.png"
cp "$runs/polysemy/plots/bank.png" "$gallery/polysemy_bank.png"
cp "$runs/pavlovian/plots/rpe_transfer.png" "$gallery/pavlovian_rpe_transfer.png"
cp "$runs/meta_bandit/plots/regret_curves.png" "$gallery/meta_bandit_regret.png"
cp "$runs/two_step/plots/stay_probability.png" "$gallery/two_step_stay.png"
cp "$runs/override-compare/snake_value.png" "$gallery/cortical_override_snake.png"
cp "$runs/sparse-compare/valence.png" "$gallery/sparse_reward_valence.png"
cp "$runs/values-compare/valence.png" "$gallery/values_outlast.png"
cp "$runs/battery/battery.png" "$gallery/battery.png"
cp "$runs/transmission-compare/valence.png" "$gallery/transmission.png"
cp "$runs/polarisation/plots/polarisation.png" "$gallery/polarisation.png"
cp "$runs/polarisation/plots/valence_correlation.png" "$gallery/polarisation_correlation.png"
cp "$runs/polarisation-sweep/plots/sweep_polarisation_x.png" "$gallery/polarisation_contact.png"
cp "$runs/harmony/run0000-seed1/plots/harmony.png" "$gallery/harmony.png"
cp "$runs/harmony-compare/harmony.png" "$gallery/harmony_speech.png"
echo "gallery: $(ls "$gallery" | wc -l) figures in $gallery (runs in $runs)"
