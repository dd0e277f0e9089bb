"""LogME: hfselect 0.2.1's own figures, and the fast path equal to the reference port."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hfselect_widgets.engine.scoring.logme import (
    LogME,
    LogMETarget,
    label_columns,
    logme,
    logme_reference,
)

FIXTURES = Path(__file__).with_name("logme_reference.npz")


def _cases():
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


def test_fixture_file_holds_the_eight_reference_cases():
    """The copied fixture must keep all 8 cases of hfselect's figures."""
    assert len(_cases()) == 8


@pytest.mark.parametrize(("features", "labels", "regression", "expected"), _cases())
def test_reference_port_reproduces_hfselect_figures(features, labels, regression, expected):
    """Our transcription of hfselect's LogME gives hfselect's own scores (to 1e-6)."""
    assert logme_reference(features, labels, regression) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("features", "labels", "regression", "expected"), _cases())
def test_fast_logme_reproduces_hfselect_figures(features, labels, regression, expected):
    """The tridiagonal fast path gives hfselect's scores (to 1e-6) in every case."""
    assert logme(features, labels, regression) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("n", "d", "classes"),
    [(40, 40, 3), (41, 40, 2), (30, 60, 4), (200, 2, 2), (100, 1, 3), (2, 5, 2), (300, 16, 7)],
)
def test_fast_path_equals_reference_on_edge_shapes(n, d, classes):
    """N = D, N = D + 1, N < D and tiny D (dense fallback) all agree with the reference."""
    rng = np.random.default_rng(n * 100 + d)
    f = rng.standard_normal((n, d)).astype(np.float32) * 3 + 1
    y = rng.integers(0, classes, n)
    y[:classes] = np.arange(classes)
    assert logme(f, y) == pytest.approx(logme_reference(f, y), abs=1e-8)


def test_regression_with_several_targets_matches_reference():
    """Regression scores one column per target and averages them, as the reference does."""
    rng = np.random.default_rng(3)
    f = rng.standard_normal((150, 12))
    y = f[:, :2] @ rng.standard_normal((2, 3)) + 0.1 * rng.standard_normal((150, 3))
    assert logme(f, y, regression=True) == pytest.approx(
        logme_reference(f, y, regression=True), abs=1e-10
    )


