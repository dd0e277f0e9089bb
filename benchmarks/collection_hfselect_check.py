#!/usr/bin/env python
"""Do the ESMs of a built collection load in hf-dataset-selector 0.2.1, with our outputs?

For every ESM folder under DIR (``build-collection --out DIR``): ``hfselect.ESM.from_pretrained``
loads it, and its output on random embeddings is compared with our engine's
(``load_esm_parts``: ``x W^T + b``). Needs an interpreter that imports both ``hfselect`` and
``hfselect_widgets``, e.g. our venv with hf-dataset-selector on ``PYTHONPATH``::

    pip install --no-deps --target /tmp/hfsel hf-dataset-selector==0.2.1 numba llvmlite
    PYTHONPATH=/tmp/hfsel .venv/bin/python benchmarks/collection_hfselect_check.py DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", help="the collection's folder (build-collection --out)")
    parser.add_argument("--output", default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    import hfselect
    from hfselect import ESM as HfselectESM

    from hfselect_widgets.engine.esm.format import load_esm_parts

    rows = []
    for folder in sorted(p.parent for p in Path(args.out_dir).glob("*/config.json")):
        row = {"name": folder.name}
        try:
            theirs = HfselectESM.from_pretrained(str(folder))
            config, weight, bias = load_esm_parts(folder)
            x = torch.randn(16, weight.shape[0], generator=torch.Generator().manual_seed(0))
            with torch.no_grad():
                diff = (theirs(x) - torch.nn.functional.linear(x, weight, bias)).abs().max()
            row.update(loads=True, task_id=config.task_id, max_abs_diff=float(diff))
        except Exception as exc:  # report every folder
            row.update(loads=False, error=f"{type(exc).__name__}: {exc}")
        rows.append(row)
        print(json.dumps(row), flush=True)
    ok = sum(r["loads"] and r["max_abs_diff"] == 0.0 for r in rows)
    print(f"{ok} of {len(rows)} ESMs load in hfselect {hfselect.__version__} with our outputs")
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
