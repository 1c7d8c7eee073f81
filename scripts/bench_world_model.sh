#!/usr/bin/env bash
# Benchmark (not a test): the world model's training throughput on WordNet glosses (dim 64,
# embed 32, bptt 8, 5 noise tokens) — agent-tokens/s, bytes per agent and the share of time in
# the forward step, the predictions and the window updates — on the CPU device, and with
# `--wgpu` also on the wgpu device (a GPU machine; a release build with the `wgpu` feature takes
# ~11 minutes). Populations: POPULATIONS (CPU, default 1,4,32) and GPU_POPULATIONS (default
# 1,32,1024). JSON under runs/bench/. Installs wordnet-base (apt) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f /usr/share/wordnet/data.noun ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null
fi
mkdir -p runs/bench
steps=${STEPS:-20000}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [ "${1:-}" = "--wgpu" ]; then
    cargo build --release --quiet --features wgpu
    ./target/release/valence bench --world-model --populations "${POPULATIONS:-1,4,32}" --steps "$steps" \
        --json runs/bench/world_model_cpu.json
    ./target/release/valence bench --world-model --device wgpu --populations "${GPU_POPULATIONS:-1,32,1024}" \
        --steps "$steps" --json runs/bench/world_model_wgpu.json
else
    cargo build --release --quiet
    ./target/release/valence bench --world-model --populations "${POPULATIONS:-1,4,32}" --steps "$steps" \
        --json runs/bench/world_model_cpu.json
fi
