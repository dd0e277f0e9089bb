"""The batched torch LogME (engine/scoring/logme_torch.py) equals the NumPy path within 1e-6.

It runs on the CPU here (torch runs there too), so the GPU path's arithmetic is tested in the
suite; the GPU benchmark only measures speed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hfselect_widgets.engine.scoring.logme import logme
from hfselect_widgets.engine.scoring.logme_torch import logme_batch

FIXTURES = Path(__file__).with_name("logme_reference.npz")


def _fixtures():
    data = np.load(FIXTURES)
    names = sorted({key.split("__")[0] for key in data.files})
    return [
        pytest.param(
            data[f"{n}__features"],
            data[f"{n}__labels"],
            bool(data[f"{n}__regression"]),
            float(data[f"{n}__score"]),
            id=n,
        )
        for n in names
    ]


@pytest.mark.parametrize("features, labels, regression, reference", _fixtures())
def test_equals_the_hfselect_reference_fixtures(features, labels, regression, reference):
    # A batch of the fixture and two scaled copies: each row of the batch is scored alone.
    batch = torch.tensor(np.stack([features, 2 * features, 0.5 * features]), dtype=torch.float64)
    got = logme_batch(batch, labels, regression).numpy()
    assert got[0] == pytest.approx(reference, abs=1e-6)
    for row, scale in zip(got, (1, 2, 0.5), strict=True):
        assert row == pytest.approx(logme(scale * features, labels, regression), abs=1e-6)


@pytest.mark.parametrize(
    "n, d, regression, classes",
    [(300, 64, False, 3), (50, 64, False, 4), (400, 32, True, 1), (120, 120, False, 2)],
)
def test_equals_numpy_on_random_pools(n, d, regression, classes):
    rng = np.random.default_rng(n + d)
    features = rng.normal(size=(6, n, d)) * rng.uniform(0.1, 5, size=(6, 1, d))
    labels = rng.normal(size=n) if regression else rng.integers(0, classes, n)
    expected = [logme(f, labels, regression) for f in features]
    got = logme_batch(torch.tensor(features), labels, regression).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_float32_is_an_option_and_close():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(3, 200, 16))
    labels = rng.integers(0, 2, 200)
    expected = [logme(f, labels) for f in features]
    got = logme_batch(torch.tensor(features), labels, dtype=torch.float32).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-3)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"\(B, N, D\)"):
        logme_batch(torch.zeros(5, 4), np.zeros(5))
    with pytest.raises(ValueError, match="rows"):
        logme_batch(torch.zeros(1, 5, 4), np.zeros(6, dtype=int))


def test_batched_scoring_ranks_like_the_cpu_path_and_reports_bad_esms(tmp_path):
    from esm_factory import write_broken_esm, write_esm

    from hfselect_widgets.engine.scoring.ranking import ESMHandle, score_embeddings

    dim = 8
    rng = np.random.default_rng(1)
    x = rng.normal(size=(90, dim)).astype(np.float32)
    labels = rng.integers(0, 3, 90)
    folders = [write_esm(tmp_path / f"esm{i}", dim, task_id=f"t{i}", seed=i) for i in range(7)]
    folders.append(write_esm(tmp_path / "wide", dim + 1, task_id="wide"))  # wrong dimension
    folders.append(write_broken_esm(tmp_path / "broken", "nan_weights", dim=dim))

    def run(backend, **kwargs):
        handles = [ESMHandle.from_folder(f) for f in folders]
        return score_embeddings(x, labels, False, handles, logme_backend=backend, **kwargs)

    cpu = run("numpy")
    steps = []
    batched = run("torch", progress=lambda stage, done, total: steps.append(done))
    assert batched.sources == cpu.sources and len(batched.scores) == 7
    np.testing.assert_allclose(batched.scores, cpu.scores, rtol=0, atol=1e-6)
    assert set(batched.failures) == set(cpu.failures) and len(batched.failures) == 2
    assert steps[-1] == 9
    with pytest.raises(ValueError, match="logme_backend"):
        run("gpu")


def test_batched_permutation_control_equals_the_cpu_path_and_keeps_esm_logme(tmp_path):
    """The default front-end ranker (logme-permutation) runs on the batched torch path too,
    with the same shuffled label columns as the NumPy path: equal scores within 1e-6, and the
    ESM-LogME column recorded beside it equals the plain ESM-LogME ranking's scores. If the
    batched path shuffled differently, or dropped the ESM-LogME column, this fails."""
    from esm_factory import write_esm

    from hfselect_widgets.engine.scoring.ranking import ESMHandle, score_embeddings

    dim = 8
    rng = np.random.default_rng(2)
    x = rng.normal(size=(120, dim)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)
    folders = [write_esm(tmp_path / f"esm{i}", dim, task_id=f"t{i}", seed=i) for i in range(5)]

    def run(backend, ranker):
        handles = [ESMHandle.from_folder(f) for f in folders]
        return score_embeddings(x, labels, False, handles, logme_backend=backend, ranker=ranker)

    cpu = run("numpy", "logme-permutation")
    batched = run("torch", "logme-permutation")
    plain = run("numpy", "esm-logme")
    assert batched.sources == cpu.sources == plain.sources
    np.testing.assert_allclose(batched.scores, cpu.scores, rtol=0, atol=1e-6)
    batched_plain = [c.ranker_scores["esm-logme"] for c in batched.configs]
    cpu_plain = [c.ranker_scores["esm-logme"] for c in cpu.configs]
    np.testing.assert_allclose(batched_plain, plain.scores, rtol=0, atol=1e-6)
    np.testing.assert_allclose(cpu_plain, plain.scores, rtol=0, atol=1e-9)
    # the control is not ESM-LogME under another name: it subtracts the shuffled-label part
    assert np.max(np.abs(np.subtract(batched.scores, batched_plain))) > 1e-3
