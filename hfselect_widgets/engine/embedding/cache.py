"""An on-disk cache of target embeddings, so that re-ranking the same data skips the base model.

Embedding the target texts is the only step of a ranking that runs the (large) base model. When
the same texts are ranked again with other ESMs, another ESM pool or other LogME settings, the
embeddings are the same: they depend only on

* the base model (:meth:`BaseModel.identity`: its id or folder and a hash of its config),
* the pooling and the maximum sequence length,
* the texts themselves (:func:`fingerprint_texts`).

Each entry is one ``.npy`` file (float32, N x D) named by the SHA-256 of those parts, written
atomically so that a crashed or concurrent writer never leaves a half file behind. A file that
cannot be read back is treated as a miss and removed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hfselect_widgets.engine._io import atomic_write, is_temp_file
from hfselect_widgets.engine.cache_dir import cache_dir

if TYPE_CHECKING:
    from hfselect_widgets.engine.embedding.model import BaseModel

_SUFFIX = ".npy"
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def fingerprint_texts(texts: Iterable[str]) -> str:
    """A SHA-256 fingerprint of a sequence of texts (order and boundaries included)."""
    digest = hashlib.sha256()
    count = 0
    for text in texts:
        data = str(text).encode("utf-8", errors="surrogatepass")
        # Length-prefix every text so that ["ab", "c"] and ["a", "bc"] differ.
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
        count += 1
    digest.update(count.to_bytes(8, "little"))
    return digest.hexdigest()


class EmbeddingCache:
    """Target embeddings on disk, one ``<key>.npy`` file per (model, pooling, length, data).

    ``directory`` defaults to ``cache_dir("embeddings")`` (``HFSELECT_WIDGETS_CACHE`` moves it);
    it is created on the first :meth:`put`.
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory) if directory is not None else cache_dir("embeddings")

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.directory)!r})"

    @staticmethod
    def key(base_model: BaseModel, data_fingerprint: str) -> str:
        """The cache key of ``base_model``'s embeddings of the data with ``data_fingerprint``."""
        parts = (
            base_model.identity(),
            f"pooling={base_model.pooling}",
            f"max_length={base_model.max_length}",
            f"data={data_fingerprint}",
        )
        return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()

    def path(self, key: str) -> Path:
        """The file that holds (or would hold) the entry ``key``."""
        if not _KEY_PATTERN.match(key):
            # Keys become file names: refuse anything that could leave the directory.
            raise ValueError(f"Invalid embedding cache key {key!r}: use EmbeddingCache.key().")
        return self.directory / f"{key}{_SUFFIX}"

    def get(self, key: str) -> np.ndarray | None:
        """The cached float32 (N, D) array for ``key``, or ``None`` on a miss.

        A file that cannot be read as a 2-D float32 array is removed and counts as a miss.
        """
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            array = np.load(path, allow_pickle=False)
            if not isinstance(array, np.ndarray) or array.ndim != 2 or array.dtype != np.float32:
                raise ValueError("not a 2-D float32 array")
        except Exception:  # truncated, foreign or corrupt file: recompute rather than fail
            path.unlink(missing_ok=True)
            return None
        return array

    def put(self, key: str, array: np.ndarray) -> Path:
        """Store ``array`` (converted to float32) under ``key``, atomically; returns the file."""
        path = self.path(key)
        array = np.ascontiguousarray(array, dtype=np.float32)
        if array.ndim != 2:
            raise ValueError(f"Embeddings must be a 2-D array, got shape {array.shape}.")
        return atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=False))

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def clear(self) -> int:
        """Remove every entry (and stray temporary files); returns how many entries went."""
        if not self.directory.is_dir():
            return 0
        removed = 0
        for entry in self.directory.iterdir():
            if entry.is_file() and entry.suffix == _SUFFIX and _KEY_PATTERN.match(entry.stem):
                entry.unlink(missing_ok=True)
                removed += 1
            elif entry.is_file() and is_temp_file(entry):
                entry.unlink(missing_ok=True)
        return removed


__all__ = ["EmbeddingCache", "fingerprint_texts"]
