"""Talking to the Hub: the ``HfApi`` to use, and what a failure of a Hub call means.

:func:`is_connectivity_error` tells "the Hub cannot be reached (and nothing is cached)" from
other failures, so that callers can report one :class:`HubUnavailableError` instead of a
reason per ESM; :func:`describe_failure` gives the short, human reason for one failed ESM.
"""

from __future__ import annotations

from typing import Any

from hfselect_widgets.engine.esm.format import CONFIG_NAME, PYTORCH_BIN_NAME, SAFETENSORS_NAME
from hfselect_widgets.errors import ESMLoadError, InvalidESMConfigError


def hub_api(hf_api: Any | None = None) -> Any:
    """``hf_api`` if given, else a new ``huggingface_hub.HfApi()``."""
    if hf_api is not None:
        return hf_api
    from huggingface_hub import HfApi

    return HfApi()


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
    if isinstance(exc, LocalEntryNotFoundError):
        return "not in the Hugging Face cache and the Hub cannot be reached (offline)"
    if isinstance(exc, EntryNotFoundError):
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


__all__ = ["NETWORK_ERRORS", "describe_failure", "hub_api", "is_connectivity_error", "short_reason"]
