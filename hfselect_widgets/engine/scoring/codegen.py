"""Python code that recomputes a ranking with the public API ("Show code", reproducibility).

:func:`ranking_code` reads what a ranking records about how it was made: the machine-readable
pool and request that :meth:`RankingRequest.run <hfselect_widgets.engine.requests.RankingRequest.run>`
stores (``metadata["pool"]``: ``kind``, ``esm_dir``, ``repo_ids``, ``filters``, ``max_bytes``,
``model``; ``metadata["request"]``), the target dataset's metadata (Hub id, file, DataFrame or
the bundled demo target, with split, subset, columns, sample and seed) and the ranker. Rankings
made by :func:`compute_task_ranking` directly, or loaded from a file, carry less: their
``esm_dir``/``esm_repo_ids`` are used, else the ESMs they ranked are named. Parts that are not
recorded become commented placeholders; the code always compiles.

Pure Python, no front end: every front end (widgets, magic, CLI) can show the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.scoring.result import TaskRanking

DEFAULT_RANKER = "esm-logme"
"""The ranker ``compute_task_ranking`` uses unless told otherwise (not written out)."""


# --- formatting ------------------------------------------------------------------------------


def _same_path(a: Any, b: Any) -> bool:
    try:
        return Path(str(a)).resolve() == Path(str(b)).resolve()
    except (OSError, ValueError):
        return False


def _list_literal(items: Sequence[Any]) -> str:
    """A list of strings as Python source, one item per line when there are several."""
    items = [str(item) for item in items]
    if len(items) <= 2:
        return repr(items)
    return "[\n" + "".join(f"        {item!r},\n" for item in items) + "    ]"


def _call(target: str, positional: list[str], keywords: Mapping[str, str]) -> str:
    """``target(`` one argument per line ``)`` from already formatted Python expressions."""
    arguments = positional + [f"{name}={value}" for name, value in keywords.items()]
    if not arguments:
        return f"{target}()"
    body = "".join(f"    {argument},\n" for argument in arguments)
    return f"{target}(\n{body})"


def _filters_text(filters: Mapping[str, Any]) -> str:
    return ", ".join(f"{key} {value!r}" for key, value in filters.items())


# --- the target dataset ----------------------------------------------------------------------


def dataset_code(meta: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(names to import from ``hfselect_widgets.demo``, code lines) that rebuild the target
    dataset from ranking metadata."""
    from hfselect_widgets.demo import demo_target_path

    is_regression = meta.get("is_regression")
    dataset = dict(meta.get("dataset") or {})
    source = dataset.get("source")
    path = dataset.get("path")
    text_col = dataset.get("text_column") or "text"
    label_col = dataset.get("label_column") or "label"
    sample: dict[str, str] = {}
    if dataset.get("num_examples") is not None:
        sample["num_examples"] = repr(int(dataset["num_examples"]))
    seed = dataset.get("seed", meta.get("seed"))
    if seed is not None:
        sample["seed"] = repr(seed)
    columns = {"text_col": repr(text_col), "label_col": repr(label_col)}
    task = {} if is_regression is None else {"is_regression": repr(bool(is_regression))}

    if path and _same_path(path, demo_target_path()):
        if "seed" in dataset and seed is None:
            sample["seed"] = "None"  # load_demo_target's own default seed is 42
        call = _call("load_demo_target", [], sample)
        return ["load_demo_target"], [f"dataset = {call}"]
    if source == "file" or (path and source != "hub"):
        keywords = {**columns, **task, **sample}
        name = dataset.get("task_id")
        if name and path and name != Path(str(path)).name:
            keywords["name"] = repr(name)
        call = _call("Dataset.from_file", [repr(str(path or "<your file>"))], keywords)
        return [], [f"dataset = {call}"]
    if not dataset.get("task_id") and source != "pandas":
        return [], [
            "# This ranking does not record its target dataset: load yours here, e.g. with",
            "# Dataset.from_hugging_face(...), Dataset.from_file(...) or Dataset.from_pandas(...).",
            "dataset = ...",
        ]
    if source == "pandas":
        keywords = {**columns, **task, **sample}
        if dataset.get("task_id"):
            keywords["name"] = repr(dataset["task_id"])
        return [], [
            "# The ranking was made from a DataFrame: put that DataFrame here.",
            "df = ...",
            f"dataset = {_call('Dataset.from_pandas', ['df'], keywords)}",
        ]
    keywords = {"split": repr(dataset.get("task_split") or "train"), **columns, **task}
    if dataset.get("task_subset"):
        keywords["subset"] = repr(dataset["task_subset"])
    keywords.update(sample)
    if dataset.get("streamed"):
        keywords["streaming"] = "True"
    return [], [
        f"dataset = {_call('Dataset.from_hugging_face', [repr(dataset['task_id'])], keywords)}"
    ]


