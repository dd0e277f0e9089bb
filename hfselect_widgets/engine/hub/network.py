"""Talking to the Hub: the ``HfApi`` to use, and what a failure of a Hub call means.

Offline in seconds: :func:`ensure_hub` probes the Hub once (a TCP connection to the endpoint,
or to the proxy, bounded by :data:`PROBE_TIMEOUT_S`; the answer is cached for
:data:`PROBE_TTL_S`). When it cannot be reached, ``huggingface_hub`` (and ``datasets``) are
switched to offline mode for this process, as ``HF_HUB_OFFLINE=1`` would: cached files are
used, anything else fails at once instead of after ``huggingface_hub``'s five retries with
backoff (23-27 s of "Retrying in Ns" lines per Hub touch). :func:`hub_unavailable` then builds
the one typed error, saying that the machine is offline.

:func:`is_connectivity_error` tells "the Hub cannot be reached (and nothing is cached)" from
other failures, so that callers can report one :class:`HubUnavailableError` instead of a
reason per ESM; :func:`describe_failure` gives the short, human reason for one failed ESM.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from hfselect_widgets.errors import ESMLoadError, HubUnavailableError, InvalidESMConfigError

PROBE_TIMEOUT_S = 3.0
"""How long the reachability probe waits for the Hub (name lookup and TCP connection)."""
PROBE_TTL_S = 60.0
"""How long a probe's answer holds; then the next Hub touch probes again (a notebook may
outlive a network outage)."""

_TRUE = ("1", "ON", "YES", "TRUE")
_probe_lock = threading.Lock()
# endpoint -> (checked at, reason it is unreachable or None)
_probe_cache: dict[str, tuple[float, str | None]] = {}
# The offline flags this module switched on (to switch them back when the Hub returns).
_switched: dict[str, Any] = {}
_offline_reason: str | None = None

Connector = Callable[[str, int, float], None]


def hub_api(hf_api: Any | None = None) -> Any:
    """``hf_api`` if given, else a new ``huggingface_hub.HfApi()`` (after :func:`ensure_hub`:
    offline, its calls fail at once instead of retrying)."""
    if hf_api is not None:
        return hf_api
    from huggingface_hub import HfApi

    ensure_hub()
    return HfApi()


def hub_endpoint() -> str:
    """The Hub endpoint ``huggingface_hub`` talks to (``HF_ENDPOINT`` or huggingface.co)."""
    try:
        from huggingface_hub import constants

        return str(constants.ENDPOINT)
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def user_offline_mode() -> bool:
    """Whether the user asked for offline mode (``HF_HUB_OFFLINE=1`` or the like)."""
    if any(
        os.environ.get(var, "").strip().upper() in _TRUE
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    ):
        return True
    if _offline_reason is not None:
        return False  # the flag below is ours, not the user's
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover
        return False


def _proxy_for(url: str) -> str | None:
    scheme = urlsplit(url).scheme or "https"
    for var in (f"{scheme}_proxy", "all_proxy"):
        value = os.environ.get(var) or os.environ.get(var.upper())
        if value:
            return value
    return None


def _no_proxy(host: str) -> bool:
    value = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    names = [n.strip().lstrip(".") for n in value.split(",") if n.strip()]
    return "*" in names or any(host == n or host.endswith("." + n) for n in names)


def _tcp_connect(host: str, port: int, timeout: float) -> None:
    with socket.create_connection((host, port), timeout=timeout):
        pass


def probe_hub(
    endpoint: str | None = None,
    *,
    timeout: float = PROBE_TIMEOUT_S,
    connect: Connector | None = None,
) -> str | None:
    """``None`` when the Hub (or the proxy to it) accepts a TCP connection within
    ``timeout`` seconds, else the reason it cannot be reached.

    The name lookup runs in the same bounded wait (a thread), so a dead resolver cannot hang
    it. ``connect(host, port, timeout)`` replaces the TCP connection (tests inject one).
    """
    endpoint = endpoint or hub_endpoint()
    target = endpoint
    parts = urlsplit(endpoint)
    proxy = None if _no_proxy(parts.hostname or "") else _proxy_for(endpoint)
    if proxy:
        target = proxy if "://" in proxy else "http://" + proxy
    where = urlsplit(target)
    host = where.hostname or ""
    port = where.port or (443 if where.scheme == "https" else 80)
    if not host:
        return f"the endpoint {endpoint!r} names no host"
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            (connect or _tcp_connect)(host, port, timeout)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported as the reason below
            outcome.append(exc)

    worker = threading.Thread(target=attempt, name="hfselect-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    via = f" (via the proxy {host}:{port})" if proxy else ""
    if not outcome:
        return f"{parts.hostname or host} did not answer within {timeout:g} s{via}"
    error = outcome[0]
    if error is None:
        return None
    detail = getattr(error, "strerror", None) or short_reason(error, 120) or type(error).__name__
    return f"{parts.hostname or host} cannot be reached{via} ({detail})"


def _set_offline_flags(value: bool) -> None:
    """Switch ``huggingface_hub`` and ``datasets`` (if imported) to (or back from) offline."""
    import sys

    from huggingface_hub import constants

    targets = [(constants, "HF_HUB_OFFLINE")]
    config = sys.modules.get("datasets.config")
    if config is not None:
        targets += [(config, "HF_HUB_OFFLINE"), (config, "HF_DATASETS_OFFLINE")]
    for module, name in targets:
        if not hasattr(module, name):
            continue
        key = f"{module.__name__}.{name}"
        if value:
            # A module imported after the switch read the switched value: its own is False
            # (this module only switches when the user did not ask for offline mode).
            _switched.setdefault(key, getattr(module, name) if _offline_reason is None else False)
            setattr(module, name, True)
        elif key in _switched:
            setattr(module, name, _switched.pop(key))


def ensure_hub(*, refresh: bool = False, connect: Connector | None = None) -> str | None:
    """Before a Hub touch: ``None`` when the Hub is reachable (or the user chose offline mode
    and the libraries handle it), else why it is not, with this process switched to offline
    mode (cached files only, no retries).

    Probes at most once per :data:`PROBE_TTL_S` per endpoint (``refresh`` forces a probe).
    Never raises: the Hub call that follows fails fast, and :func:`hub_unavailable` words it.
    """
    global _offline_reason
    if user_offline_mode():
        return None
    endpoint = hub_endpoint()
    with _probe_lock:
        now = time.monotonic()
        cached = _probe_cache.get(endpoint)
        if refresh or cached is None or now - cached[0] > PROBE_TTL_S:
            reason = probe_hub(endpoint, connect=connect)
            _probe_cache[endpoint] = (time.monotonic(), reason)
        else:
            reason = cached[1]
        if reason is None and _offline_reason is not None:
            _set_offline_flags(False)
            _offline_reason = None
        elif reason is not None:
            _set_offline_flags(True)
            _offline_reason = reason
    return reason


def offline_reason() -> str | None:
    """Why this process is offline when :func:`ensure_hub` found the Hub unreachable."""
    return _offline_reason


def reset_hub_state() -> None:
    """Forget the probe's answer and switch back any offline flag it set (tests, or after
    reconnecting in a notebook)."""
    global _offline_reason
    with _probe_lock:
        _probe_cache.clear()
        if _offline_reason is not None or _switched:
            _set_offline_flags(False)
        _offline_reason = None


def ensure_model_available(name: str | os.PathLike, *, role: str = "base model") -> None:
    """Before loading a model from the Hub: :class:`HubUnavailableError` (about the model,
    with advice about models) at once when the Hub cannot be reached, or offline mode is set
    (``HF_HUB_OFFLINE=1``), and the model is not in the Hugging Face cache, instead of
    ``transformers``' retries or its own error. A local folder, the pip-packaged demo model
    and a cached model pass."""
    from hfselect_widgets.engine.model_ids import (
        is_local_path,
        looks_like_path,
        resolve_model_source,
    )
    from hfselect_widgets.errors import ModelLoadError

    load_from, _ = resolve_model_source(str(name))
    if is_local_path(load_from):
        return
    if looks_like_path(load_from):  # a mistyped folder, not something to look up on the Hub
        raise ModelLoadError(str(name), "There is no folder at this path.")
    # HF_HUB_OFFLINE=1 (the user's choice): the cache answers, and without the model in it
    # the same one typed error as after a failed probe, not transformers' OSError.
    if ensure_hub() is None and not user_offline_mode():
        return
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        if isinstance(try_to_load_from_cache(load_from, "config.json"), str):
            return
    except HFValidationError:
        raise ModelLoadError(
            str(name), "It is neither a local folder nor a valid Hub model id."
        ) from None
    raise hub_unavailable(f"the {role} {str(name)!r}", field="model")


def hub_unavailable(
    what: str, exc: BaseException | None = None, *, field: str | None = None
) -> HubUnavailableError:
    """The one typed error for a Hub touch that failed for lack of a connection.

    Offline (the probe failed) it says so, with the probe's reason, rather than repeat the
    library's "offline mode is enabled" wording; otherwise the failure's short reason.
    """
    reason = _offline_reason
    if reason is not None:
        return HubUnavailableError(what, f"you are offline: {reason}", field=field, offline=True)
    if user_offline_mode():
        return HubUnavailableError(what, "HF_HUB_OFFLINE is set", field=field, offline_mode=True)
    return HubUnavailableError(what, short_reason(exc) if exc else None, field=field)


def _http_error_types() -> tuple[type[BaseException], ...]:
    """HTTP client errors that are not ``OSError`` (huggingface_hub 1.x/2.x use httpx)."""
    found: list[type[BaseException]] = []
    for module_name in ("httpx2", "httpx", "requests"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        base = getattr(module, "HTTPError", None) or getattr(module, "RequestException", None)
        if isinstance(base, type) and issubclass(base, BaseException):
            found.append(base)
    return tuple(found)


# OSError covers ConnectionError, TimeoutError and huggingface_hub's HfHubHTTPError.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (OSError, *_http_error_types())


def _transport_error_types() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for module_name in ("httpx2", "httpx"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        base = getattr(module, "TransportError", None)
        if isinstance(base, type):
            found.append(base)
    return tuple(found)


_TRANSPORT_ERRORS = _transport_error_types()


def is_connectivity_error(exc: BaseException) -> bool:
    """Whether ``exc`` means "the Hub cannot be reached (and the file is not cached)"."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    if isinstance(exc, LocalEntryNotFoundError | ConnectionError | TimeoutError):
        return True
    return bool(_TRANSPORT_ERRORS) and isinstance(exc, _TRANSPORT_ERRORS)


