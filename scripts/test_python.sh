#!/usr/bin/env bash
# The Python package's tests (part of scripts/test.sh; run it alone after `cargo test`):
# builds `python/` into a virtual environment with what its tests use, then runs pytest and
# executes the quick-start notebook.
#
# `pip install ./python` builds the Rust core in release; here MATURIN_PEP517_ARGS selects the
# dev profile instead, whose compiled crates `cargo test` has just built (same features: see
# python/Cargo.toml), so only the bindings compile.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=$(realpath -m "${VALENCE_VENV:-target/venv}")
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
export PATH="$VENV/bin:$PATH"   # maturin, for pip's build
"$VENV/bin/pip" install -q --disable-pip-version-check \
    maturin numpy pandas tqdm pytest matplotlib nbclient nbformat ipykernel
MATURIN_PEP517_ARGS="--profile dev" "$VENV/bin/pip" install -q --disable-pip-version-check \
    --no-build-isolation --force-reinstall --no-deps ./python
"$VENV/bin/python" -c "import valence, sys; print('valence', valence.__version__, 'for Python', sys.version.split()[0])"

# The CLI comparisons run the binary `cargo test` built.
VALENCE_BIN=${VALENCE_BIN:-$PWD/target/debug/valence} "$VENV/bin/python" -m pytest -q python/tests

# The notebook, executed into a temporary copy (the saved one keeps the outputs it was committed
# with; `scripts/run_python_notebook.py --save` rewrites them).
out=$(mktemp -d)
VALENCE_NOTEBOOK_OUT="$out" "$VENV/bin/python" scripts/run_python_notebook.py \
    notebooks/quickstart_python.ipynb --to "$out/quickstart_python.ipynb"
rm -rf "$out"
