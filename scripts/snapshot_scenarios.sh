#!/usr/bin/env bash
# Runs every shipped scenario (scenarios/*.toml, as shipped: full size, their own seeds) with a
# release build and writes OUT/<scenario>/ plus OUT/hashes.txt: the sha256 of each run's
# metrics.csv, scenario.toml and summary.json and the list of its plots. For refactors that
# must not change behaviour: snapshot before and after, then `diff before/hashes.txt
# after/hashes.txt` (a refactor keeps every shipped scenario's metrics.csv byte-identical).
#
#   bash scripts/snapshot_scenarios.sh OUT [SCENARIO.toml ...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: snapshot_scenarios.sh OUT [SCENARIO.toml ...]}
shift
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(scenarios/*.toml)
bin=${VALENCE_BIN:-target/release/valence}  # VALENCE_BIN: an earlier build, copied aside
[ -n "${VALENCE_BIN:-}" ] || cargo build --release --locked --quiet
mkdir -p "$out"
: > "$out/hashes.txt"
for f in "${files[@]}"; do
    name=$(basename "$f" .toml)
    start=$(date +%s)
    rm -rf "${out:?}/$name"
    "$bin" run "$f" --out "$out/$name" --quiet >"$out/$name.log" 2>&1 \
        || { echo "$name: run failed (see $out/$name.log)"; echo "$name FAILED" >> "$out/hashes.txt"; continue; }
    for file in metrics.csv scenario.toml summary.json; do
        echo "$name $file $(sha256sum < "$out/$name/$file" | cut -c1-16)" >> "$out/hashes.txt"
    done
    echo "$name plots $(cd "$out/$name/plots" && ls | tr '\n' ' ')" >> "$out/hashes.txt"
    echo "$name: $(( $(date +%s) - start )) s"
done