def describe_failure(exc: BaseException) -> str:
    """A short, human reason for why fetching or loading one ESM failed."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, ESMLoadError):
        return exc.reason
    if isinstance(exc, InvalidESMConfigError):
        return str(exc)
    if isinstance(exc, GatedRepoError):
        return "the repository is gated: accept its conditions on the Hub and log in"
    if isinstance(exc, RepositoryNotFoundError):
        return "the repository does not exist or is private"
    if isinstance(exc, RevisionNotFoundError):
        return "the requested revision does not exist"
    if isinstance(exc, LocalEntryNotFoundError) or (
        _offline_reason is not None and is_connectivity_error(exc)
    ):
        return "not in the Hugging Face cache and the Hub cannot be reached (offline)"
    if isinstance(exc, EntryNotFoundError):
        from hfselect_widgets.engine.esm.format import (
            CONFIG_NAME,
            PYTORCH_BIN_NAME,
            SAFETENSORS_NAME,
        )

        return (
            f"the repository lacks a file: {CONFIG_NAME} and {SAFETENSORS_NAME} or "
            f"{PYTORCH_BIN_NAME} are needed"
        )
    if is_connectivity_error(exc):
        return f"network error ({type(exc).__name__}: {short_reason(exc)})"
    return f"{type(exc).__name__}: {short_reason(exc)}"


def short_reason(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "NETWORK_ERRORS",
    "PROBE_TIMEOUT_S",
    "PROBE_TTL_S",
    "describe_failure",
    "ensure_hub",
    "ensure_model_available",
    "hub_api",
    "hub_endpoint",
    "hub_unavailable",
    "is_connectivity_error",
    "offline_reason",
    "probe_hub",
    "reset_hub_state",
    "short_reason",
    "user_offline_mode",
]
