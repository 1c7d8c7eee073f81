#!/usr/bin/env bash
# Benchmark (not a test): the sensory cortex's training throughput on WordNet glosses for
# P = 1, 4, 32 and 1024 agents on the CPU device (P ≥ 2: two threads, the cortex's helper, on
# a two-core machine; rayon for P ≥ 16 on more cores), and gensim's Word2Vec on the same
# sentences with the same parameters (dim 64, window 4, 5 negatives, sample 1e-3, one pass),
# in one run; prints each as a ratio to gensim with one worker and to P = 1 (#22's targets:
# P = 1 ≥ 1.2× gensim per core, P = 32 ≥ 1.6× P = 1). P = 32 and 1024 are timed twice: each
# agent drawing its own noise tokens (the default) and with `shared_negatives` (one draw a tick
# for the population, the tables interleaved by word); both are ratios to P = 1 with its own
# draws. BIG=0 skips P = 1024 (14 GB of tables).
# WGPU=1 also builds the `wgpu` feature and times the tick update (`update = "tick"`) with the
# tables on the device at P = 1, 32 and 1024 (#22's fifth target: ≥ 10⁷ agent-tokens/s at
# P = 1024 on a GPU), beside the same update on the CPU's host tables.
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
./target/release/valence bench --populations ${SHARED:-32} --steps "$steps" --shared-negatives --json runs/bench/cortex_shared.json
# P = 1024 (14 GB of tables on WordNet) on fewer tokens: its ratio is to P = 1 above.
big=${BIG:-1024}
if [ "$big" != 0 ]; then
    ./target/release/valence bench --populations "$big" --steps ${BIG_STEPS:-20000} --json runs/bench/cortex_big.json
    ./target/release/valence bench --populations "$big" --steps ${BIG_STEPS:-20000} --shared-negatives \
        --json runs/bench/cortex_big_shared.json
fi
if [ "${WGPU:-0}" = 1 ]; then
    echo "the tick update: host tables (CPU), then device tables (wgpu):"
    ./target/release/valence bench --update tick --populations 1,32 --steps "$steps"
    cargo build --release --quiet --features wgpu
    XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}" ./target/release/valence bench --device wgpu \
        --update tick --populations 1,32,1024 --steps ${WGPU_STEPS:-20000} --json runs/bench/cortex_wgpu.json
    cargo build --release --quiet  # back to the CPU build the rest of this script runs
fi
echo "gensim Word2Vec (skip-gram), one pass over all glosses:"
python3 scripts/gensim_reference.py --workers 1 --json runs/bench/gensim_1.json
python3 scripts/gensim_reference.py --workers 2 --json runs/bench/gensim_2.json
[ "$big" = 0 ] && rm -f runs/bench/cortex_big.json runs/bench/cortex_big_shared.json
python3 - runs/bench/cortex.json runs/bench/gensim_1.json runs/bench/gensim_2.json <<'PY'
import json, os, sys
cortex = [(f, "") for f in json.load(open(sys.argv[1]))]
for path, label in [("runs/bench/cortex_shared.json", ", shared noise"), ("runs/bench/cortex_big.json", ""),
                    ("runs/bench/cortex_big_shared.json", ", shared noise")]:
    if os.path.exists(path):
        cortex += [(f, label) for f in json.load(open(path))]
g1, g2 = (json.load(open(p))["tokens_per_s"] for p in sys.argv[2:4])
p1 = cortex[0][0]["agent_tokens_per_s"]
print(f"{'trainer':<38} {'agent-tokens/s':>15} {'÷ gensim, 1 worker':>19} {'÷ P = ' + str(cortex[0][0]['population']):>9}")
for f, label in cortex:
    r = f['agent_tokens_per_s']
    name = 'valence cortex, P = ' + str(f['population']) + label
    print(f"{name:<38} {r:>15,.0f} {r / g1:>18.2f}× {r / p1:>8.2f}×")
print(f"{'gensim Word2Vec, 1 worker':<38} {g1:>15,.0f} {1:>18.2f}×")
print(f"{'gensim Word2Vec, 2 workers':<38} {g2:>15,.0f} {g2 / g1:>18.2f}×")
PY
