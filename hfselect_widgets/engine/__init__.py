"""The engine: pure Python (no ipywidgets, altair or IPython), used by every front end.

Sub-packages, one concept per module:

* ``data``: target datasets (loading, sampling and labels, files, suggestions, Hub inspection)
* ``embedding``: base models and pooling, the embedding cache, embedding pairs
* ``esm``: the ESM format, folders of ESMs, the config index, fitting maps
* ``hub``: ESM discovery and downloads, model cards and publishing
* ``scoring``: LogME, ranking an ESM pool, the ``TaskRanking`` result
* ``training``: fine-tuning with validation, ``train_esm``, hfselect's ``ESMTrainer``
* ``evaluation``: retrieval checks, real-transfer ground truth, ranking-quality metrics

Shared contracts: ``progress`` (callbacks and cancellation), ``model_ids`` (Hub id or local
path, model identity), ``cache_dir``, ``_io`` (the one atomic file writer and JSON serialiser);
the typed errors live in :mod:`hfselect_widgets.errors`. The engine never imports
the front ends (``widgets``, ``magics``, ``cli``).
"""
