"""Embedding pairs: a dataset embedded by the base model (``x``) and by a fine-tuned model (``y``).

An ESM is fitted to map ``x`` to ``y``. :class:`EmbeddingDataset` is a drop-in for hfselect's
class of the same name (``x``, ``y``, ``metadata``, ``embedding_dim``, ``num_rows``, ``save``,
``from_disk``, a torch ``Dataset`` of ``(x_i, y_i)`` rows) with two differences:

* :meth:`EmbeddingDataset.save` writes the metadata as a JSON string, never as a pickle, and
  writes the file atomically;
* :meth:`EmbeddingDataset.from_disk` reads our files and hfselect's, but hfselect pickles its
  metadata, and a pickle can run code: such files load only with ``allow_pickle=True``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from hfselect_widgets.engine._io import atomic_write, to_json
from hfselect_widgets.engine.embedding.model import BaseModel, embed_texts, wrap_base_model
from hfselect_widgets.engine.progress import STAGE_EMBEDDING, CancelToken, ProgressCallback
from hfselect_widgets.engine.training.finetune import FineTuneResult
from hfselect_widgets.errors import EmbeddingDatasetError, PickledMetadataError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from hfselect_widgets.engine.data.dataset import Dataset

EMBEDDING_DATASET_FORMAT = "hfselect_widgets.embedding_dataset/1"
"""Stored in our ``.npz`` files beside ``x``, ``y`` and ``metadata`` (hfselect ignores it)."""


def _as_matrix(values: Any, name: str) -> np.ndarray:
    """``values`` (array, tensor or list of row blocks) as a float32 (N, D) array."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    elif isinstance(values, list) and values and not np.isscalar(values[0]):
        values = np.vstack([v.detach().cpu().numpy() if torch.is_tensor(v) else v for v in values])
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 2:
        raise EmbeddingDatasetError(
            f"The {name} embeddings must be a 2-D array (rows x dimensions), "
            f"got shape {array.shape}."
        )
    return np.ascontiguousarray(array)


