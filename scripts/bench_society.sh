#!/usr/bin/env bash
# Benchmark (not a test): does routing words between agents cost a society its speed? #19's
# bound: a society of P = 1024 runs at ≥ 50% of the agent-ticks/s of 1024 independent agents of
# the same model. Both are scenarios/transmission.toml's words and rewards: the society with 32
# groups of 32, every listener hearing its speaker (contact 0.5) or another group's (0.1), the
# speakers evaluating `x` from their reward model's value (models/society.toml); the independent
# agents read the same grammar alone (world `corpus`, models/conditioning.toml: the same regions
# without the edge into the world). Each is timed by `valence bench --brain` (TICKS ticks,
# default 400; best of RUNS, default 3); prints both and the ratio, exits 1 below 0.5.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=${RUNS:-3}
ticks=${TICKS:-400}
sed -e "s#\"\.\./models/#\"$PWD/models/#" -e 's/^groups = 2$/groups = 32/' \
    -e 's/^window = 8$/window = 8\ncontact = 0.5\nbetween = 0.1/' \
    scenarios/transmission.toml > "$work/society.toml"
# The independent agents: the base world as a corpus (no groups, no speech), no society phases.
python3 - "$work" <<'PY'
import re, sys
work = sys.argv[1]
s = open(f"{work}/society.toml").read()
s = s.replace("models/society.toml", "models/conditioning.toml")
s = re.sub(r'kind = "society"\n(?:\w+ = [^\n]*\n)*', 'kind = "corpus"\n', s, count=1)
s = re.sub(r"\[world\.speech\]\n(?:\w+ = [^\n]*\n)*", "", s)
s = s[: s.index("[[phases]]")] + '[[phases]]\nname = "only"\nsteps = 1\n'
open(f"{work}/independent.toml", "w").write(s)
PY
rate() { # best agent-ticks/s of P = 1024 over $runs runs
    local b=0
    for _ in $(seq "$runs"); do
        local r
        r=$(./target/release/valence bench --brain --scenario "$1" --populations 1024 --ticks "$ticks" 2>/dev/null \
            | awk '$1 == 1024 && $3 ~ /^[0-9]+$/ { print $(NF-1); exit }')
        if [ "$(echo "$r > $b" | bc)" = 1 ]; then b=$r; fi
    done
    echo "$b"
}
independent=$(rate "$work/independent.toml")
society=$(rate "$work/society.toml")
ratio=$(echo "scale=3; $society / $independent" | bc)
printf 'P = 1024, %s ticks, best of %s: independent %s agent-ticks/s, society %s → %s×\n' \
    "$ticks" "$runs" "$independent" "$society" "$ratio"
[ "$(echo "$ratio >= 0.5" | bc)" = 1 ] || { echo "below #19's bound (0.5×)" >&2; exit 1; }
