"""The engine: pure Python (no ipywidgets, altair or IPython), used by every front end.

Modules, one concept each: ``data`` (target datasets), ``embedding`` (base model and pooling),
``esm`` (the ESM format), ``hub`` / ``esm_folder`` / ``esm_index`` (where ESMs come from),
``logme`` (the score), ``ranking`` (the whole pipeline), ``task_ranking`` (the result),
``errors`` and ``progress`` (shared contracts).
"""
