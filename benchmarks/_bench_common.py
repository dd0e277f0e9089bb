"""Helpers shared by the benchmark workers.

Stdlib and NumPy only: the same file runs in our virtualenv and in the hf-dataset-selector one.
Every worker is started as ``python _worker_*.py JOB.json RESULT.json``: it reads its job,
does one measurement and writes one JSON result, so that each side's peak memory is its own.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def read_job() -> tuple[dict[str, Any], Path]:
    """The job given on the command line and the path to write the result to."""
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {Path(sys.argv[0]).name} JOB.json RESULT.json")
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    return job, Path(sys.argv[2])


def write_result(path: Path, result: dict[str, Any]) -> None:
    result.setdefault("python", platform.python_version())
    result["memory"] = memory_mb()
    result["memory"].update(result.pop("memory_marks", {}))
    path.write_text(json.dumps(result, indent=1), encoding="utf-8")


def _proc_status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def memory_mb() -> dict[str, float | None]:
    """Peak and current resident memory of this process, in MiB.

    ``peak_rss_mb`` is ``VmHWM`` (the high-water mark of this process's own address space).
    ``getrusage().ru_maxrss`` is reported too but not used: on Linux it keeps the peak of the
    *parent's* address space across ``fork``/``exec``, so a child started by a large parent
    reports at least the parent's peak.
    """
    hwm = _proc_status_kb("VmHWM")
    rss = _proc_status_kb("VmRSS")
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "peak_rss_mb": round((hwm if hwm is not None else maxrss_kb) / 1024, 1),
        "rss_mb": None if rss is None else round(rss / 1024, 1),
        "ru_maxrss_mb": round(maxrss_kb / 1024, 1),
    }


def current_rss_mb() -> float | None:
    rss = _proc_status_kb("VmRSS")
    return None if rss is None else round(rss / 1024, 1)


def pin_torch_threads(threads: int) -> None:
    """Intra-op threads of torch; BLAS/OpenMP pools are pinned by the parent's environment."""
    import torch

    torch.set_num_threads(threads)


@contextmanager
def stopwatch(times: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to ``times[name]`` (seconds)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        times[name] = times.get(name, 0.0) + time.perf_counter() - start


def packages(names: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            module = __import__(name)
        except ImportError:
            continue
        found[name] = str(getattr(module, "__version__", "?"))
    return found


def threads_in_use() -> dict[str, Any]:
    """What the BLAS/OpenMP pools were actually set to (threadpoolctl, when installed)."""
    info: dict[str, Any] = {
        key: os.environ.get(key) for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    }
    try:
        import torch

        info["torch"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["pools"] = sorted(
            {f"{p.get('internal_api')}:{p.get('num_threads')}" for p in threadpool_info()}
        )
    except ImportError:
        pass
    return info
