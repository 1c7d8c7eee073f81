#!/usr/bin/env python3
"""Saves each code cell's output into the notebooks, from the same run that tests/notebooks.rs
makes (the cells compiled against the crate), so the saved outputs are what the code printed.

    python3 scripts/notebook_outputs.py            # all notebooks/*.ipynb
"""
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def outputs_by_cell(stdout: str) -> dict:
    cells, current = {}, None
    for line in stdout.splitlines():
        m = re.search(r"@@cell (\d+)@@$", line)
        if m:
            current = int(m.group(1))
            cells[current] = []
        elif line == "@@end@@":
            current = None
        elif current is not None:
            cells[current].append(line)
    return cells


def to_outputs(lines: list) -> list:
    out, text = [], []
    i = 0
    while i < len(lines):
        m = re.fullmatch(r"EVCXR_BEGIN_CONTENT (\S+)", lines[i])
        if m:
            if text:
                out.append({"name": "stdout", "output_type": "stream", "text": [t + "\n" for t in text]})
                text = []
            end = lines.index("EVCXR_END_CONTENT", i)
            out.append({"data": {m.group(1): "".join(lines[i + 1:end])}, "metadata": {}, "output_type": "display_data"})
            i = end + 1
            continue
        text.append(lines[i])
        i += 1
    if text:
        out.append({"name": "stdout", "output_type": "stream", "text": [t + "\n" for t in text]})
    return out


def main() -> int:
    run = subprocess.run(
        ["cargo", "test", "--test", "notebooks", "--", "--nocapture", "--test-threads", "1"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if run.returncode != 0:
        sys.stderr.write(run.stdout + run.stderr)
        return run.returncode
    cells = outputs_by_cell(run.stdout)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        count = 0
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "code":
                count += 1
                cell["execution_count"] = count
                cell["outputs"] = to_outputs(cells.get(i, []))
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        print(f"{path.relative_to(ROOT)}: outputs of {count} code cells saved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