class EmbeddingDataset(TorchDataset):
    """Pairs of base (``x``) and fine-tuned (``y``) embeddings of the same texts.

    Attributes:
        x: float32 array (N, D), the texts embedded by the base model.
        y: float32 array (N, D), the same texts embedded by the fine-tuned model.
        metadata: a dict forwarded to the config of an ESM trained on these pairs (hfselect's
            keys ``base_model_name``, ``task_id``, ...).
        embedding_dim: D.
        num_rows: N (also ``len(dataset)``).

    ``dataset[i]`` is the row pair ``(x[i], y[i])`` (numpy rows, as hfselect); a slice or an
    index array gives a new :class:`EmbeddingDataset` with the same metadata.
    """

    def __init__(
        self,
        x: np.ndarray | torch.Tensor | Sequence[np.ndarray],
        y: np.ndarray | torch.Tensor | Sequence[np.ndarray],
        metadata: Mapping[str, Any] | None = None,
    ):
        """Wrap two embedding matrices of equal shape. Raises :class:`EmbeddingDatasetError`."""
        self.x = _as_matrix(x, "base")
        self.y = _as_matrix(y, "fine-tuned")
        if len(self.x) != len(self.y):
            raise EmbeddingDatasetError(
                f"The number of base and fine-tuned embeddings differs: "
                f"{len(self.x)} != {len(self.y)}."
            )
        if self.x.shape[1] != self.y.shape[1]:
            raise EmbeddingDatasetError(
                f"The dimension of base and fine-tuned embeddings differs: "
                f"{self.x.shape[1]} != {self.y.shape[1]}."
            )
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.embedding_dim = int(self.x.shape[1])
        self.num_rows = int(len(self.x))

    def __len__(self) -> int:
        return self.num_rows

    def __getitem__(self, index: int | slice | Iterable[int]):
        if isinstance(index, (int, np.integer)):
            return self.x[index], self.y[index]
        if not isinstance(index, slice):
            index = np.asarray(list(index) if not isinstance(index, np.ndarray) else index)
        return EmbeddingDataset(self.x[index], self.y[index], metadata=self.metadata)

    def __repr__(self) -> str:
        task = self.metadata.get("task_id") or "unnamed"
        return f"EmbeddingDataset({task}, {self.num_rows} rows, dim={self.embedding_dim})"

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` as float32 CPU tensors (sharing memory with the arrays)."""
        return torch.from_numpy(self.x), torch.from_numpy(self.y)

    # -- files ----------------------------------------------------------------------------

    def save(self, filepath: str | os.PathLike) -> Path:
        """Write ``x``, ``y`` and the metadata (as JSON) to a ``.npz`` file, atomically.

        Like ``numpy.savez``, ``.npz`` is appended to a path that does not end with it; the path
        written is returned. The metadata must be JSON-serialisable (numpy scalars are
        converted; other objects are stored as their ``str``).
        """
        path = Path(filepath)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        metadata_json = to_json(self.metadata, sort_keys=True)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            x=self.x,
            y=self.y,
            metadata=np.array(metadata_json),  # a unicode scalar: loads without pickle
            format=np.array(EMBEDDING_DATASET_FORMAT),
        )
        atomic_write(path, buffer.getvalue())
        return path

    @classmethod
    def from_disk(cls, filepath: str | os.PathLike, allow_pickle: bool = False) -> EmbeddingDataset:
        """Load an embedding dataset saved by us or by hf-dataset-selector.

        hfselect stores the metadata as a pickled dict; reading it needs ``allow_pickle=True``,
        which you should pass only for files you trust (a pickle can run arbitrary code).

        Raises:
            EmbeddingDatasetError: missing file, not an ``.npz``, no ``x``/``y`` arrays,
                unreadable metadata. :class:`PickledMetadataError` (a subclass) when the
                metadata is a pickle and ``allow_pickle`` is false.
        """
        path = Path(filepath)
        if not path.is_file():
            raise EmbeddingDatasetError(f"There is no embedding dataset file at {str(path)!r}.")
        try:
            archive = np.load(path, allow_pickle=allow_pickle)
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise EmbeddingDatasetError(
                f"{str(path)!r} is not a readable .npz embedding dataset ({error})."
            ) from error
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise EmbeddingDatasetError(
                f"{str(path)!r} holds a single array, not an .npz archive with 'x' and 'y'."
            )
        with archive:
            missing = [key for key in ("x", "y") if key not in archive.files]
            if missing:
                raise EmbeddingDatasetError(
                    f"{str(path)!r} has no array {missing[0]!r}; an embedding dataset holds "
                    f"'x', 'y' and 'metadata' (found: {', '.join(archive.files) or 'nothing'})."
                )
            try:
                x, y = archive["x"], archive["y"]
            except ValueError as error:  # object arrays need pickle
                if not allow_pickle:
                    raise PickledMetadataError(str(path)) from error
                raise EmbeddingDatasetError(f"Cannot read {str(path)!r}: {error}") from error
            metadata = _read_metadata(archive, path, allow_pickle)
        return cls(x, y, metadata=metadata)


def _read_metadata(archive: Any, path: Path, allow_pickle: bool) -> dict[str, Any]:
    if "metadata" not in archive.files:
        return {}
    try:
        stored = archive["metadata"]
    except ValueError as error:  # numpy: "Object arrays cannot be loaded when allow_pickle=False"
        if not allow_pickle:
            raise PickledMetadataError(str(path)) from error
        raise EmbeddingDatasetError(
            f"Cannot read the metadata of {str(path)!r}: {error}"
        ) from error
    value = stored.item() if stored.ndim == 0 else stored.tolist()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise EmbeddingDatasetError(
                f"The metadata of {str(path)!r} is not valid JSON ({error})."
            ) from error
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EmbeddingDatasetError(
            f"The metadata of {str(path)!r} is a {type(value).__name__}, not a dict."
        )
    return dict(value)


# --- building embedding pairs ----------------------------------------------------------------


def _offset_progress(
    progress: ProgressCallback | None, offset: int, total: int
) -> ProgressCallback | None:
    """A callback that reports one embedding pass as part of two (done shifted by ``offset``)."""
    if progress is None:
        return None

    def forward(stage: str, done: int, _total: int | None) -> None:
        progress(stage, offset + done, total)

    return forward


def as_tuned_base_model(
    tuned_model: Any, base_model: BaseModel, device: torch.device | None = None
) -> BaseModel:
    """A :class:`BaseModel` for a fine-tuned encoder, pooled and tokenized like ``base_model``.

    ``tuned_model`` is a :class:`BaseModel` (returned as it is), a :class:`FineTuneResult`, or a
    transformers encoder (e.g. hfselect users' ``BertModel`` loaded from a fine-tuned
    checkpoint). The fine-tuned model must be embedded by the base model's rule: an ESM maps
    base embeddings to fine-tuned embeddings of the *same* kind.
    """
    if isinstance(tuned_model, BaseModel):
        return tuned_model
    if isinstance(tuned_model, FineTuneResult):
        return tuned_model.encoder
    device = device or base_model.device
    tuned_model.to(device)
    tuned_model.eval()
    return BaseModel(
        model=tuned_model,
        tokenizer=base_model.tokenizer,
        model_id=None,
        load_from=str(getattr(tuned_model, "name_or_path", "") or "fine-tuned model"),
        pooling=base_model.pooling,
        embedding_dim=base_model.embedding_dim,
        device=device,
        max_length=base_model.max_length,
    )


def embedding_metadata(dataset: Dataset, base_model: BaseModel) -> dict[str, Any]:
    """The metadata an ESM trained on ``dataset`` inherits: hfselect's keys plus provenance.

    ``base_model_name`` is the base model's Hub id (its folder for a model of unknown origin),
    then every key of ``dataset.metadata``, except that the loader name ``source``
    ("hub"/"pandas"/"file") is stored as ``dataset_loaded_from``: ``source`` is reserved in
    :class:`ESMConfig` for where a config was read from.
    """
    metadata: dict[str, Any] = {"base_model_name": base_model.model_id or base_model.load_from}
    for key, value in dict(getattr(dataset, "metadata", None) or {}).items():
        metadata["dataset_loaded_from" if key == "source" else key] = value
    return metadata


def create_embedding_dataset(
    dataset: Dataset,
    base_model: BaseModel | Any,
    tuned_model: BaseModel | FineTuneResult | Any,
    tokenizer: Any = None,
    device_name: str | None = None,
    output_path: str | os.PathLike | None = None,
    batch_size: int = 128,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> EmbeddingDataset:
    """Embed ``dataset.texts`` with the base and the fine-tuned model.

    hfselect's signature: ``base_model`` and ``tuned_model`` may be transformers encoders with
    their ``tokenizer`` (moved to ``device_name``, default ``"cpu"``), or ``base_model`` a
    :class:`BaseModel` (then ``tokenizer`` and ``device_name`` are not needed: its own are
    used). ``output_path``: also save the pairs there (:meth:`EmbeddingDataset.save`).

    Both go through :func:`embedding.embed_texts` with the base model's pooling, tokenizer and
    maximum length, so the pairs are embedded exactly as ranking embeds a target. Progress is
    one ``"embedding"`` stage over both passes (total ``2 N``); ``cancel`` stops between batches.
    The metadata is :func:`embedding_metadata`.
    """
    if not isinstance(base_model, BaseModel):
        base_model = wrap_base_model(base_model, tokenizer, device_name or "cpu")
    tuned = as_tuned_base_model(tuned_model, base_model)
    texts = list(dataset.texts)
    total = 2 * len(texts)
    x = embed_texts(texts, base_model, batch_size, _offset_progress(progress, 0, total), cancel)
    y = embed_texts(texts, tuned, batch_size, _offset_progress(progress, len(texts), total), cancel)
    if progress is not None:
        progress(STAGE_EMBEDDING, total, total)
    pairs = EmbeddingDataset(x, y, metadata=embedding_metadata(dataset, base_model))
    if output_path:
        pairs.save(output_path)
    return pairs


__all__ = [
    "EmbeddingDataset",
    "create_embedding_dataset",
    "as_tuned_base_model",
    "embedding_metadata",
]