# --- the ESM pool ----------------------------------------------------------------------------


def recorded_pool(ranking: TaskRanking) -> dict[str, Any]:
    """The ranking's pool as ``metadata["pool"]`` describes it (``kind``, ``esm_dir``,
    ``repo_ids``, ``filters``, ``max_bytes``, ``model``).

    Rankings made without the request layer (or loaded from older files) have no such record:
    their ``esm_dir`` (``"demo"`` for the bundled collection) or ``esm_repo_ids`` (``"list"``)
    stand in, else the kind is ``"objects"`` (the ESMs were given as objects, or nothing about
    the pool was kept).
    """
    from hfselect_widgets.demo import demo_esm_dir
    from hfselect_widgets.engine.requests import POOL_KINDS

    meta = ranking.metadata or {}
    pool = meta.get("pool")
    if isinstance(pool, Mapping) and pool.get("kind") in POOL_KINDS:
        return dict(pool)
    recorded: dict[str, Any] = {"kind": "objects", "model": meta.get("model_name")}
    if meta.get("esm_dir") is not None:
        kind = "demo" if _same_path(meta["esm_dir"], demo_esm_dir()) else "folder"
        recorded.update(kind=kind, esm_dir=str(meta["esm_dir"]))
    elif meta.get("esm_repo_ids") is not None:
        recorded.update(kind="list", repo_ids=[str(r) for r in meta["esm_repo_ids"]])
    return recorded


def _pool_members(ranking: TaskRanking) -> list[str]:
    """The ESMs the ranking scored, then those it skipped (both as repo ids or folders)."""
    scored = [str(r) for r in ranking.repo_ids if r]
    return scored + [str(s) for s in ranking.failures if str(s) not in scored]


def esm_code(ranking: TaskRanking) -> tuple[list[str], dict[str, str], list[str]]:
    """(names to import from ``hfselect_widgets.demo``, ``compute_task_ranking`` keywords,
    comment lines) for the ESM pool of ``ranking``."""
    pool = recorded_pool(ranking)
    kind = pool["kind"]
    filters = pool.get("filters") or {}
    keywords: dict[str, str] = {}
    if pool.get("max_bytes") is not None:
        keywords["max_bytes"] = repr(int(pool["max_bytes"]))
    if filters and kind in ("demo", "folder", "hub"):
        # compute_task_ranking takes no filters: name the ESMs that passed them.
        where = {
            "demo": "the demo collection",
            "folder": f"the folder {pool.get('esm_dir')}",
            "hub": "the Hub",
        }[kind]
        members = _pool_members(ranking)
        comment = [f"# The ESMs of {where} that passed the filters ({_filters_text(filters)})."]
        return [], {"esm_repo_ids": _list_literal(members), **keywords}, comment
    if kind == "demo":
        return ["demo_esm_dir"], {"esm_dir": "demo_esm_dir()", **keywords}, []
    if kind == "folder":
        return [], {"esm_dir": repr(str(pool.get("esm_dir"))), **keywords}, []
    if kind == "hub":
        return (
            [],
            keywords,
            ["# Every ESM on the Hub for this base model (the pool may have grown)."],
        )
    if kind == "list" and pool.get("repo_ids"):
        return [], {"esm_repo_ids": _list_literal(pool["repo_ids"]), **keywords}, []
    # ESM objects, or a ranking loaded from a file: name the ESMs that were ranked.
    members = _pool_members(ranking)
    if not members:
        return (
            [],
            keywords,
            ["# The ESM pool is not recorded: this uses every Hub ESM for the model."],
        )
    return [], {"esm_repo_ids": _list_literal(members), **keywords}, ["# The ESMs ranked here."]


