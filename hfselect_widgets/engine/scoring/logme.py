"""LogME: the log marginal evidence of a Bayesian linear model on features and labels.

Two implementations of the *same* numbers:

* :func:`logme_reference` is a plain NumPy transcription of the fixed-point LogME shipped in
  hf-dataset-selector 0.2.1 (thuml's algorithm, quirks included). It is the yardstick the tests
  compare with (``tests/logme_reference.npz`` holds hfselect's own figures).
* :class:`LogMETarget` / :func:`logme` compute the same evidence faster. Everything that depends
  only on the target (label columns, their norms) is prepared once per target, and for each
  feature matrix we need only the eigenvalues of the Gram matrix and the projections of the
  label columns onto its eigenvectors, never the eigenvectors themselves. We get both from a
  Householder tridiagonalisation ``A = Q T Qᵀ`` (LAPACK ``dsytrd``): the label columns are
  rotated with ``Qᵀ`` by the stored reflectors (``dormqr``) and then projected onto the
  eigenvectors of the small tridiagonal ``T`` (``dstevd``). That skips the back-transformation
  of eigenvectors, the most expensive part of a dense symmetric eigensolver, and the
  N x k left singular vectors the reference forms.

Conventions of the reference that the fast path keeps (see DESIGN.md):

* features are float64; for ``N > D`` the spectrum comes from ``FᵀF`` and directions with
  ``sqrt(|eigenvalue|) <= 1e-10`` are dropped; for ``N <= D`` every direction of the thin SVD is
  kept (we use ``FFᵀ``, whose eigenvectors are the left singular vectors);
* classification scores one 0/1 column per class id ``0..max(y)`` (empty ids included),
  regression one column per target; the score is the mean over columns;
* the evidence uses ``D`` in its first term even when fewer directions are kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

_EPSILON = 1e-5
_MAX_ITERATIONS = 50
_TOLERANCE = 1e-3
_SPECTRUM_CUTOFF = 1e-10  # on sqrt(|eigenvalue|), as the reference's truncated SVD


def label_columns(labels: np.ndarray, regression: bool) -> np.ndarray:
    """The target columns LogME scores, float64 of shape (N, C).

    Classification: one one-vs-rest 0/1 column per class id ``0..max(labels)``, including ids
    that have no example (the reference averages over all of them). Regression: the label
    columns themselves.
    """
    labels = np.asarray(labels)
    if regression:
        y = labels.astype(np.float64)
        return y.reshape(-1, 1) if y.ndim == 1 else y
    ids = labels.astype(np.int64).reshape(-1)
    if ids.size and ids.min() < 0:
        raise ValueError("Class ids must be >= 0 (drop rows labelled -1 first).")
    num_classes = int(ids.max()) + 1 if ids.size else 0
    return (ids[:, None] == np.arange(num_classes)[None, :]).astype(np.float64)


# --- the reference ---------------------------------------------------------------------------


def logme_reference(features: np.ndarray, labels: np.ndarray, regression: bool = False) -> float:
    """LogME exactly as hf-dataset-selector 0.2.1 computes it (``add_intercept=False``).

    A direct transcription, kept simple on purpose: it is what the fast path is tested against.
    """
    f = np.asarray(features).astype(np.float64)
    y = label_columns(labels, regression)
    n, d = f.shape
    if n > d:
        # truncated_svd: SVD of fᵀf, singular values of f are the square roots
        _, s, vh = np.linalg.svd(f.T @ f)
        s = np.sqrt(s)
        u_times_sigma = f @ vh.T
        k = int(np.sum(s > _SPECTRUM_CUTOFF))
        s = s.reshape(-1, 1)[:k]
        vh = vh[:k]
        u = u_times_sigma[:, :k] / s.reshape(1, -1)
    else:
        u, s, vh = np.linalg.svd(f, full_matrices=False)
        s = s.reshape(-1, 1)
    sigma = s**2
    evidences = []
    for i in range(y.shape[1]):
        y_ = y[:, i].reshape(-1, 1)
        x = u.T @ y_
        x2 = x**2
        res_x2 = (y_**2).sum() - x2.sum()
        alpha, beta = 1.0, 1.0
        for _ in range(_MAX_ITERATIONS):
            t = alpha / beta
            gamma = (sigma / (sigma + t)).sum()
            m2 = (sigma * x2 / ((t + sigma) ** 2)).sum()
            res2 = (x2 / ((1 + sigma / t) ** 2)).sum() + res_x2
            alpha = gamma / (m2 + _EPSILON)
            beta = (n - gamma) / (res2 + _EPSILON)
            t_ = alpha / beta
            if abs(t_ - t) / t <= _TOLERANCE:
                break
        evidence = (
            d / 2.0 * np.log(alpha)
            + n / 2.0 * np.log(beta)
            - 0.5 * np.sum(np.log(alpha + beta * sigma))
            - beta / 2.0 * res2
            - alpha / 2.0 * m2
            - n / 2.0 * np.log(2 * np.pi)
        )
        evidences.append(evidence / n)
    return float(np.mean(evidences))


# --- the fast path ---------------------------------------------------------------------------


def _tridiagonalize(
    gram: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``A = Q T Qᵀ``: the diagonal and off-diagonal of ``T`` and the rotated columns ``Qᵀz``.

    Only the lower triangle of ``gram`` is read. Returns ``None`` for sizes below 3, where the
    dense fallback is used.
    """
    from scipy.linalg import lapack

    from hfselect_widgets.engine.scoring import lapack as lapack_nogil

    size = gram.shape[0]
    if size < 3:
        return None
    if lapack_nogil.AVAILABLE:  # same routines, but concurrent ESMs run in parallel
        return lapack_nogil.tridiagonalize(gram, z)
    lwork = int(lapack.dsytrd_lwork(size, lower=1)[0])
    reflectors, diag, offdiag, tau, info = lapack.dsytrd(gram, lower=1, lwork=lwork)
    if info != 0:
        raise np.linalg.LinAlgError(f"dsytrd failed (info={info})")
    rotated = np.array(z, dtype=np.float64, order="F", copy=True)
    # Q = H(1)…H(n-1) acts on rows 2..n; its reflectors are stored like a QR factorisation of
    # reflectors[1:, :-1], so dormqr applies Qᵀ (this is what LAPACK's dormtr does internally).
    tail, _, info = lapack.dormqr(
        "L",
        "T",
        reflectors[1:, :-1],
        tau[: size - 1],
        rotated[1:],
        lwork=max(1, z.shape[1]) * 64,
    )
    if info != 0:
        raise np.linalg.LinAlgError(f"dormqr failed (info={info})")
    rotated[1:] = tail
    return diag, offdiag, rotated


