"""The differences between ipywidgets 7.7 (what Google Colab ships) and 8.x, in one place.

The widget modules use only what both versions have, plus these helpers:

* :func:`set_titles`: page titles of a ``Tab`` or ``Accordion`` (8 has a ``titles`` trait and
  constructor argument; 7 only ``set_title(i, title)``, which 8 keeps).
* :func:`uploaded_files`: the files of a ``FileUpload`` (8: a tuple of dicts with ``name`` and
  a ``memoryview`` ``content``; 7: a dict ``name -> {"metadata": ..., "content": bytes}``).
* :func:`widget_mimebundle`: a widget's own display data, for a widget that adds outputs to it
  in ``_repr_mimebundle_``. 8 displays widgets through ``_repr_mimebundle_``; 7 through
  ``_ipython_display_``, which IPython prefers, so such a widget sets
  ``_ipython_display_ = None`` where :data:`USES_IPYTHON_DISPLAY` (see
  :class:`~.results.ResultsExplorer`).

Things that need no helper because both versions have them: ``Button(tooltip=...)`` and
``ToggleButton(tooltip=...)`` (other widgets: ``description_tooltip`` on 7, ``tooltip`` on 8;
none of ours sets one), ``ToggleButtons(tooltips=..., style={"button_width": ...})``,
``Combobox`` (7.5+), ``Accordion``/``Tab`` ``selected_index=None`` and ``get_title``, and
updating widgets from a worker thread. Not used because 7 lacks them: ``Stack``,
``TagsInput``, ``Datetime``. On 7 an unknown constructor argument (e.g. ``titles=``) is only a
``DeprecationWarning`` and is otherwise ignored: ``scripts/test_ipywidgets7.sh`` turns that
warning into an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import ipywidgets as widgets

IPYWIDGETS_VERSION: tuple[int, int] = tuple(  # type: ignore[assignment]
    int(part) for part in re.findall(r"\d+", widgets.__version__)[:2]
)
"""(major, minor) of the installed ipywidgets."""

IPYWIDGETS_7 = IPYWIDGETS_VERSION[0] < 8
"""Whether ipywidgets 7.x is installed (Google Colab)."""

USES_IPYTHON_DISPLAY = IPYWIDGETS_7
"""Whether widgets display through ``_ipython_display_`` (7) rather than
``_repr_mimebundle_`` (8)."""

WIDGET_VIEW_MIMETYPE = "application/vnd.jupyter.widget-view+json"


def set_titles(container: widgets.Widget, titles: Iterable[str]) -> None:
    """Give the pages of a ``Tab`` or ``Accordion`` these titles (in order).

    Call it after the children are set: both versions keep titles by page index.
    """
    for index, title in enumerate(titles):
        container.set_title(index, str(title))


def get_titles(container: widgets.Widget) -> tuple[str | None, ...]:
    """The page titles of a ``Tab`` or ``Accordion`` (``None`` where 7 has none set)."""
    return tuple(container.get_title(index) for index in range(len(container.children)))


def uploaded_files(upload: widgets.FileUpload) -> list[tuple[str, bytes]]:
    """The files of a ``FileUpload`` as ``(name, content)`` pairs, in upload order."""
    value = upload.value
    if not value:
        return []
    if isinstance(value, Mapping):  # ipywidgets 7: {name: {"metadata": ..., "content": bytes}}
        return [
            (str(item.get("metadata", {}).get("name", name)), bytes(item["content"]))
            for name, item in value.items()
        ]
    # ipywidgets 8: ({"name": ..., "content": memoryview, "type", "size", ...}, ...)
    return [(str(item["name"]), bytes(item["content"])) for item in value]


def widget_mimebundle(widget: widgets.Widget, **kwargs: Any) -> dict[str, Any]:
    """What the notebook receives for ``widget`` itself: its repr and the widget view."""
    if not USES_IPYTHON_DISPLAY:
        return dict(widgets.Widget._repr_mimebundle_(widget, **kwargs) or {})
    # ipywidgets 7 builds the same dict inside _ipython_display_ and displays it at once.
    plaintext = repr(widget)
    if len(plaintext) > 110:
        plaintext = plaintext[:110] + "…"
    data: dict[str, Any] = {"text/plain": plaintext}
    if widget._view_name is not None:
        data[WIDGET_VIEW_MIMETYPE] = {
            "version_major": 2,
            "version_minor": 0,
            "model_id": widget._model_id,
        }
    return data


__all__ = [
    "IPYWIDGETS_7",
    "IPYWIDGETS_VERSION",
    "USES_IPYTHON_DISPLAY",
    "WIDGET_VIEW_MIMETYPE",
    "get_titles",
    "set_titles",
    "uploaded_files",
    "widget_mimebundle",
]
