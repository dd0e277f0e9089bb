"""Build an ESM collection on Ray: one task per dataset of a manifest, resumable, with retries.

:func:`build_collection` reads a :class:`~.manifest.Manifest`, and for every dataset whose ESM
folder under ``out_dir`` is not already a finished, loadable ESM for the base model it submits
one Ray task (with its CPU and GPU needs declared) that runs :func:`train_esm` there: fine-tune,
embed, fit, write the folder atomically. Finished folders are skipped, so a build that was
killed resumes where it stopped; a half-written ESM never exists (``train_esm`` writes through a
staging folder). A task that fails is retried (``retries`` times) unless the failure lies in the
data or the manifest (a missing file or column, bad labels), which no retry can fix; every
attempt's reason is recorded. Ray itself re-runs a task whose worker process died.

The summary, ``collection_summary.json`` in ``out_dir``, is rewritten after every dataset: what
was built, skipped or failed (with the reasons), how well each fine-tune learned (the ESM
config's ``lm_learned``, validation metric against the majority / mean baseline, the fit's R²
and ``training_warnings``), and, with ``publish``, where each ESM was published (through
:func:`~hfselect_widgets.engine.hub.publish.publish_esm` and its safety checks).

``ray.init()`` starts a local Ray instance unless Ray is already running in this process;
``address`` joins a cluster (``"ray://head:10001"`` or ``"auto"``). On a cluster, local data
files and ``out_dir`` must be on storage the workers share.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfselect_widgets.engine._io import json_safe, write_json
from hfselect_widgets.engine.distributed.manifest import Manifest, ManifestEntry
from hfselect_widgets.errors import DatasetError, HfselectWidgetsError, TrainingConfigError

SUMMARY_NAME = "collection_summary.json"
"""The summary manifest written into the output folder."""

BUILT, SKIPPED, FAILED = "built", "skipped", "failed"

QUALITY_KEYS = (
    "lm_learned",
    "lm_val_metric",
    "lm_val_value",
    "lm_val_baseline",
    "lm_val_rows",
    "lm_num_steps",
    "lm_final_loss",
    "esm_fit_holdout_r2",
    "esm_fit_method",
    "num_train_examples",
    "training_warnings",
    "training_seconds",
)
"""The ESM config keys copied into the summary: how well the fine-tune and the fit went."""

EventCallback = Callable[[str, Mapping[str, Any]], None]
"""``on_event(kind, record)``: kinds ``"skipped"``, ``"submitted"``, ``"retry"``, ``"built"``,
``"failed"``, ``"published"``."""


@dataclass
class BuildOptions:
    """How each ESM of a collection is trained (the defaults are :func:`train_esm`'s).

    Attributes:
        rows: rows sampled from every dataset, overriding the manifest's ``rows`` (``None``:
            the manifest's, else every row).
        epochs, learning_rate, train_batch_size, min_steps, max_epochs: fine-tuning (see
            :class:`~hfselect_widgets.engine.training.finetune.FineTuneConfig`).
        fit: the ESM fit (``"hfselect"`` or ``"least_squares"``).
        device: where each task trains (``"auto"``: CUDA when the task got a GPU).
        developers, language: recorded in every config (an entry's ``language`` wins).
    """

    rows: int | None = None
    epochs: int = 3
    learning_rate: float = 2e-5
    train_batch_size: int = 32
    min_steps: int = 150
    max_epochs: int = 10
    fit: str = "hfselect"
    device: str = "auto"
    developers: str | None = None
    language: str | None = None

    def finetune_config(self, seed: int):
        from hfselect_widgets.engine.training.finetune import FineTuneConfig

        return FineTuneConfig(
            num_epochs=self.epochs,
            learning_rate=self.learning_rate,
            batch_size=self.train_batch_size,
            min_steps=self.min_steps,
            max_epochs=max(self.epochs, self.max_epochs),
            seed=seed,
        )


@dataclass
class DatasetRecord:
    """The outcome for one manifest entry (one row of the summary)."""

    name: str
    source: str
    status: str
    folder: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    seconds: float | None = None
    quality: dict[str, Any] = field(default_factory=dict)
    published: str | None = None
    publish_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return json_safe(dict(vars(self)))


@dataclass
class CollectionSummary:
    """What :func:`build_collection` did, dataset by dataset (also in ``collection_summary.json``)."""

    base_model: str
    out_dir: Path
    records: list[DatasetRecord]
    started_at: float
    finished_at: float | None = None
    ray: dict[str, Any] = field(default_factory=dict)

    def by_status(self, status: str) -> list[DatasetRecord]:
        return [r for r in self.records if r.status == status]

    @property
    def built(self) -> list[DatasetRecord]:
        return self.by_status(BUILT)

    @property
    def skipped(self) -> list[DatasetRecord]:
        return self.by_status(SKIPPED)

    @property
    def failed(self) -> list[DatasetRecord]:
        return self.by_status(FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_model": self.base_model,
            "out_dir": str(self.out_dir),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "counts": {s: len(self.by_status(s)) for s in (BUILT, SKIPPED, FAILED)},
            "pending": len(self.by_status("pending")),
            "ray": self.ray,
            "datasets": [r.to_dict() for r in self.records],
        }

    def save(self) -> Path:
        path = self.out_dir / SUMMARY_NAME
        write_json(path, self.to_dict(), indent=2)
        return path


def finished_esm_config(folder: str | os.PathLike, base_model: str | None = None):
    """The config of the finished, loadable ESM in ``folder`` (for ``base_model``), else ``None``.

    Loadable means what ranking needs: a valid config and finite square weights of the config's
    dimension (:func:`~hfselect_widgets.engine.esm.format.load_esm_parts`).
    """
    from hfselect_widgets.engine.esm.format import load_esm_parts
    from hfselect_widgets.engine.model_ids import same_model

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        return None
    try:
        config, _, _ = load_esm_parts(folder)
    except Exception:
        return None
    if base_model is not None and not same_model(config.base_model_name, base_model):
        return None
    return config


def quality_of(config) -> dict[str, Any]:
    """The :data:`QUALITY_KEYS` of an ESM config (training quality numbers)."""
    return {key: json_safe(config.get(key)) for key in QUALITY_KEYS}


def is_retryable(error_type: str) -> bool:
    """Whether a failure of this error type could pass on another attempt.

    Errors in the data or the manifest (dataset, column, label and training-config errors) are
    deterministic; anything else (out of memory, a lost worker, a network hiccup) is retried.
    """
    return error_type not in _deterministic_names()


def _all_subclasses(cls) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def _deterministic_names() -> set[str]:
    names = {"ManifestError", "OutputExistsError"}
    for base in (DatasetError, TrainingConfigError):
        names.add(base.__name__)
        names.update(sub.__name__ for sub in _all_subclasses(base))
    return names


# --- the task ----------------------------------------------------------------------------------


def train_one(
    entry: dict[str, Any],
    base_model: str,
    folder: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    """Train the ESM of one manifest entry into ``folder`` (runs inside a Ray task).

    Returns ``{"ok": True, "quality": ..., "seconds": ...}`` or ``{"ok": False, "error_type":
    ..., "reason": ...}``: exceptions do not cross into Ray, so the reason stays readable.
    """
    import warnings

    from hfselect_widgets.engine.training import TrainingQualityWarning, train_esm

    started = time.perf_counter()
    spec = ManifestEntry(**entry)
    opts = BuildOptions(**options)
    try:
        dataset = spec.target_request(opts.rows).load()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrainingQualityWarning)
            trained = train_esm(
                dataset,
                base_model,
                folder,
                fit=opts.fit,
                finetune=opts.finetune_config(spec.seed),
                overwrite=True,  # only reached when the folder holds no finished ESM
                task_id=spec.recorded_task_id,
                developers=opts.developers,
                language=spec.language or opts.language,
                device=opts.device,
            )
        return {
            "ok": True,
            "quality": quality_of(trained.config),
            "seconds": round(time.perf_counter() - started, 3),
            "host": os.uname().nodename,
        }
    except Exception as exc:  # reported, not raised: the driver decides about retries
        reason = exc.render() if isinstance(exc, HfselectWidgetsError) else f"{exc}"
        return {
            "ok": False,
            "error_type": type(exc).__name__,
            "reason": reason or type(exc).__name__,
            "traceback": traceback.format_exc(limit=6),
            "seconds": round(time.perf_counter() - started, 3),
            "host": os.uname().nodename,
        }


# --- Ray -------------------------------------------------------------------------------------


def ensure_ray(address: str | None = None, num_cpus: int | None = None, **init_kwargs: Any):
    """Start Ray (local by default, ``address`` for a cluster) unless it is running; return it.

    A local instance gets ``num_cpus`` (default: the cores of this machine) and no dashboard.
    """
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise HfselectWidgetsError(
            "Ray is not installed: pip install 'hfselect-widgets[ray]'."
        ) from exc
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = {"log_to_driver": False, **init_kwargs}
    if address:
        ray.init(address=address, **kwargs)
    else:
        kwargs.setdefault("include_dashboard", False)
        ray.init(num_cpus=num_cpus or _available_cpus(), **kwargs)
    return ray


def _available_cpus() -> int:
    """The cores this process may use (its CPU affinity, where the platform tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _remote_train(ray, cpus: float, gpus: float, max_retries: int):
    return ray.remote(train_one).options(
        num_cpus=cpus, num_gpus=gpus, max_retries=max_retries, name="train_esm"
    )


def build_collection(
    manifest: Manifest,
    base_model: str,
    out_dir: str | os.PathLike,
    *,
    options: BuildOptions | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_task: float = 1,
    gpus_per_task: float = 0,
    retries: int = 1,
    publish: str | None = None,
    publish_private: bool = False,
    hf_api: Any = None,
    on_event: EventCallback | None = None,
    ray_init_kwargs: Mapping[str, Any] | None = None,
) -> CollectionSummary:
    """Train an ESM for every dataset of ``manifest`` on Ray; return the summary.

    Args:
        manifest: the datasets (:func:`~.manifest.load_manifest`).
        base_model: the base model's Hub id (or a folder every worker can read).
        out_dir: one ESM folder per entry (``out_dir/<name>``) and ``collection_summary.json``.
        options: how to train (:class:`BuildOptions`).
        address: a Ray cluster to join; ``None`` starts Ray locally (if not running).
        num_cpus: CPUs of a local Ray instance (default: this machine's).
        cpus_per_task, gpus_per_task: what each training task declares to Ray's scheduler
            (use ``gpus_per_task=1`` on GPU nodes).
        retries: further attempts of a failed task (data and manifest errors are not retried).
        publish: a Hub namespace: every finished ESM is published as
            ``<publish>/esm-<name>`` (``publish_esm``: the existing checks, ``exist_ok=True``,
            an ESM already in the repo is never overwritten). ``None`` publishes nothing.
        hf_api: an ``HfApi``-like object for publishing (tests pass a fake).
        on_event: ``on_event(kind, record_dict)`` as datasets are skipped, built or fail.
        ray_init_kwargs: extra ``ray.init`` arguments (e.g. ``object_store_memory``).
    """
    options = options or BuildOptions()
    out = Path(os.path.expanduser(str(out_dir)))
    out.mkdir(parents=True, exist_ok=True)
    summary = CollectionSummary(base_model, out, [], started_at=time.time())

    def emit(kind: str, record: DatasetRecord) -> None:
        summary.save()
        if on_event is not None:
            on_event(kind, record.to_dict())

    previously_published = _published_before(out)
    todo: list[tuple[ManifestEntry, DatasetRecord]] = []
    for entry in manifest:
        folder = out / entry.name
        record = DatasetRecord(entry.name, entry.source, "pending", str(folder))
        summary.records.append(record)
        config = finished_esm_config(folder, base_model)
        if config is not None:
            record.status = SKIPPED
            record.reason = "a finished ESM is already in the folder"
            record.quality = quality_of(config)
            record.published = previously_published.get(entry.name)
        else:
            todo.append((entry, record))
    for record in summary.skipped:
        emit(SKIPPED, record)

    if todo:
        ray = ensure_ray(address, num_cpus, **dict(ray_init_kwargs or {}))
        resources = ray.cluster_resources()
        summary.ray = {
            "address": address or "local",
            "cpus": resources.get("CPU"),
            "gpus": resources.get("GPU", 0),
            "cpus_per_task": cpus_per_task,
            "gpus_per_task": gpus_per_task,
        }
        remote = _remote_train(ray, cpus_per_task, gpus_per_task, max_retries=max(0, retries))
        opts = json_safe(vars(options))
        pending: dict[Any, tuple[ManifestEntry, DatasetRecord]] = {}

        def submit(entry: ManifestEntry, record: DatasetRecord) -> None:
            ref = remote.remote(entry.to_dict(), base_model, record.folder, opts)
            pending[ref] = (entry, record)

        for entry, record in todo:
            submit(entry, record)
            if on_event is not None:
                on_event("submitted", record.to_dict())
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            entry, record = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as exc:  # the worker died (after Ray's own retries) or Ray failed
                result = {
                    "ok": False,
                    "error_type": type(exc).__name__,
                    "reason": f"{exc} (after Ray's {retries} retries of the task)",
                    "ray_retried": True,
                }
            attempt = {
                key: result.get(key) for key in ("ok", "error_type", "reason", "seconds", "host")
            }
            record.attempts.append({k: v for k, v in attempt.items() if v is not None})
            if result.get("ok"):
                record.status = BUILT
                record.reason = None
                record.quality = result.get("quality") or {}
                record.seconds = result.get("seconds")
                emit(BUILT, record)
                continue
            error_type = str(result.get("error_type"))
            record.reason = f"{error_type}: {result.get('reason')}"
            retry = is_retryable(error_type) and not result.get("ray_retried")
            if retry and len(record.attempts) <= retries:
                if on_event is not None:
                    on_event("retry", record.to_dict())
                submit(entry, record)
                continue
            record.status = FAILED
            if not is_retryable(error_type):
                record.reason += " (not retried: the data or the manifest must change)"
            emit(FAILED, record)

    if publish:
        for record in summary.records:
            if record.status in (BUILT, SKIPPED) and not record.published:
                _publish(record, publish, publish_private, hf_api)
                emit("published", record)
    summary.finished_at = time.time()
    summary.save()
    return summary


def _published_before(out: Path) -> dict[str, str]:
    import json

    try:
        data = json.loads((out / SUMMARY_NAME).read_text(encoding="utf-8"))
        return {d["name"]: d["published"] for d in data.get("datasets", []) if d.get("published")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _publish(record: DatasetRecord, namespace: str, private: bool, hf_api: Any) -> None:
    from hfselect_widgets.engine.hub.publish import publish_esm

    repo_id = f"{namespace.strip('/')}/esm-{record.name}"
    try:
        result = publish_esm(record.folder, repo_id, private=private, exist_ok=True, hf_api=hf_api)
    except HfselectWidgetsError as exc:
        record.publish_error = exc.render()
        return
    except Exception as exc:  # one failed upload never loses the others
        record.publish_error = f"{type(exc).__name__}: {exc}"
        return
    record.published = result.repo_id
    record.publish_error = None


__all__ = [
    "BUILT",
    "FAILED",
    "SKIPPED",
    "SUMMARY_NAME",
    "BuildOptions",
    "CollectionSummary",
    "DatasetRecord",
    "build_collection",
    "ensure_ray",
    "finished_esm_config",
    "quality_of",
    "train_one",
]
