"""Two LAPACK routines called without holding Python's GIL.

SciPy's ``scipy.linalg.lapack`` wrappers keep the GIL during the call, so ESMs scored in
concurrent threads (``ranking.score_embeddings(n_jobs=...)``) would queue behind each other in
``dsytrd``, the most expensive step of LogME. ``scipy.linalg.cython_lapack`` exports the same
routines as C function pointers; calling those through :mod:`ctypes` releases the GIL for the
duration of the call, so the threads really run in parallel.

If the pointers cannot be obtained (another SciPy build), :data:`AVAILABLE` is ``False`` and the
caller uses the ordinary wrappers: same numbers, just no parallelism.
"""

from __future__ import annotations

import ctypes

import numpy as np

_INT = ctypes.c_int
_P_INT = ctypes.POINTER(_INT)
_P_DOUBLE = ctypes.POINTER(ctypes.c_double)
_P_CHAR = ctypes.c_char_p


def _function(name: str, *argtypes):
    from scipy.linalg import cython_lapack

    capsule = cython_lapack.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    pointer = get_pointer(capsule, get_name(capsule))
    return ctypes.CFUNCTYPE(None, *argtypes)(pointer)


try:
    _dsytrd = _function(
        "dsytrd", _P_CHAR, _P_INT, _P_DOUBLE, _P_INT, _P_DOUBLE, _P_DOUBLE, _P_DOUBLE, _P_DOUBLE,
        _P_INT, _P_INT,
    )  # fmt: skip
    _dormqr = _function(
        "dormqr", _P_CHAR, _P_CHAR, _P_INT, _P_INT, _P_INT, _P_DOUBLE, _P_INT, _P_DOUBLE,
        _P_DOUBLE, _P_INT, _P_DOUBLE, _P_INT, _P_INT,
    )  # fmt: skip
    AVAILABLE = True
except Exception:  # pragma: no cover - depends on the SciPy build
    AVAILABLE = False


def _ptr(array: np.ndarray, offset: int = 0):
    return ctypes.cast(array.ctypes.data + 8 * offset, _P_DOUBLE)


def tridiagonalize(gram: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(diag, offdiag, Qᵀz)`` of the symmetric ``gram = Q T Qᵀ`` (lower triangle is read).

    The same computation as ``lapack.dsytrd`` + ``lapack.dormqr`` in ``logme._tridiagonalize``,
    without the GIL. ``gram`` is overwritten.
    """
    size = gram.shape[0]
    a = np.asfortranarray(gram)
    n, lda = _INT(size), _INT(size)
    diag = np.empty(size)
    offdiag = np.empty(size - 1)
    tau = np.empty(size - 1)
    lwork = _INT(size * 64)
    work = np.empty(lwork.value)
    info = _INT(0)
    _dsytrd(b"L", n, _ptr(a), lda, _ptr(diag), _ptr(offdiag), _ptr(tau), _ptr(work), lwork, info)
    if info.value != 0:
        raise np.linalg.LinAlgError(f"dsytrd failed (info={info.value})")
    # Qᵀ acts on rows 2..n; its reflectors are a[1:, :-1] stored like a QR factorisation.
    rotated = np.array(z, dtype=np.float64, order="F", copy=True)
    tail = np.asfortranarray(rotated[1:])
    columns = tail.shape[1]
    m, k = _INT(size - 1), _INT(size - 1)
    work = np.empty(max(1, columns) * 64)
    _dormqr(
        b"L", b"T", m, _INT(columns), k, _ptr(a, 1), lda, _ptr(tau), _ptr(tail),
        _INT(size - 1), _ptr(work), _INT(work.size), info,
    )  # fmt: skip
    if info.value != 0:
        raise np.linalg.LinAlgError(f"dormqr failed (info={info.value})")
    rotated[1:] = tail
    return diag, offdiag, rotated