# --- the whole call --------------------------------------------------------------------------


def _model(ranking: TaskRanking, pool: Mapping[str, Any]) -> str:
    from hfselect_widgets.engine.model_ids import DEFAULT_HUB_MODEL

    meta = ranking.metadata or {}
    model = pool.get("model") or meta.get("model_name")
    if model:
        return str(model)
    # A ranking loaded from CSV has no metadata; its ESMs still name their base model.
    base_models = {c.base_model_name for c in ranking.esm_configs if c.base_model_name}
    return base_models.pop() if len(base_models) == 1 else DEFAULT_HUB_MODEL


def _run_keywords(meta: Mapping[str, Any]) -> dict[str, str]:
    """Keywords for how the ranking was scored: pooling, ranker, uncertainty."""
    keywords: dict[str, str] = {}
    request = meta.get("request")
    # The request records a pooling the user chose (None: the model's own); older rankings
    # record only the pooling used.
    pooling = request.get("pooling") if isinstance(request, Mapping) else meta.get("pooling")
    if pooling:
        keywords["pooling"] = repr(str(pooling))
    ranker = meta.get("ranker")
    if ranker and ranker != DEFAULT_RANKER:
        keywords["ranker"] = repr(str(ranker))
    uncertainty = meta.get("uncertainty")
    if isinstance(uncertainty, Mapping) and uncertainty.get("top_k"):
        keywords["uncertainty"] = repr(int(uncertainty["top_k"]))
        if uncertainty.get("resamples"):
            keywords["resamples"] = repr(int(uncertainty["resamples"]))
    return keywords


def ranking_code(ranking: TaskRanking) -> str:
    """Python code that recomputes ``ranking`` with hfselect_widgets' public API.

    Built from ``ranking.metadata`` (see the module's description): the target dataset, the
    base model, the ESM pool by kind (``demo``: ``esm_dir=demo_esm_dir()``; ``folder``:
    ``esm_dir``; ``hub``: the model's Hub ESMs; ``list``/``objects`` and filtered pools:
    ``esm_repo_ids``), the download cap, and the pooling, ranker and uncertainty. Parts the
    metadata does not record are left as commented placeholders.
    """
    meta = ranking.metadata or {}
    demo_names, dataset_lines = dataset_code(meta)
    esm_demo_names, esm_keywords, esm_comments = esm_code(ranking)
    uses_dataset = any("Dataset." in line for line in dataset_lines)
    imports = [
        "from hfselect_widgets import "
        + ("Dataset, compute_task_ranking" if uses_dataset else "compute_task_ranking")
    ]
    if demo_names or esm_demo_names:
        imports.append(
            "from hfselect_widgets.demo import " + ", ".join(sorted(demo_names + esm_demo_names))
        )
    keywords = {
        "model_name": repr(_model(ranking, recorded_pool(ranking))),
        **esm_keywords,
        **_run_keywords(meta),
    }
    lines = imports + [""] + dataset_lines + esm_comments
    lines.append(f"ranking = {_call('compute_task_ranking', ['dataset'], keywords)}")
    lines.append("ranking")
    return "\n".join(lines) + "\n"


__all__ = ["dataset_code", "esm_code", "ranking_code", "recorded_pool"]
