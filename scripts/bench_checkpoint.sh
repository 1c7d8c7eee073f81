#!/usr/bin/env bash
# Benchmark (not a test): what checkpoints and metrics writing cost a run. The pavlovian
# scenario (16 agents, 21,000 steps, two probes every step: 26 MB of metrics.csv) runs plain and
# with `checkpoint_every` = 1000, 100 and 20; each time is the best of RUNS (default 3), and the
# ratio to the plain run is printed. Exits 1 if `checkpoint_every = 100` costs more than 1.5× the
# plain run (#17's bound). Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=${RUNS:-3}
sed "s#\"\.\./models/#\"$PWD/models/#" scenarios/pavlovian.toml > "$work/plain.toml"
best() { # best wall time in seconds of `valence run $1`, over $runs runs
    local b=
    for _ in $(seq "$runs"); do
        rm -rf "$work/out"
        local s=$(date +%s.%N)
        ./target/release/valence run --quiet --out "$work/out" "$1" >/dev/null 2>"$work/err" \
            || { cat "$work/err" >&2; exit 2; }
        local t=$(echo "$(date +%s.%N) - $s" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}
plain=$(best "$work/plain.toml")
printf '%-22s %8.2f s\n' "plain" "$plain"
status=0
for every in 1000 100 20; do
    sed "s/^population = 16/population = 16\ncheckpoint_every = $every/" "$work/plain.toml" > "$work/c$every.toml"
    t=$(best "$work/c$every.toml")
    ratio=$(echo "scale=3; $t / $plain" | bc)
    printf '%-22s %8.2f s  %5.2f× plain\n' "checkpoint_every=$every" "$t" "$ratio"
    if [ "$every" = 100 ] && [ "$(echo "$ratio > 1.5" | bc)" = 1 ]; then status=1; fi
done
[ "$status" = 0 ] || echo "checkpoint_every = 100 costs more than 1.5× a plain run" >&2
exit "$status"
