"""The model card (``README.md``) of an ESM repo: the metadata that makes it discoverable, and text.

Discovery depends on the card's metadata, as in hf-dataset-selector: the tag
``embedding_space_map`` plus the ``base_model`` field, from which the Hub derives the
``base_model:<id>`` tags that ``HfApi.list_models`` filters on; hfselect also writes the tag
``BaseLM:<base model>``, ``datasets: [task_id]`` and ``license: apache-2.0``. The text says what
the ESM is, how it was trained (from the config's keys) and how to use it; user strings are
escaped for Markdown/HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.hub.discovery import ESM_TAG
from hfselect_widgets.engine.model_ids import canonical_model_id, is_hub_id

README_NAME = "README.md"
BASE_LM_TAG_PREFIX = "BaseLM:"
DEFAULT_LICENSE = "apache-2.0"

PAPER_URL = "https://aclanthology.org/2024.emnlp-main.529/"
PAPER_BIBTEX = """\
@inproceedings{schulte-etal-2024-less,
    title = "Less is More: Parameter-Efficient Selection of Intermediate Tasks for Transfer Learning",
    author = "Schulte, David  and
      Hamborg, Felix  and
      Akbik, Alan",
    booktitle = "Proceedings of the 2024 Conference on Empirical Methods in Natural Language Processing",
    month = nov,
    year = "2024",
    address = "Miami, Florida, USA",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2024.emnlp-main.529/",
    doi = "10.18653/v1/2024.emnlp-main.529",
    pages = "9431--9442",
}"""


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def _md(value: Any) -> str:
    """``value`` as inline Markdown text: HTML and Markdown syntax escaped, on one line."""
    if isinstance(value, (list, tuple)):
        return ", ".join(_md(v) for v in value)
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    text = " ".join(text.split())  # newlines would end a table row or list item
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=False))


def _code(value: Any) -> str:
    """``value`` as an inline code span (Markdown escapes do not work inside one)."""
    text = " ".join(str(value).split())
    return _md(text) if "`" in text or not text else f"`{text}`"


def _rows(pairs: list[tuple[str, Any]]) -> list[str]:
    """A two-column Markdown table of the pairs whose value is known."""
    lines = ["| | |", "|---|---|"]
    lines += [f"| {label} | {_md(value)} |" for label, value in pairs if value not in (None, "")]
    return lines if len(lines) > 2 else []


def card_metadata(config: ESMConfig, license: str = DEFAULT_LICENSE) -> dict[str, Any]:
    """The model card's YAML metadata for ``config``, as a dict (see :func:`build_model_card`).

    ``base_model`` is the canonical Hub id (``bert-base-uncased`` ->
    ``google-bert/bert-base-uncased``) because the Hub's ``base_model:<id>`` tags, which
    discovery filters on, name canonical ids; the ``BaseLM:`` tag keeps the config's spelling,
    as hfselect writes it. ``datasets`` lists ``task_id`` when it is a Hub id (a local file
    name would only leak a path).
    """
    base_model = str(config.base_model_name)
    metadata: dict[str, Any] = {
        "license": license,
        "base_model": canonical_model_id(base_model),
        "tags": [ESM_TAG, f"{BASE_LM_TAG_PREFIX}{base_model}"],
    }
    if is_hub_id(config.task_id):
        metadata["datasets"] = [config.task_id]
    return metadata


def build_model_card(
    config: ESMConfig, *, repo_id: str | None = None, license: str = DEFAULT_LICENSE
) -> str:
    """The ``README.md`` model card of an ESM: YAML metadata, then what, how trained, how to use.

    A pure function of the config. The metadata is rendered by
    ``huggingface_hub.ModelCardData`` (so user strings are quoted as YAML needs); strings in the
    text are escaped for Markdown/HTML. ``repo_id`` goes into the usage snippets (a placeholder
    when unknown). Fit quality appears when the config has the ``esm_fit_*`` extra keys that
    ``train_esm`` records.
    """
    from huggingface_hub import ModelCard, ModelCardData

    config.validate()
    metadata = card_metadata(config, license=license)
    card_data = ModelCardData(**metadata)
    extra = config.extra
    base = str(config.base_model_name)
    # Only ids go into the Python snippets, so no user string can break out of a code block.
    repo = repo_id if is_hub_id(repo_id) else "your-username/your-esm"
    base_id = base if is_hub_id(base) else "your-base-model"

    task = _md(config.task_id)
    if config.task_subset:
        task += f" (subset {_md(config.task_subset)})"
    dim = config.esm_embedding_dim
    shape = f"{dim} x {dim} " if dim else ""

    lines = [
        f"# Embedding Space Map for {task}",
        "",
        f"An **Embedding Space Map (ESM)** for the base model {_code(base)}, trained on the "
        f"intermediate dataset {task}. It approximates how fine-tuning {_code(base)} on that "
        f"dataset moves the model's text embeddings, with one linear layer "
        f"(`y = x W^T + b`, a {shape}map, architecture {_code(config.esm_architecture)}).",
        "",
        "ESMs are the core of **ESM-LogME** "
        f"([Schulte, Hamborg, Akbik, EMNLP 2024]({PAPER_URL})): to find the best datasets for "
        "intermediate fine-tuning before training on a small target dataset, embed a sample of "
        "the target once, apply each candidate dataset's ESM and score the mapped embeddings "
        "with LogME. This ESM lets rankings include the dataset above without fine-tuning on it.",
        "",
        "## Training data",
        "",
        *_rows(
            [
                ("Dataset", config.task_id),
                ("Subset", config.task_subset),
                ("Split", config.task_split),
                ("Text column(s)", config.text_column),
                ("Label column", config.label_column),
                ("Examples", config.num_examples),
                ("Sample seed", config.seed),
                ("Language", config.language),
                ("Dataset source", extra.get("dataset_source")),
                ("Dataset license", extra.get("dataset_license")),
                ("Dataset fingerprint", extra.get("dataset_fingerprint")),
            ]
        ),
        "",
        "## How it was trained",
        "",
        f"1. {_code(base)} was fine-tuned on the dataset (pooled embedding"
        + (f": {_md(extra['pooling'])}" if extra.get("pooling") else "")
        + ").",
        "2. The dataset was embedded with the base and the fine-tuned model.",
        "3. The ESM was fit to map base embeddings to fine-tuned embeddings.",
        "",
        "### Language model fine-tuning",
        "",
        *_rows(
            [
                ("Epochs", config.lm_num_epochs),
                ("Batch size", config.lm_batch_size),
                ("Learning rate", config.lm_learning_rate),
                ("Weight decay", config.lm_weight_decay),
                ("Optimizer", config.lm_optimizer),
                # Extra keys train_esm records (absent in hfselect-trained ESMs).
                ("Head", extra.get("lm_task")),
                ("Warm-up ratio", extra.get("lm_warmup_ratio")),
                ("Max. gradient norm", extra.get("lm_max_grad_norm")),
                ("Max. tokens per text", extra.get("lm_max_length")),
                ("Seed", extra.get("lm_seed")),
                ("Final training loss", extra.get("lm_final_loss")),
            ]
        ),
        "",
        "### ESM fit",
        "",
        *_rows(
            [
                ("Method", extra.get("esm_fit_method")),
                ("Epochs", config.esm_num_epochs),
                ("Batch size", config.esm_batch_size),
                ("Learning rate", config.esm_learning_rate),
                ("Weight decay", config.esm_weight_decay),
                ("Optimizer", config.esm_optimizer),
                ("Ridge (lambda)", extra.get("esm_ridge")),
                ("Seed", extra.get("esm_fit_seed")),
                ("Held-out share", extra.get("esm_fit_holdout")),
                ("Embedding dimension", config.esm_embedding_dim),
            ]
        ),
    ]
    quality = [
        ("Held-out MSE", extra.get("esm_fit_holdout_mse")),
        ("Held-out R²", extra.get("esm_fit_holdout_r2")),
        ("Training MSE", extra.get("esm_fit_train_mse")),
        ("Training R²", extra.get("esm_fit_train_r2")),
    ]
    if any(value is not None for _, value in quality):
        lines += [
            "",
            "### Fit quality",
            "",
            "How well the ESM reproduces the fine-tuned embeddings (MSE over all coordinates; "
            "R² = 1 - SSE/SST around the column means; held-out rows were not used to fit).",
            "",
            *_rows(quality),
        ]
    provenance = _rows(
        [
            ("Developers", config.developers),
            ("ESM format version", config.version),
            ("hfselect_widgets version", extra.get("hfselect_widgets_version")),
            # Training times, whatever step names the trainer recorded (e.g. finetune_seconds).
            *[
                (f"Time: {key.removesuffix('_seconds').replace('_', ' ')} (s)", value)
                for key, value in sorted(extra.items())
                if key.endswith("_seconds") and isinstance(value, (int, float))
            ],
        ]
    )
    if provenance:
        lines += ["", "### Provenance", "", *provenance]
    lines += [
        "",
        "## How to use",
        "",
        "Rank intermediate datasets for your target dataset with "
        "[hfselect_widgets](https://pypi.org/project/hfselect-widgets/) (this ESM alone, or "
        "leave out `esm_repo_ids` to rank against every ESM for the base model):",
        "",
        "```python",
        "from hfselect_widgets import Dataset, compute_task_ranking",
        "",
        'dataset = Dataset.from_file("my_target.csv", text_col="text", label_col="label")',
        "ranking = compute_task_ranking(",
        f"    dataset, model_name={base_id!r}, esm_repo_ids=[{repo!r}]",
        ")",
        "print(ranking)",
        "```",
        "",
        "or load it with [hf-dataset-selector](https://pypi.org/project/hf-dataset-selector/):",
        "",
        "```python",
        "from hfselect import ESM",
        "",
        f"esm = ESM.from_pretrained({repo!r})",
        "mapped = esm(base_embeddings)  # (N, D) embeddings of the base model -> (N, D)",
        "```",
        "",
        "The base model's embeddings must be pooled as during training: mean pooling for "
        "sentence-transformers models, the pooler output for BERT, the first token for "
        "DistilBERT/RoBERTa; texts truncated to 128 tokens.",
        "",
        "## Citation",
        "",
        f"If you use Embedding Space Maps, please cite the [paper]({PAPER_URL}):",
        "",
        "```bibtex",
        PAPER_BIBTEX,
        "```",
        "",
    ]
    content = f"---\n{card_data.to_yaml()}\n---\n\n" + "\n".join(lines)
    # Round-trip through ModelCard: it re-parses the YAML, so a card that the Hub would reject
    # as malformed fails here, locally.
    return str(ModelCard(content))


def card_metadata_from_readme(text: str) -> Mapping[str, Any]:
    """The YAML metadata of a model card's text as a dict (for checks and tests)."""
    from huggingface_hub import ModelCard

    return ModelCard(text).data.to_dict()


__all__ = [
    "DEFAULT_LICENSE",
    "README_NAME",
    "build_model_card",
    "card_metadata",
    "card_metadata_from_readme",
]