def test_target_is_reusable_across_feature_matrices():
    """Preparing the target once gives the same scores as scoring each matrix from scratch."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 120)
    target = LogMETarget(y)
    for _ in range(3):
        f = rng.standard_normal((120, 20))
        assert target.score(f) == pytest.approx(logme_reference(f, y), abs=1e-10)


def test_label_columns_include_class_ids_without_examples():
    """Classification scores every id 0..max(y), even one with no example (hfselect's quirk)."""
    cols = label_columns(np.array([0, 1, 3, 3]), regression=False)
    assert cols.shape == (4, 4)
    assert cols[:, 2].sum() == 0


def test_separable_features_score_higher_than_noise():
    """LogME rewards features that explain the labels: the property the ranking relies on."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    noise = rng.standard_normal((300, 8))
    informative = noise.copy()
    informative[:, 0] += 4 * y
    assert logme(informative, y) > logme(noise, y) + 0.1


def test_drop_in_logme_class_accepts_add_intercept():
    """``LogME(regression).fit(f, y, add_intercept=True)`` prepends a column of ones."""
    rng = np.random.default_rng(1)
    f = rng.standard_normal((80, 6))
    y = rng.integers(0, 2, 80)
    with_ones = np.hstack([np.ones((80, 1)), f])
    assert LogME().fit(f, y, add_intercept=True) == pytest.approx(logme_reference(with_ones, y))


def test_negative_class_ids_are_rejected():
    """Labels of -1 must have been dropped before scoring (DESIGN.md's rule)."""
    with pytest.raises(ValueError, match="-1"):
        label_columns(np.array([0, -1, 1]), regression=False)


@pytest.mark.parametrize(
    ("n", "d", "regression", "classes"),
    [
        (120, 16, False, 3),  # many more rows than D: the D x D path on the distinct rows too
        (160, 120, False, 2),  # N > D but about 0.63 N distinct rows < D: the smaller Gram
        (60, 200, False, 4),  # N <= D: the reference keeps every direction, zeros included
        (200, 160, True, 2),  # regression, several targets, fewer distinct rows than D
        (300, 40, True, 1),
    ],
)
def test_weighted_resample_scores_like_the_resample_itself(n, d, regression, classes):
    """The bootstrap scores a resample from its row counts: it must give the score of the
    materialised resample (duplicated rows), which is what hfselect would compute on it.

    Tolerance 1e-6 relative: a resample with duplicated rows is rank-deficient, and the
    reference's near-zero directions carry rounding noise of about that size (more when the
    distinct rows nearly interpolate a regression target, a case left out here)."""
    rng = np.random.default_rng(n + d)
    f = rng.standard_normal((n, d))
    y = rng.standard_normal((n, classes)) if regression else rng.integers(0, classes, n)
    target = LogMETarget(y, regression)
    for _ in range(3):
        index = rng.integers(0, n, n)
        counts = np.bincount(index, minlength=n)
        expected = logme_reference(f[index], y[index], regression)
        assert target.resampled_score(f, counts) == pytest.approx(expected, rel=1e-6, abs=1e-8)
    # all-ones counts are the sample itself
    assert target.resampled_score(f, np.ones(n, dtype=int)) == pytest.approx(
        logme_reference(f, y, regression), rel=1e-9
    )


def test_resampled_score_rejects_counts_of_another_length():
    target = LogMETarget(np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="one row per target example"):
        target.resampled_score(np.ones((4, 2)), np.ones(3, dtype=int))


@pytest.mark.parametrize(
    ("n", "d", "regression", "classes"),
    [(300, 40, False, 3), (400, 120, True, 2), (200, 150, False, 2)],
)
def test_row_influences_are_the_derivative_of_the_weighted_evidence(n, d, regression, classes):
    """The linearised bootstrap scores a reweighting from each row's influence: it must be the
    derivative of the exact weighted LogME, checked against a finite difference (weights
    1 +- eps*u, summing to N). Off by a wrong sign or a missing term (the leverage, the residual,
    the 1/N normalisation) the two differ by tens of percent; by 1e-2 relative here they agree."""
    rng = np.random.default_rng(n + d)
    f = rng.standard_normal((n, d))
    y = rng.standard_normal((n, classes)) if regression else rng.integers(0, classes, n)
    if not regression:
        f[:, :classes] += 0.8 * np.eye(classes)[y]
    target = LogMETarget(y, regression)
    evidences, influences = target.column_influences(f)
    np.testing.assert_allclose(evidences, target.column_evidences(f), rtol=1e-9)
    eps = 1e-3
    for _ in range(3):
        u = rng.standard_normal(n)
        u -= u.mean()
        up = target.resampled_column_evidences(f, 1 + eps * u)
        down = target.resampled_column_evidences(f, 1 - eps * u)
        exact = (up - down) / (2 * eps)  # central: no second-order error
        np.testing.assert_allclose(u @ influences, exact, rtol=1e-2)
    scorer = target.linearised_scorer(f)
    assert scorer(np.ones(n)) == pytest.approx(target.score(f), rel=1e-9)


def test_row_influences_refuse_samples_not_larger_than_the_dimension():
    """With N <= D the reference's evidence is not stationary in alpha (its log-determinant
    skips the empty directions), so the first-order shortcut would be wrong: refused, and the
    bootstrap refits those resamples exactly instead."""
    from hfselect_widgets.engine.scoring.rankers import make_resampling_scorer

    rng = np.random.default_rng(0)
    f, labels = rng.standard_normal((30, 40)), np.arange(30) % 2
    with pytest.raises(ValueError, match="more rows than dimensions"):
        LogMETarget(labels).column_influences(f)
    weights = np.random.default_rng(1).dirichlet(np.ones(30)) * 30
    scorer = make_resampling_scorer("esm-logme", f, labels, False)(f, None)
    assert scorer(weights) == pytest.approx(LogMETarget(labels).resampled_score(f, weights))
