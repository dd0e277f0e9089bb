"""Tiny, randomly initialised transformers models and tokenizers for offline tests.

``make_tiny_model(folder, kind)`` writes a complete model folder (config, weights, tokenizer) that
``AutoModel``/``AutoTokenizer.from_pretrained(folder)`` load without network access. Models are
seeded, so the same call always writes the same weights, and small (hidden size 32, two layers),
so building and running one takes well under a second.

Kinds:

``"bert"``                  ``BertModel`` with a pooler and a WordPiece tokenizer
``"bert-no-pooler"``        a BERT checkpoint saved without pooler weights
``"sentence-transformers"`` a BERT folder laid out like the real ``all-MiniLM-L6-v2`` folder
                            (``modules.json``, ``1_Pooling/config.json``, ``2_Normalize``)
``"distilbert"``            ``DistilBertModel`` with the WordPiece tokenizer
``"roberta"``               ``RobertaModel`` with a byte-level BPE tokenizer
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

KINDS = ("bert", "bert-no-pooler", "sentence-transformers", "distilbert", "roberta")

HIDDEN_SIZE = 32

TINY_TEXTS = [
    "A good movie.",
    "The plot was bad and the acting was worse, but the music saved some scenes.",
    "Great!",
    "I would not watch it again.",
    "",
    "An unexpectedly moving story about a family, a farm and a very stubborn goat.",
    "ok",
    "Terrible sound, terrible lighting, terrible script; the worst film of the year by far.",
    "The book was better.",
    "Five stars, would recommend to anyone who likes slow, quiet, thoughtful cinema.",
    "Meh.",
    "Is this a comedy or a drama? Nobody seems to know, least of all the director.",
    "The cast is excellent.",
    "Too long.",
    "Visually stunning, emotionally empty, and at least forty minutes longer than it needed to "
    "be, with a final act that repeats the same scene three times in a row.",
    "Loved it!",
    "The dialogue felt natural and the pacing was just right.",
    "2 out of 10",
    "Why?",
    "A classic that still holds up after thirty years, even if some effects look dated now.",
]
"""Twenty short, varied sentences (one empty); several exceed a max_length of 16 tokens."""

_SPECIAL_WORDPIECE = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789"
_PUNCTUATION = ".,!?;:'\"-()"
_WORDS = [
    "the", "a", "an", "and", "is", "was", "it", "of", "to", "movie", "film", "good", "bad",
    "great", "story", "music", "acting", "plot", "book", "terrible", "loved", "would", "not",
]  # fmt: skip


def _wordpiece_vocab() -> list[str]:
    # Single characters plus their "##" continuations can spell any lowercase ASCII word.
    return (
        _SPECIAL_WORDPIECE
        + list(_CHARACTERS)
        + list(_PUNCTUATION)
        + ["##" + c for c in _CHARACTERS]
        + _WORDS
    )


def _write_wordpiece_tokenizer(folder: Path, tokenizer_class) -> None:
    (folder / "vocab.txt").write_text("\n".join(_wordpiece_vocab()) + "\n", encoding="utf-8")
    tokenizer = tokenizer_class.from_pretrained(str(folder), model_max_length=512)
    tokenizer.save_pretrained(str(folder))


def _write_byte_level_bpe_tokenizer(folder: Path) -> int:
    """A RoBERTa tokenizer over the 256 byte symbols plus a few merges; returns its vocab size."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import RobertaTokenizer

    vocab = {}
    for token in ["<s>", "<pad>", "</s>", "<unk>", *sorted(ByteLevel.alphabet())]:
        vocab[token] = len(vocab)
    merges = ["Ġ t", "h e", "Ġt he", "i n", "e r", "o n", "Ġ a"]
    for merge in merges:
        vocab.setdefault(merge.replace(" ", ""), len(vocab))
    vocab["<mask>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", "utf-8")
    tokenizer = RobertaTokenizer.from_pretrained(str(folder), model_max_length=512)
    tokenizer.save_pretrained(str(folder))
    return len(vocab)


def _write_sentence_transformers_files(folder: Path, pooling_mode: str) -> None:
    """The sentence-transformers module files of ``all-MiniLM-L6-v2``, for our tiny model."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    (folder / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    (folder / "1_Pooling").mkdir(exist_ok=True)
    pooling = {
        "word_embedding_dimension": HIDDEN_SIZE,
        "pooling_mode_cls_token": pooling_mode == "cls",
        "pooling_mode_mean_tokens": pooling_mode == "mean",
        "pooling_mode_max_tokens": pooling_mode == "max",
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2), "utf-8")
    (folder / "2_Normalize").mkdir(exist_ok=True)
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 256, "do_lower_case": False}), encoding="utf-8"
    )


def make_tiny_model(
    folder: str | Path,
    kind: str = "bert",
    seed: int = 0,
    st_pooling_mode: str = "mean",
) -> Path:
    """Write a tiny random model of ``kind`` (see the module docstring) into ``folder``.

    ``st_pooling_mode`` ("mean", "cls" or "max") is the pooling that a sentence-transformers
    folder declares in ``1_Pooling/config.json``. The global torch RNG state is left untouched.
    """
    from transformers import (
        BertConfig,
        BertModel,
        BertTokenizer,
        DistilBertConfig,
        DistilBertModel,
        DistilBertTokenizer,
        RobertaConfig,
        RobertaModel,
    )
    from transformers.utils import logging as hf_logging

    if kind not in KINDS:
        raise ValueError(f"Unknown tiny model kind {kind!r}; choose one of {KINDS}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bert_like = dict(
        hidden_size=HIDDEN_SIZE,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )

    if kind == "roberta":
        vocab_size = _write_byte_level_bpe_tokenizer(folder)
    else:
        tokenizer_class = DistilBertTokenizer if kind == "distilbert" else BertTokenizer
        _write_wordpiece_tokenizer(folder, tokenizer_class)
        vocab_size = len(_wordpiece_vocab())

    progress_bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # keep "Writing model shards" bars out of test output
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if kind == "distilbert":
                config = DistilBertConfig(
                    vocab_size=vocab_size,
                    dim=HIDDEN_SIZE,
                    n_layers=2,
                    n_heads=2,
                    hidden_dim=64,
                    max_position_embeddings=512,
                )
                model = DistilBertModel(config)
            elif kind == "roberta":
                config = RobertaConfig(
                    vocab_size=vocab_size,
                    pad_token_id=1,
                    bos_token_id=0,
                    eos_token_id=2,
                    type_vocab_size=1,
                    **{**bert_like, "max_position_embeddings": 514},
                )
                model = RobertaModel(config)
            else:
                config = BertConfig(vocab_size=vocab_size, pad_token_id=0, **bert_like)
                model = BertModel(config, add_pooling_layer=kind != "bert-no-pooler")
            model.eval()
            model.save_pretrained(str(folder))
    finally:
        if progress_bars_were_on:
            hf_logging.enable_progress_bar()

    if kind == "sentence-transformers":
        _write_sentence_transformers_files(folder, st_pooling_mode)
    return folder
