#!/usr/bin/env bash
# Benchmark (not a test): real language at full size, valence beside gensim on the same tokens.
# Runs scenarios/real_language_large.toml (every installable corpus, the reward model conditioned
# on Warriner's norms, scored against Warriner, VADER and labMT), writes the same token stream
# (`valence corpus --dump`) and trains gensim's Word2Vec on it with the same parameters for as
# many epochs as the cortex makes passes, scored by the same protocol (scripts/gensim_reference.py
# --condition warriner --also vader,labmt, mean over as many split seeds as the scenario has
# agents), then prints both side by side with their wall-clock times. SCENARIO=… runs another corpora scenario (e.g. a sweep's).
# Installs the data (scripts/install_data.sh) and gensim when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_data.sh
python3 -c 'import gensim, scipy' 2>/dev/null || python3 -m pip install -q gensim
scenario=${SCENARIO:-scenarios/real_language_large.toml}
out=runs/bench/real_language_large
mkdir -p runs/bench
cargo build --release --quiet
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
./target/release/valence corpus "$scenario" --dump runs/bench/large_stream.txt
start=$(date +%s)
./target/release/valence run "$scenario" --out "$out" --quiet
valence_s=$(( $(date +%s) - start ))
# Passes the cortex made over the mix: its childhood ticks over the tokens of one pass.
passes=$(python3 - "$out/scenario.toml" runs/bench/large_stream.txt <<'PY'
import sys, tomllib
steps = tomllib.load(open(sys.argv[1], "rb"))["phases"][0]["steps"]
tokens = sum(len(l.split()) + 1 for l in open(sys.argv[2], encoding="utf-8"))
print(max(1, round(steps / tokens)))
PY
)
# One split seed per agent (the scenario's `split_per_agent`): gensim is scored on the same splits.
agents=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb")).get("population", 1))' "$out/scenario.toml")
start=$(date +%s)
python3 scripts/gensim_reference.py --sentences runs/bench/large_stream.txt --epochs "$passes" --workers 1 \
    --condition warriner --also vader,labmt --split-seeds "$agents" --json runs/bench/gensim_large.json >/dev/null
gensim_s=$(( $(date +%s) - start ))
python3 - "$out/metrics.csv" runs/bench/gensim_large.json "$valence_s" "$gensim_s" "$passes" "$agents" <<'PY'
import csv, json, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["probe"] == "norms"]
final = rows[-1]["phase"]  # the last conditioning phase (η at its lowest)
rows = [r for r in rows if r["phase"] == final]
last = max(int(r["step"]) for r in rows)
def mean_over_agents(key):
    v = [float(r["value"]) for r in rows if r["key"] == key and int(r["step"]) == last]
    return statistics.mean(v), len(v)
g = json.load(open(sys.argv[2]))["rho"]["sum"]
print(f"held-out Spearman rho, conditioned on Warriner (valence: mean over agents, each its own split;"
      f" gensim: mean over split seeds 0-{int(sys.argv[6]) - 1}, input + output vectors, {sys.argv[5]} epochs)")
print(f"{'norms':<10} {'reward model':>13} {'ridge':>8} {'shuffled':>9} {'gensim+ridge':>13}")
for name, prefix in [("warriner", ""), ("vader", "vader/"), ("labmt", "labmt/")]:
    (m, n), (r, _), (s, _) = mean_over_agents(prefix + "model"), mean_over_agents(prefix + "ridge"), mean_over_agents(prefix + "shuffled")
    print(f"{name:<10} {m:>13.3f} {r:>8.3f} {s:>9.3f} {g[name]['mean']:>13.3f}")
print(f"wall clock: valence {sys.argv[3]} s ({n} agents), gensim {sys.argv[4]} s (1 model, 1 worker)")
PY
