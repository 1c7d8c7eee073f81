#!/usr/bin/env bash
# Benchmark (not a test): real language at full size, valence beside gensim on the same tokens
# and the very same splits.
#
# 1. Runs scenarios/real_language_large.toml (every installable corpus; the reward model
#    conditioned on Warriner's norms, split seeds 0–3, one per agent; scored against Warriner,
#    VADER and labMT). Its checkpoint at the end of the childhood is the parent of:
# 2. forks (`valence run --fork`, ~25 s each): the same cortex conditioned on each set of norms in
#    turn — Warriner, labMT, VADER — with split seeds 0–3 and 4–7 (eight splits per set);
# 3. gensim's Word2Vec trained once on the same token stream (`valence corpus --dump`), same
#    parameters, as many epochs as the cortex made passes, and scored by the norms probe's
#    protocol on valence's own splits (`valence corpus --splits`; scripts/gensim_reference.py);
# 4. prints held-out Spearman ρ, mean over the eight splits, side by side, and the wall-clock
#    times.
#
# WORDNET_ONLY=1: the same with the cortex reading WordNet's glosses alone (≈ 31 passes).
# SCENARIO=… runs another corpora scenario; OUT=… another folder.
# Installs the data (scripts/install_data.sh) and gensim when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_data.sh
python3 -c 'import gensim, scipy' 2>/dev/null || python3 -m pip install -q gensim
scenario=${SCENARIO:-scenarios/real_language_large.toml}
wordnet_only=${WORDNET_ONLY:-0}
default_out=runs/bench/real_language_large
[ "$wordnet_only" = 1 ] && default_out=runs/bench/real_language_wordnet
out=${OUT:-$default_out}
mkdir -p "$out/variants"
cargo build --release --quiet
valence=./target/release/valence
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

# Each conditioning: the scenario with another lexicon and split seed (its model path made
# absolute; the `norms` probe scores the other two sets beside it; WORDNET_ONLY: one source).
variant() { # NORMS SPLIT_SEED -> path of the variant scenario
    python3 - "$scenario" "$1" "$2" "$out/variants/$1-$2.toml" "$wordnet_only" <<'PY'
import os, re, sys
src, norms, seed, dst, wordnet_only = sys.argv[1:]
text = open(src, encoding="utf-8").read()
base = os.path.dirname(os.path.abspath(src))
text = re.sub(r'(?m)^model = "(?!/)([^"]+)"', lambda m: f'model = "{os.path.normpath(os.path.join(base, m.group(1)))}"', text)
text = re.sub(r'(?m)^norms = "\w+".*$', f'norms = "{norms}"', text, count=1)
text = re.sub(r'(?m)^split_seed = \d+', f'split_seed = {seed}', text, count=1)
others = [s for s in ["warriner", "vader", "labmt"] if s != norms]
text = re.sub(r'(?m)^also = \[.*\]', "also = [" + ", ".join(f'"{s}"' for s in others) + "]", text, count=1)
if wordnet_only == "1":
    text, n = re.subn(r'(?ms)^sources = \[.*?^\]', 'sources = [{ kind = "wordnet" }]', text, count=1)
    if n != 1:
        sys.exit(f"{src}: no `sources = [ … ]` block to reduce to WordNet")
open(dst, "w", encoding="utf-8").write(text)
print(dst)
PY
}

# The parent: conditioned on Warriner, split seeds 0–3; its checkpoint ends the childhood.
parent=$(variant warriner 0)
$valence corpus "$parent" --dump "$out/stream.txt" | tail -1
start=$(date +%s)
$valence run "$parent" --out "$out/warriner-0" --quiet >/dev/null
valence_s=$(( $(date +%s) - start ))
forks_s=0
splits=()
for norms in warriner labmt vader; do
    for seed in 0 4; do
        v=$(variant $norms $seed)
        $valence corpus "$v" --splits "$out/variants/$norms-$seed.json" >/dev/null
        splits+=("$out/variants/$norms-$seed.json")
        [ "$norms-$seed" = warriner-0 ] && continue
        start=$(date +%s)
        $valence run "$v" --fork "$out/warriner-0" --out "$out/$norms-$seed" --quiet >/dev/null
        forks_s=$(( forks_s + $(date +%s) - start ))
    done
done
# Passes the cortex made over the mix: its childhood ticks over the tokens of one pass.
passes=$(python3 - "$out/warriner-0/scenario.toml" "$out/stream.txt" <<'PY'
import sys, tomllib
steps = tomllib.load(open(sys.argv[1], "rb"))["phases"][0]["steps"]
tokens = sum(len(l.split()) + 1 for l in open(sys.argv[2], encoding="utf-8"))
print(max(1, round(steps / tokens)))
PY
)
start=$(date +%s)
python3 scripts/gensim_reference.py --sentences "$out/stream.txt" --epochs "$passes" --workers 1 \
    --condition warriner,labmt,vader --splits "$(IFS=,; echo "${splits[*]}")" --json "$out/gensim.json" >/dev/null
gensim_s=$(( $(date +%s) - start ))
python3 - "$out" "$valence_s" "$forks_s" "$gensim_s" "$passes" <<'PY'
import csv, json, statistics, sys
out, valence_s, forks_s, gensim_s, passes = sys.argv[1:]
g = json.load(open(f"{out}/gensim.json"))["by_condition"]
def readings(run):
    rows = [r for r in csv.DictReader(open(f"{out}/{run}/metrics.csv")) if r["probe"] == "norms"]
    final = rows[-1]["phase"]  # the last conditioning phase (η at its lowest)
    last = max(int(r["step"]) for r in rows if r["phase"] == final)
    return [r for r in rows if r["phase"] == final and int(r["step"]) == last]
print(f"held-out Spearman rho, mean over 8 splits (split seeds 0-7; gensim on the same words;"
      f" input + output vectors, {passes} epochs)")
print(f"{'conditioned on':<15} {'scored on':<10} {'reward model':>13} {'(min, max)':>16} {'ridge':>7} {'shuffled':>9} {'gensim+ridge':>13}")
for cond in ["warriner", "labmt", "vader"]:
    rows = readings(f"{cond}-0") + readings(f"{cond}-4")
    for name in [cond] + [s for s in ["warriner", "labmt", "vader"] if s != cond]:
        prefix = "" if name == cond else name + "/"
        v = {k: [float(r["value"]) for r in rows if r["key"] == prefix + k] for k in ["model", "ridge", "shuffled"]}
        m = v["model"]
        print(f"{cond:<15} {name:<10} {statistics.mean(m):>13.3f} ({min(m):.3f}, {max(m):.3f}) "
              f"{statistics.mean(v['ridge']):>7.3f} {statistics.mean(v['shuffled']):>+9.3f} {g[cond]['sum'][name]['mean']:>13.3f}")
print("(scored on another set: the reward model conditioned on one set, read on the words of the other it was"
      " never given; ridge and gensim fitted to that other set's own ratings of the conditioning words)")
print(f"wall clock: valence {valence_s} s (the parent, 4 agents), forks {forks_s} s (5), gensim {gensim_s} s (1 model, 1 worker)")
PY