def _spectrum_and_projections(gram: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of the symmetric ``gram`` and the projections ``Vᵀz`` onto its eigenvectors.

    The slower, always-applicable route: eigenvectors of the small tridiagonal ``T`` (never of
    ``gram`` itself). Used when the solve-based iteration cannot be (see
    :func:`_evidence_by_solves`) and for sizes below 3.
    """
    from scipy.linalg import lapack

    reduced = _tridiagonalize(gram, z)
    if reduced is None:
        vals, vecs = np.linalg.eigh(np.tril(gram) + np.tril(gram, -1).T)
        return vals, vecs.T @ z
    diag, offdiag, rotated = reduced
    vals, tri_vecs, info = lapack.dstevd(diag, offdiag, compute_v=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"dstevd failed (info={info})")
    return vals, tri_vecs.T @ rotated


class _NotPositiveDefinite(Exception):
    """``T + tI`` is not positive definite (a negative eigenvalue below -t): use the fallback."""


def _tridiagonal_matvec(diag: np.ndarray, offdiag: np.ndarray, x: np.ndarray) -> np.ndarray:
    out = diag[:, None] * x
    out[:-1] += offdiag[:, None] * x[1:]
    out[1:] += offdiag[:, None] * x[:-1]
    return out


def _evidence(
    alpha: np.ndarray,
    beta: np.ndarray,
    sigma: np.ndarray,
    m2: np.ndarray,
    res2: np.ndarray,
    n: int,
    d: int,
) -> np.ndarray:
    """The reference's evidence per column, divided by ``n`` (``D`` in the first term, the
    log-determinant over the kept directions only: hfselect's formula, quirk included)."""
    log_det = np.log(alpha[None, :] + beta[None, :] * sigma[:, None]).sum(axis=0)
    evidence = (
        d / 2.0 * np.log(alpha)
        + n / 2.0 * np.log(beta)
        - 0.5 * log_det
        - beta / 2.0 * res2
        - alpha / 2.0 * m2
        - n / 2.0 * math.log(2 * math.pi)
    )
    return evidence / n


def _evidence_by_solves(
    diag: np.ndarray,
    offdiag: np.ndarray,
    rotated: np.ndarray,
    y_sq_norms: np.ndarray,
    n: int,
    d: int,
    gram_is_dxd: bool,
    truncate: bool,
    zero_directions: int = 0,
) -> np.ndarray:
    """The reference's fixed-point iteration without any eigenvector.

    With ``T`` the tridiagonal form of the Gram matrix and ``w`` the rotated label columns,
    every sum over eigen-directions the iteration needs is a quadratic form in
    ``(T + tI)^-1``, which costs two O(D) tridiagonal solves per column and step:

    * ``fᵀf`` (N > D, ``w = Qᵀfᵀy``): ``m2 = |(T+tI)^-1 w|²`` and
      ``res2 = |y|² - wᵀ(T+2tI)(T+tI)^-2 w``;
    * ``ffᵀ`` (N <= D, ``w = Qᵀy``): ``m2 = wᵀT(T+tI)^-2 w`` and ``res2 = t²|(T+tI)^-1 w|²``
      (the eigenvectors of ``ffᵀ`` span the whole sample space, so the reference's residual
      ``|y|² - Σx²`` is zero; written as a sum of positive terms it keeps its precision when
      the features nearly interpolate the labels and ``res2`` is tiny).

    These are the reference's sums with ``x² = p/σ`` (resp. ``p``) simplified so that no
    eigenvalue is divided by, which also makes them stable for rank-deficient features. The
    eigenvalues (``dsterf``) give ``gamma`` and the log-determinant, with the reference's
    truncation of tiny directions when ``truncate`` (the reference's N > D path; a weighted
    resample can take that path with fewer distinct rows than D, see
    :meth:`LogMETarget.resampled_column_evidences`). ``zero_directions`` zero eigenvalues are
    added to the spectrum: the directions a weighted resample's smaller Gram matrix lacks but
    the reference keeps (it keeps every direction for N <= D and, in floating point, the
    numerically zero ones for N > D).
    """
    from scipy.linalg import lapack

    vals, info = lapack.dsterf(diag, offdiag)[:2]
    if info != 0:
        raise np.linalg.LinAlgError(f"dsterf failed (info={info})")
    abs_vals = np.abs(vals)
    sigma = abs_vals[np.sqrt(abs_vals) > _SPECTRUM_CUTOFF] if truncate else abs_vals
    sigma = np.concatenate([sigma, np.zeros(zero_directions)])
    t_w = _tridiagonal_matvec(diag, offdiag, rotated)
    # the vectors whose products with (T+tI)^-2 w give m2 and the res2 correction (see above)
    if gram_is_dxd:
        m2_left, res_left, res_shift = None, t_w, rotated
    else:
        m2_left, res_left, res_shift = t_w, None, None

    num_cols = rotated.shape[1]
    alpha = np.ones(num_cols)
    beta = np.ones(num_cols)
    m2 = np.zeros(num_cols)
    res2 = np.zeros(num_cols)
    active = list(range(num_cols))
    s = sigma[:, None]
    for _ in range(_MAX_ITERATIONS):
        still_active = []
        t_all = alpha[active] / beta[active]
        gammas = (s / (s + t_all)).sum(axis=0)
        for k, col in enumerate(active):
            t, gamma = t_all[k], gammas[k]
            factor_d, factor_e, info = lapack.dpttrf(diag + t, offdiag)
            if info != 0:
                raise _NotPositiveDefinite
            u, info = lapack.dpttrs(factor_d, factor_e, rotated[:, col])
            v, info2 = lapack.dpttrs(factor_d, factor_e, u)
            if info or info2:
                raise _NotPositiveDefinite
            if m2_left is None:
                m2_col = float(u @ u)
            else:
                m2_col = float(m2_left[:, col] @ v)
            if res_left is None:
                res2_col = t * t * float(u @ u)
            else:
                res2_col = y_sq_norms[col] - float(
                    (res_left[:, col] + 2 * t * res_shift[:, col]) @ v
                )
            alpha_new = gamma / (m2_col + _EPSILON)
            beta_new = (n - gamma) / (res2_col + _EPSILON)
            alpha[col], beta[col], m2[col], res2[col] = alpha_new, beta_new, m2_col, res2_col
            if abs(alpha_new / beta_new - t) / t > _TOLERANCE:
                still_active.append(col)
        active = still_active
        if not active:
            break
    return _evidence(alpha, beta, sigma, m2, res2, n, d)


def _fixed_point(
    sigma: np.ndarray, x2: np.ndarray, res_x2: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the reference's fixed-point iteration for all label columns at once.

    ``sigma``: (k,) squared singular values; ``x2``: (k, C) squared projections;
    ``res_x2``: (C,). Each column stops on its own criterion, exactly as the reference's
    per-column loop does. Returns ``(alpha, beta, m2, res2)``, each of shape (C,).
    """
    num_cols = x2.shape[1]
    alpha = np.ones(num_cols)
    beta = np.ones(num_cols)
    m2 = np.zeros(num_cols)
    res2 = np.zeros(num_cols)
    active = np.arange(num_cols)
    s = sigma[:, None]
    for _ in range(_MAX_ITERATIONS):
        t = alpha[active] / beta[active]
        cols = x2[:, active]
        gamma = (s / (s + t)).sum(axis=0)
        m2_new = (s * cols / ((t + s) ** 2)).sum(axis=0)
        res2_new = (cols / ((1 + s / t) ** 2)).sum(axis=0) + res_x2[active]
        alpha_new = gamma / (m2_new + _EPSILON)
        beta_new = (n - gamma) / (res2_new + _EPSILON)
        alpha[active], beta[active] = alpha_new, beta_new
        m2[active], res2[active] = m2_new, res2_new
        converged = np.abs(alpha_new / beta_new - t) / t <= _TOLERANCE
        active = active[~converged]
        if active.size == 0:
            break
    return alpha, beta, m2, res2


def _evidence_from_spectrum(
    sigma: np.ndarray, x2: np.ndarray, res_x2: np.ndarray, n: int, d: int
) -> np.ndarray:
    """The per-column evidence divided by ``n``, from the spectrum (see :func:`_fixed_point`)."""
    alpha, beta, m2, res2 = _fixed_point(sigma, x2, res_x2, n)
    return _evidence(alpha, beta, sigma, m2, res2, n, d)


def _column_evidences(f: np.ndarray, y: np.ndarray, y_sq_norms: np.ndarray, n: int) -> np.ndarray:
    """Per-column evidence for features ``f`` (rows, D) and label columns ``y`` (rows, C) of a
    sample of ``n`` examples (``n`` > rows for a weighted bootstrap resample)."""
    rows, d = f.shape
    gram_is_dxd = rows > d
    truncate = n > d  # the path the reference takes for a sample of n rows
    # a weighted resample has fewer directions than the n-row sample the reference would see;
    # those it lacks have eigenvalue 0 there (0 for an unweighted sample)
    zero_directions = min(n, d) - min(rows, d)
    # NumPy's matmul releases the GIL (SciPy's dsyrk wrapper does not), so that ESMs
    # scored in concurrent threads run in parallel.
    if gram_is_dxd:
        gram = f.T @ f
        rhs = f.T @ y
    else:
        gram = f @ f.T
        rhs = y
    reduced = _tridiagonalize(gram, rhs)
    if reduced is not None:
        try:
            return _evidence_by_solves(
                *reduced,
                y_sq_norms,
                n,
                d,
                gram_is_dxd=gram_is_dxd,
                truncate=truncate,
                zero_directions=zero_directions,
            )
        except _NotPositiveDefinite:
            pass  # a tiny t met a slightly negative eigenvalue: use eigenvectors of T
    vals, proj = _spectrum_and_projections(gram, rhs)
    abs_vals = np.abs(vals)
    keep = np.sqrt(abs_vals) > _SPECTRUM_CUTOFF if truncate else np.ones(len(vals), dtype=bool)
    sigma = abs_vals[keep]
    if gram_is_dxd:
        # x = uᵀy with u = f v / s, so x² = (vᵀfᵀy)² / σ
        x2 = proj[keep] ** 2 / sigma[:, None]
    else:
        x2 = proj[keep] ** 2  # the thin SVD keeps every direction when N <= D
    res_x2 = y_sq_norms - x2.sum(axis=0)
    sigma = np.concatenate([sigma, np.zeros(zero_directions)])
    x2 = np.vstack([x2, np.zeros((zero_directions, x2.shape[1]))])
    return _evidence_from_spectrum(sigma, x2, res_x2, n, d)


class LogMETarget:
    """Everything LogME needs that depends only on the target labels, computed once.

    Score many feature matrices of the same target with :meth:`score`::

        target = LogMETarget(labels, regression=False)
        scores = [target.score(esm_features) for esm_features in ...]
    """

    def __init__(self, labels: np.ndarray, regression: bool = False):
        self.regression = bool(regression)
        self.y = np.asfortranarray(label_columns(labels, self.regression))
        self.num_examples = self.y.shape[0]
        self.y_sq_norms = (self.y**2).sum(axis=0)
        self.real_columns = self.y.shape[1]
        """The leading columns that are the target's own labels (subclasses add others)."""

    @property
    def num_columns(self) -> int:
        return self.y.shape[1]

    def column_evidences(self, features: np.ndarray) -> np.ndarray:
        """Per-column evidence (C,) for one feature matrix (N, D)."""

        f = np.asarray(features, dtype=np.float64)
        n = f.shape[0]
        if n != self.num_examples:
            raise ValueError(f"features have {n} rows but the target has {self.num_examples}")
        return _column_evidences(f, self.y, self.y_sq_norms, n)

    def resampled_column_evidences(self, features: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Per-column evidence of a bootstrap resample given by how often each row was drawn
        (or by real-valued weights that sum to N: each row counted ``counts[i]`` times).

        Equal to ``LogMETarget(labels[index]).column_evidences(features[index])`` for any
        ``index`` with ``np.bincount(index) == counts``, without forming the resample: its Gram
        matrix is ``GᵀG`` and its label products ``Gᵀz`` with ``G = sqrt(c)·F`` and
        ``z = sqrt(c)·y`` over the rows drawn at least once, and ``|z|² = |y_resample|²``.
        A resample of N rows holds about 0.63 N distinct ones, so for N a little above D the
        spectrum comes from the smaller ``GGᵀ`` (the same non-zero eigenvalues), with the
        reference's N > D truncation kept because the resample itself has N rows.

        "Equal" up to rounding: a resample with repeated rows is rank-deficient, and the
        reference's numerically zero directions carry noise of about 1e-6 relative (more when
        the distinct rows nearly interpolate a regression target). The bootstrap only needs
        the resample's ranks, far coarser than that.
        """
        f = np.asarray(features, dtype=np.float64)
        counts = np.asarray(counts)
        if f.shape[0] != self.num_examples or counts.shape != (self.num_examples,):
            raise ValueError("features and counts must have one row per target example")
        drawn = counts > 0
        root = np.sqrt(counts[drawn].astype(np.float64))[:, None]
        g = f[drawn] * root
        z = np.asfortranarray(self.y[drawn] * root)
        # Real-valued weights (the Bayesian bootstrap's) sum to N up to rounding: round, since
        # int() of 499.99999 would change the sample size the reference's formula sees.
        return _column_evidences(g, z, (z**2).sum(axis=0), int(round(float(counts.sum()))))

    def column_influences(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-column evidence (C,) and its derivative with respect to each row's weight (N, C).

        With row ``i`` counted ``w[i]`` times, the evidence per column is, to first order,
        ``evidence + (w - 1) @ influence``: the linearised (infinitesimal-jackknife) form of
        :meth:`resampled_column_evidences`, which costs one eigen-decomposition per feature
        matrix and then O(N) per reweighting instead of a new LogME fit.

        At the fixed point the evidence is stationary in ``alpha``, ``beta`` (MacKay's update
        equations are its stationarity conditions) and in the posterior mean ``m``, so only the
        explicit dependence on the weights remains: row ``i`` adds
        ``(log(beta) - log(2 pi))/2 - beta/2 (r_i² + f_iᵀA⁻¹f_i)`` to the log evidence
        (``r_i`` its residual, ``A = alpha I + beta FᵀF``), and the per-row normalisation by
        ``n = Σw`` subtracts the evidence per row. The evidence is the reference path's
        (eigenvectors of the Gram matrix): equal to :meth:`column_evidences` up to rounding.

        Only for N > D: with N <= D the reference's evidence leaves the ``D - N`` empty
        directions out of its log-determinant, so it is not stationary in ``alpha`` and the
        shortcut does not hold (a ValueError; use :meth:`resampled_column_evidences`, which is
        cheap there, since its Gram matrix is N x N).
        """
        f = np.asarray(features, dtype=np.float64)
        n, d = f.shape
        if n != self.num_examples:
            raise ValueError(f"features have {n} rows but the target has {self.num_examples}")
        if n <= d:
            raise ValueError(
                f"column_influences needs more rows than dimensions, got N = {n}, D = {d}"
            )
        y = self.y
        vals, vecs = np.linalg.eigh(f.T @ f)
        abs_vals = np.abs(vals)
        keep = np.sqrt(abs_vals) > _SPECTRUM_CUTOFF
        sigma = abs_vals[keep]
        u = (f @ vecs[:, keep]) / np.sqrt(sigma)  # the left singular vectors
        x = u.T @ y
        x2 = x**2
        res_x2 = self.y_sq_norms - x2.sum(axis=0)
        alpha, beta, m2, res2 = _fixed_point(sigma, x2, res_x2, n)
        evidences = _evidence(alpha, beta, sigma, m2, res2, n, d)
        # per column: A⁻¹ has eigenvalues 1/(alpha + beta σ) on the right singular vectors
        shrink = sigma[:, None] / (alpha[None, :] + beta[None, :] * sigma[:, None])  # (k, C)
        residuals = y - u @ (beta[None, :] * shrink * x)
        leverage = (u**2) @ shrink
        per_row = 0.5 * (np.log(beta) - math.log(2 * math.pi)) - 0.5 * beta * (
            residuals**2 + leverage
        )
        return evidences, (per_row - evidences) / n

    def esm_logme(self, evidences: np.ndarray) -> np.ndarray:
        """ESM-LogME from per-column evidences (along the last axis): the mean over the
        target's own label columns (the first :attr:`real_columns`), whatever else is scored
        beside them."""
        return np.mean(evidences[..., : self.real_columns], axis=-1)

    def combine(self, evidences: np.ndarray) -> np.ndarray:
        """The score from per-column evidences (along the last axis): their mean. Linear, so
        it also turns :meth:`column_influences`' per-row derivatives into the score's."""
        return self.esm_logme(evidences)

    def score(self, features: np.ndarray) -> float:
        """The LogME score (mean evidence over label columns) of one feature matrix."""
        return float(self.combine(self.column_evidences(features)))

    def resampled_score(self, features: np.ndarray, counts: np.ndarray) -> float:
        """The score of the bootstrap resample that draws row ``i`` ``counts[i]`` times."""
        return float(self.combine(self.resampled_column_evidences(features, counts)))

    def linearised_scorer(self, features: np.ndarray) -> Callable[[np.ndarray], float]:
        """``scorer(weights)``: the score with row ``i`` counted ``weights[i]`` times, to first
        order around the plain score (see :meth:`column_influences`; N > D only): one
        eigen-decomposition now, then O(N) per call. ``scorer(ones)`` is the plain score."""
        evidences, influences = self.column_influences(features)
        point = float(self.combine(evidences))
        slope = self.combine(influences)
        return lambda weights: point + float((np.asarray(weights) - 1.0) @ slope)


def logme(features: np.ndarray, labels: np.ndarray, regression: bool = False) -> float:
    """LogME of ``features`` (N, D) for ``labels``; same value as :func:`logme_reference`."""
    return LogMETarget(labels, regression).score(features)


class LogME:
    """Drop-in for ``hfselect.logme.LogME``: ``LogME(regression).fit(f, y)`` returns the score."""

    def __init__(self, regression: bool = False):
        self.regression = regression

    def fit(self, f: np.ndarray, y: np.ndarray, add_intercept: bool = False) -> float:
        f = np.asarray(f, dtype=np.float64)
        if add_intercept:
            f = np.hstack((np.ones((f.shape[0], 1)), f))
        return logme(f, y, self.regression)


__all__ = ["LogME", "LogMETarget", "label_columns", "logme", "logme_reference"]
