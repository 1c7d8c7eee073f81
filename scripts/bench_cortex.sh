#!/usr/bin/env bash
# Benchmark (not a test): the sensory cortex's training throughput on WordNet glosses for
# P = 1, 4 and 32 agents on the CPU device (P = 4: two threads, the cortex's helper; P = 32:
# rayon), and gensim's Word2Vec on the same sentences with the same parameters (dim 64,
# window 4, 5 negatives, sample 1e-3, one pass), in one run; prints each as a ratio to gensim
# with one worker (per core: #22's target is P = 1 ≥ 1.2×).
# Installs wordnet-base (apt) and gensim + vaderSentiment (pip) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f /usr/share/wordnet/data.noun ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null
fi
python3 -c 'import gensim, vaderSentiment, scipy' 2>/dev/null || python3 -m pip install -q gensim vaderSentiment
mkdir -p runs/bench
cargo build --release --quiet
steps=${STEPS:-300000}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
./target/release/valence bench --populations ${POPULATIONS:-1,4,32} --steps "$steps" --json runs/bench/cortex.json
echo "gensim Word2Vec (skip-gram), one pass over all glosses:"
python3 scripts/gensim_reference.py --workers 1 --json runs/bench/gensim_1.json
python3 scripts/gensim_reference.py --workers 2 --json runs/bench/gensim_2.json
python3 - runs/bench/cortex.json runs/bench/gensim_1.json runs/bench/gensim_2.json <<'PY'
import json, sys
cortex = json.load(open(sys.argv[1]))
g1, g2 = (json.load(open(p))["tokens_per_s"] for p in sys.argv[2:4])
print(f"{'trainer':<34} {'agent-tokens/s':>15} {'÷ gensim, 1 worker':>19}")
for f in cortex:
    print(f"{'valence cortex, P = ' + str(f['population']):<34} {f['agent_tokens_per_s']:>15,.0f} {f['agent_tokens_per_s'] / g1:>18.2f}×")
print(f"{'gensim Word2Vec, 1 worker':<34} {g1:>15,.0f} {1:>18.2f}×")
print(f"{'gensim Word2Vec, 2 workers':<34} {g2:>15,.0f} {g2 / g1:>18.2f}×")
PY
