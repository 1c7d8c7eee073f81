#!/usr/bin/env python3
"""Executes a Python notebook (nbclient) from the repository root's `notebooks/` folder and
fails on the first cell that raises.

    python scripts/run_python_notebook.py notebooks/quickstart_python.ipynb --to /tmp/out.ipynb
    python scripts/run_python_notebook.py notebooks/quickstart_python.ipynb --save   # in place
"""

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebook", type=Path)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", type=Path, help="write the executed notebook here")
    where.add_argument("--save", action="store_true", help="write the outputs into the notebook itself")
    ap.add_argument("--timeout", type=int, default=600, help="seconds a cell may take")
    args = ap.parse_args()

    nb = nbformat.read(args.notebook, as_version=4)
    client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(args.notebook.parent)}})
    start = time.time()
    try:
        client.execute()
    except CellExecutionError as e:
        print(f"{args.notebook}: a cell failed:\n{e}", file=sys.stderr)
        return 1
    target = args.notebook if args.save else args.to
    nbformat.write(nb, target)
    cells = sum(c.cell_type == "code" for c in nb.cells)
    print(f"{args.notebook}: {cells} code cells ran in {time.time() - start:.0f} s → {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
