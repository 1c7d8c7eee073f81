#!/usr/bin/env bash
# Benchmark (not a test): the sensory cortex's training throughput on WordNet glosses for
# P = 1 and P = 32 agents on the CPU device, and gensim's Word2Vec on the same sentences with
# the same parameters (dim 64, window 4, 5 negatives, sample 1e-3, one pass), in one run.
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
./target/release/valence bench --populations 1,32 --steps "$steps" --json runs/bench/cortex.json
echo "gensim Word2Vec (skip-gram), one pass over all glosses:"
python3 scripts/gensim_reference.py --workers 1 --json runs/bench/gensim_1.json
python3 scripts/gensim_reference.py --workers 2 --json runs/bench/gensim_2.json
