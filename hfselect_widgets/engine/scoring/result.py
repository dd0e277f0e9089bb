"""TaskRanking: the ranked intermediate datasets, with everything needed to reproduce and export it.

Compatible with ``hfselect.TaskRanking`` (sorted descending, NaN scores removed, printed top list
``"1.   <task_id>   Score: <score>"``, ``to_pandas()`` indexed by Rank with the same columns,
integer/slice indexing returning rankings), plus:

* ``repo_ids``: the ESM repo id (or folder) of each row;
* ``failures``: ESMs that could not be scored and why;
* ``metadata``: model, pooling, dataset, sample size, seed, package versions, time;
* a short ``repr`` (top 10 and a count) and an HTML repr for notebooks;
* export to CSV/JSON and loading back (:meth:`to_csv`, :meth:`to_json`, :meth:`load`).
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hfselect_widgets.engine._io import atomic_write, to_json
from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.model_ids import is_hub_id
from hfselect_widgets.errors import InvalidTaskRankingError

# Column name -> ESMConfig attribute, in hfselect's to_pandas order.
PANDAS_COLUMNS = {
    "Task ID": "task_id",
    "Task Subset": "task_subset",
    "Text Column": "text_column",
    "Label Column": "label_column",
    "Task Split": "task_split",
    "Num Examples": "num_examples",
    "ESM Architecture": "esm_architecture",
}
REPO_ID_COLUMN = "ESM Repo ID"
SCORE_COLUMN = "Score"
SHORT_REPR_ROWS = 10
HTML_REPR_ROWS = 20


def _fmt_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _exported_config(config) -> dict[str, Any]:
    """An ESM config for a ranking's JSON. The source mean embedding (``textemb``'s input, D
    floats) is left out: it was 95 % of a 10,000-row ranking's JSON (126 MB, 24 s to write) and
    is read from the ESM itself when needed."""
    from hfselect_widgets.engine.scoring.rankers import SOURCE_EMBEDDING_KEY

    data = config.to_dict()
    data.pop(SOURCE_EMBEDDING_KEY, None)
    return data


def _fmt_score(value: float | None, decimals: int) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{decimals}f}"


class TaskRanking(Sequence):
    """Intermediate datasets ranked by a ranker's score (higher is better): ESM-LogME, or the
    ranker recorded in ``metadata["ranker"]``.

    Args:
        esm_configs: the configs of the scored ESMs (each may carry ``repo_id``).
        scores: one score per config; NaN scores are dropped.
        ranks: optional ranks (kept when slicing; normally leave ``None``).
        failures: ESMs that were skipped, ``{repo id or folder: reason}``.
        metadata: how the ranking was made (see :func:`compute_task_ranking`).
    """

    def __init__(
        self,
        esm_configs: Sequence[ESMConfig],
        scores: Sequence[float],
        ranks: Sequence[int] | None = None,
        *,
        failures: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        _allow_empty: bool = False,
    ):
        esm_configs = list(esm_configs)
        scores = [float(s) for s in scores]
        if len(esm_configs) != len(scores):
            raise InvalidTaskRankingError(
                f"Task ranking contains {len(esm_configs)} ESM configs but {len(scores)} scores."
            )
        if ranks is not None and len(ranks) != len(scores):
            raise InvalidTaskRankingError(
                f"Task ranking contains {len(esm_configs)} ESM configs but {len(ranks)} ranks."
            )
        keep = [i for i, s in enumerate(scores) if not math.isnan(s)]
        self.failures: dict[str, str] = dict(failures or {})
        for i, score in enumerate(scores):
            if math.isnan(score):
                self.failures.setdefault(_source_of(esm_configs[i], i), "the score is NaN")
        # Stable sort, descending; ties keep input order.
        order = sorted(keep, key=lambda i: -scores[i])
        self.esm_configs: list[ESMConfig] = [esm_configs[i] for i in order]
        self.scores: list[float] = [scores[i] for i in order]
        self.ranks: list[int] = (
            list(range(1, len(order) + 1)) if ranks is None else [int(ranks[i]) for i in order]
        )
        self.metadata: dict[str, Any] = dict(metadata or {})
        if not self.esm_configs and not _allow_empty:
            reasons = "; ".join(f"{k}: {v}" for k, v in list(self.failures.items())[:5])
            raise InvalidTaskRankingError(
                "Task ranking is empty: no ESM could be scored."
                + (f" Failures: {reasons}" if reasons else "")
            )

    # -- sequence protocol -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.esm_configs)

    def __getitem__(self, index: int | slice) -> TaskRanking:
        if isinstance(index, slice):
            configs, scores, ranks = (
                self.esm_configs[index],
                self.scores[index],
                self.ranks[index],
            )
        elif isinstance(index, (int, np.integer)):
            i = int(index)
            configs, scores, ranks = [self.esm_configs[i]], [self.scores[i]], [self.ranks[i]]
        else:
            raise TypeError(f"TaskRanking indices must be int or slice, not {type(index).__name__}")
        return TaskRanking(
            configs,
            scores,
            ranks,
            failures=self.failures,
            metadata=self.metadata,
            _allow_empty=True,
        )

    def __iter__(self) -> Iterator[TaskRanking]:
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TaskRanking)
            and self.scores == other.scores
            and self.ranks == other.ranks
            # Compared as exported, so a ranking equals itself read back from JSON.
            and [_exported_config(c) for c in self.esm_configs]
            == [_exported_config(c) for c in other.esm_configs]
        )

    # -- accessors ---------------------------------------------------------------------------

    @property
    def task_ids(self) -> list[str]:
        return [c.task_id for c in self.esm_configs]

    @property
    def repo_ids(self) -> list[str | None]:
        """The ESM repo id (Hub) or folder (local) of each row."""
        return [c.repo_id or c.source for c in self.esm_configs]

    @property
    def ranker(self) -> str:
        """The ranker that ordered the rows (``metadata["ranker"]``); a ranking that records
        none (hfselect's, or one loaded from CSV) is ordered by ESM-LogME."""
        return self.metadata.get("ranker") or "esm-logme"

    def top(self, k: int = 10) -> TaskRanking:
        """The first ``k`` rows."""
        return self[:k]

    # -- text output -------------------------------------------------------------------------

    def _format_lines(
        self, score_rounding: int | None = None, decimals: int | None = None
    ) -> list[str]:
        """hfselect's ``"1.   <task_id>   Score: <score>"`` lines; ``decimals`` prints every
        score with that many decimals (aligned, as the CLI does) instead of rounding.

        A ranking by another ranker than ESM-LogME adds ``"ESM-LogME: <score>"`` to each line:
        hf-dataset-selector's score stays in view whichever ranker ordered the rows."""

        def shown(value: float) -> Any:
            if decimals is not None:
                return f"{value:.{decimals}f}"
            return round(value, score_rounding) if score_rounding else value

        other_ranker = self.ranker != "esm-logme"
        lines = []
        for rank, config, score in zip(self.ranks, self.esm_configs, self.scores, strict=True):
            line = f"{str(rank) + '.':<5}{config.task_id!s:<50}Score: {shown(score)}"
            plain = (config.ranker_scores or {}).get("esm-logme") if other_ranker else None
            if plain is not None and math.isfinite(plain):
                line += f"  ESM-LogME: {shown(plain)}"
            if config.rank_interval:
                r = config.rank_interval
                ranks = (
                    str(r["rank_low"])
                    if r["rank_low"] == r["rank_high"]
                    else f"{r['rank_low']}-{r['rank_high']}"
                )
                line += f"  ranks {ranks}, P(rank 1) {r['p_first']:.2f}, P(top 3) {r['p_top3']:.2f}"
            lines.append(line)
        return lines

    def __str__(self) -> str:
        text = "\n".join(self[:SHORT_REPR_ROWS]._format_lines(score_rounding=6))
        return text + ("\n..." if len(self) > SHORT_REPR_ROWS else "")

    def __repr__(self) -> str:
        head = f"TaskRanking of {len(self)} intermediate dataset{'s' if len(self) != 1 else ''}"
        if self.failures:
            head += f" ({len(self.failures)} ESMs skipped, see .failures)"
        lines = [head + ":"] + self[:SHORT_REPR_ROWS]._format_lines(score_rounding=6)
        if len(self) > SHORT_REPR_ROWS:
            lines.append(f"... and {len(self) - SHORT_REPR_ROWS} more (see .to_pandas())")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_html(max_rows=HTML_REPR_ROWS)

    def to_html(
        self, max_rows: int = HTML_REPR_ROWS, *, explain: bool = False, show_warnings: bool = True
    ) -> str:
        """An HTML table of the first ``max_rows`` rows, captioned with the whole ranking's size
        (and the number of rows left out below it).

        The ESM column shows the Hub repo id or the folder's name (the full path in its
        ``title``); a candidate's ``dataset_description`` is shown under its id; the ranking's
        warnings follow in amber (unless ``show_warnings=False``). ``explain`` adds the sentences of :func:`.explain_scores`.
        """
        from hfselect_widgets.engine.scoring.explain import (
            candidate_description,
            ranking_warnings,
            score_axis_label,
            score_decimals,
            short_source,
        )

        max_rows = max(0, int(max_rows))
        decimals = score_decimals(self.scores)
        # another ranker ordered the rows: hf-dataset-selector's score in a column beside it
        plain = (
            [(c.ranker_scores or {}).get("esm-logme") for c in self.esm_configs[:max_rows]]
            if self.ranker != "esm-logme"
            else []
        )
        show_plain = any(v is not None for v in plain)
        plain_decimals = score_decimals([v for v in plain if v is not None]) if show_plain else 0
        rows = []
        for index, (rank, config, score, repo) in enumerate(
            zip(
                self.ranks[:max_rows],
                self.esm_configs[:max_rows],
                self.scores[:max_rows],
                self.repo_ids[:max_rows],
                strict=True,
            )
        ):
            task = html.escape(str(config.task_id))
            if "/" in str(config.task_id) and is_hub_id(config.task_id):
                task = (
                    f'<a href="https://huggingface.co/datasets/{html.escape(str(config.task_id))}"'
                    f' target="_blank">{task}</a>'
                )
            description = candidate_description(config)
            if description:
                task += (
                    f"<br><span style='color:#555;font-size:90%'>{html.escape(description)}</span>"
                )
            full = _fmt_cell(repo)
            rows.append(
                "<tr>"
                f"<td>{rank}</td><td>{task}</td>"
                f"<td>{html.escape(_fmt_cell(config.task_subset))}</td>"
                f"<td>{html.escape(_fmt_cell(config.task_split))}</td>"
                f"<td>{html.escape(_fmt_cell(config.num_examples))}</td>"
                f"<td style='text-align:right'>{score:.{decimals}f}</td>"
                + (
                    f"<td style='text-align:right'>{_fmt_score(plain[index], plain_decimals)}</td>"
                    if show_plain
                    else ""
                )
                + f"<td title='{html.escape(full, quote=True)}' style='white-space:nowrap'>"
                f"<code>{html.escape(short_source(full))}</code></td>"
                "</tr>"
            )
        more = len(self) - max_rows
        caption = f"TaskRanking: {len(self)} intermediate datasets"
        if self.failures:
            caption += f", {len(self.failures)} ESMs skipped"
        model = self.metadata.get("model_name")
        if model:
            caption += f" (base model {html.escape(str(model))})"
        footer = (
            f"<p>... and {more} more rows: use <code>.to_pandas()</code>.</p>" if more > 0 else ""
        )
        if show_warnings:
            footer += warnings_html(ranking_warnings(self))
        if explain:
            from hfselect_widgets.engine.scoring.explain import explain_scores

            footer += "".join(
                f"<p style='margin:2px 0'>{html.escape(s)}</p>" for s in explain_scores(self)
            )
        return (
            f"<div><table><caption style='text-align:left'>{caption}</caption>"
            "<thead><tr><th>Rank</th><th>Task ID</th><th>Subset</th><th>Split</th>"
            f"<th>Examples</th><th title='{html.escape(score_axis_label(self), quote=True)}'>"
            "Score (higher is better)</th>"
            + ('<th title="hf-dataset-selector\'s score">ESM-LogME</th>' if show_plain else "")
            + "<th>ESM</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{footer}</div>"
        )

    # -- tables and export ------------------------------------------------------------------

    def to_pandas(self, with_repo_id: bool = False) -> pd.DataFrame:
        """The ranking as a DataFrame indexed by Rank, with hfselect's columns.

        ``with_repo_id=True`` adds the ``ESM Repo ID`` column (before ``Score``).
        """
        data: dict[str, list] = {"Rank": list(self.ranks)}
        for column, attr in PANDAS_COLUMNS.items():
            data[column] = [getattr(c, attr) for c in self.esm_configs]
        # No subset is an empty cell, not "None".
        data["Task Subset"] = [v if v is not None else "" for v in data["Task Subset"]]
        if with_repo_id:
            data[REPO_ID_COLUMN] = self.repo_ids
        data[SCORE_COLUMN] = list(self.scores)
        if self.ranker != "esm-logme":
            # Another ranker ordered the rows: every ranker's score beside it, ESM-LogME (the
            # hf-dataset-selector score) always among them.
            names = dict.fromkeys(n for c in self.esm_configs for n in c.ranker_scores)
            for name in names:
                data[f"Score ({name})"] = [
                    c.ranker_scores.get(name, float("nan")) for c in self.esm_configs
                ]
        if any(c.rank_interval for c in self.esm_configs):
            # The bootstrap over the target rows (top K only; the others have no interval).
            def interval(c, key):
                return c.rank_interval.get(key) if c.rank_interval else None

            data["Rank Interval"] = [
                None
                if not c.rank_interval
                else (
                    str(c.rank_interval["rank_low"])
                    if c.rank_interval["rank_low"] == c.rank_interval["rank_high"]
                    else f"{c.rank_interval['rank_low']}-{c.rank_interval['rank_high']}"
                )
                for c in self.esm_configs
            ]
            data["P(Rank 1)"] = [interval(c, "p_first") for c in self.esm_configs]
            data["P(Top 3)"] = [interval(c, "p_top3") for c in self.esm_configs]
        return pd.DataFrame.from_dict(data).set_index("Rank")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: metadata, failures and one entry per row with its config (all of it
        but the source's mean embedding, which stays in the ESM: see :func:`_exported_config`)."""
        return {
            "format": "hfselect_widgets.TaskRanking/1",
            "metadata": self.metadata,
            "failures": self.failures,
            "rows": [
                {
                    "rank": rank,
                    "score": score,
                    "repo_id": config.repo_id,
                    "source": config.source,
                    "config": _exported_config(config),
                    **({"ranker_scores": config.ranker_scores} if config.ranker_scores else {}),
                    **({"rank_interval": config.rank_interval} if config.rank_interval else {}),
                }
                for rank, config, score in zip(
                    self.ranks, self.esm_configs, self.scores, strict=True
                )
            ],
        }

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """Serialise to JSON (and write it atomically to ``path`` if given)."""
        text = to_json(self.to_dict(), indent=2) + "\n"
        if path is not None:
            atomic_write(path, text)
        return text

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """The table (with repo ids) as CSV (written atomically to ``path`` if given)."""
        frame = self.to_pandas(with_repo_id=True).copy()
        frame["Text Column"] = [
            json.dumps(v) if isinstance(v, list) else v for v in frame["Text Column"]
        ]
        text = frame.to_csv()
        if path is not None:
            atomic_write(path, text)
        return text

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskRanking:
        rows = data.get("rows", [])
        configs = [
            ESMConfig.from_dict(
                r.get("config", {}), repo_id=r.get("repo_id"), source=r.get("source")
            )
            for r in rows
        ]
        for config, row in zip(configs, rows, strict=True):
            config.ranker_scores = dict(row.get("ranker_scores") or {})
            config.rank_interval = row.get("rank_interval")
        return cls(
            configs,
            [r["score"] for r in rows],
            [r["rank"] for r in rows],
            failures=data.get("failures"),
            metadata=data.get("metadata"),
            _allow_empty=True,
        )

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> TaskRanking:
        """Load a ranking written by :meth:`to_csv` (or hfselect's ``to_pandas().to_csv()``)."""
        frame = pd.read_csv(path)
        missing = [c for c in ["Rank", "Task ID", SCORE_COLUMN] if c not in frame.columns]
        if missing:
            raise InvalidTaskRankingError(
                f"{path} is not a saved ranking: missing column(s) {', '.join(missing)}."
            )
        configs = []
        for _, row in frame.iterrows():
            values = {}
            for column, attr in PANDAS_COLUMNS.items():
                value = row.get(column)
                if isinstance(value, float) and math.isnan(value):
                    value = None
                if attr == "text_column" and isinstance(value, str) and value.startswith("["):
                    value = json.loads(value)
                if attr == "num_examples" and value is not None:
                    value = int(value)
                values[attr] = value
            repo = row.get(REPO_ID_COLUMN)
            repo = None if isinstance(repo, float) and math.isnan(repo) else repo
            configs.append(ESMConfig(**values, repo_id=repo))
        return cls(
            configs,
            frame[SCORE_COLUMN].astype(float).tolist(),
            frame["Rank"].astype(int).tolist(),
            _allow_empty=True,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> TaskRanking:
        """Load a ranking saved with :meth:`to_json` or :meth:`to_csv`.

        The content decides, not the suffix alone: a CSV saved under a ``.json`` name (the
        CLI's ``-o`` writes CSV whatever the name) loads as CSV. Anything else raises an
        :class:`~hfselect_widgets.errors.InvalidTaskRankingError` naming the file."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith("{"):
            try:
                return cls.from_dict(json.loads(text))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InvalidTaskRankingError(
                    f"{path} is not a ranking saved as JSON ({type(exc).__name__}: {exc})."
                ) from exc
        try:
            return cls.from_csv(path)
        except InvalidTaskRankingError:
            raise
        except Exception as exc:  # pandas parser errors, missing columns, bad values
            raise InvalidTaskRankingError(
                f"{path} is not a saved ranking ({type(exc).__name__}: {exc}): expected the JSON "
                "of to_json() / --output-json or the CSV of to_csv() / --output-csv."
            ) from exc


WARNING_COLOUR = "#8a5300"
"""Amber: the colour of warnings in HTML output (the widgets' ``warn`` colour)."""


def warnings_html(messages: Sequence[str]) -> str:
    """The warnings as amber paragraphs ("" when there are none)."""
    return "".join(
        f"<p class='hfsw-warning' style='color:{WARNING_COLOUR};margin:2px 0'>"
        f"&#9888; {html.escape(str(m))}</p>"
        for m in messages
    )


def _source_of(config: ESMConfig, index: int) -> str:
    return config.repo_id or config.source or f"{config.task_id} (#{index})"


__all__ = ["PANDAS_COLUMNS", "TaskRanking", "WARNING_COLOUR", "warnings_html"]
