"""Ranking quality as a feature (engine/evaluation): metrics, real transfer, report, resume.

The end-to-end test builds, on a tiny model, a source made to transfer (the target's own rule
on other rows) and one made not to (random labels), measures real transfer and checks that the
metrics tell them apart. The metric functions are checked against hand-computed cases.
"""

from __future__ import annotations

import json
import random
import re
import warnings

import numpy as np
import pytest
import torch
from tiny_models import make_tiny_model

from hfselect_widgets.engine.data.dataset import Dataset
from hfselect_widgets.engine.embedding.model import clear_model_cache, embed_texts, load_base_model
from hfselect_widgets.engine.evaluation import (
    NO_TRANSFER,
    TransferStore,
    TransferTarget,
    build_report,
    compare,
    evaluate,
    measure_transfer,
    report_from_results,
    self_retrieval,
    static_scores,
    summarize,
)
from hfselect_widgets.engine.evaluation.metrics import (
    kendall_tau,
    ndcg_at_k,
    regret_at_k,
    spearman,
    target_metrics,
)
from hfselect_widgets.engine.scoring.logme import logme
from hfselect_widgets.engine.scoring.rankers import (
    RANKERS,
    SOURCE_EMBEDDING_KEY,
    knn_score,
    make_scorer,
    rank_fusion,
)
from hfselect_widgets.engine.training.finetune import FineTuneConfig
from hfselect_widgets.engine.training.quality import TrainingQualityWarning
from hfselect_widgets.engine.training.train import train_esm
from hfselect_widgets.errors import RankingCancelled

# --- metrics against hand-computed cases ------------------------------------------------------


def test_regret_is_the_share_of_the_best_lost_by_the_top_k():
    perf = [0.80, 0.90, 0.70]  # source 1 is best; no transfer reaches 0.85
    order = [2, 0, 1]  # the ranker puts the worst first, the best last
    assert regret_at_k(order, perf, best=0.90, k=1) == pytest.approx(100 * (0.90 - 0.70) / 0.90)
    assert regret_at_k(order, perf, best=0.90, k=2) == pytest.approx(100 * (0.90 - 0.80) / 0.90)
    assert regret_at_k(order, perf, best=0.90, k=3) == pytest.approx(0.0)
    # No transfer beating every source counts as the best achievable.
    metrics = target_metrics([3, 2, 1], [0.8, 0.7, 0.6], no_transfer=1.0, ks=(1,))
    assert metrics["regret@1"] == pytest.approx(20.0)


def test_ndcg_spearman_and_kendall_by_hand():
    perf = [0.5, 0.7, 0.6]  # gains over the minimum: 0, 0.2, 0.1
    ideal = 0.2 + 0.1 / np.log2(3)
    assert ndcg_at_k([1, 2, 0], perf, k=2) == pytest.approx(1.0)
    assert ndcg_at_k([2, 1, 0], perf, k=2) == pytest.approx((0.1 + 0.2 / np.log2(3)) / ideal)
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    # Kendall tau-b with one discordant pair of three: (2 - 1) / 3.
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)


def test_ties_in_the_score_are_broken_against_the_ranker():
    metrics = target_metrics([1.0, 1.0], [0.9, 0.5], no_transfer=None, ks=(1,))
    assert metrics["hit@1"] == 0.0
    assert metrics["regret@1"] > 0


TRUTH = {
    "t1": {
        "a": {0: 0.9, 1: 0.8},
        "b": {0: 0.6, 1: 0.7},
        "c": {0: 0.5, 1: 0.5},
        NO_TRANSFER: {0: 0.6},
    },
    "t2": {
        "a": {0: 0.4, 1: 0.5},
        "b": {0: 0.8, 1: 0.9},
        "c": {0: 0.6, 1: 0.6},
        NO_TRANSFER: {0: 0.5},
    },
    "t3": {
        "a": {0: 0.7, 1: 0.7},
        "b": {0: 0.5, 1: 0.4},
        "c": {0: 0.9, 1: 0.8},
        NO_TRANSFER: {0: 0.6},
    },
}
ORACLE = {t: {s: float(np.mean(list(v.values()))) for s, v in by.items() if s != NO_TRANSFER}
          for t, by in TRUTH.items()}  # fmt: skip
INVERSE = {t: {s: -v for s, v in row.items()} for t, row in ORACLE.items()}


def test_evaluate_an_oracle_and_an_inverse_ranker_with_intervals():
    oracle = evaluate(ORACLE, TRUTH, num_bootstrap=200)
    inverse = evaluate(INVERSE, TRUTH, num_bootstrap=200)
    assert oracle["regret@1"].mean == 0 and oracle["hit@1"].mean == 1
    assert oracle["spearman"].mean == pytest.approx(1.0)
    assert inverse["spearman"].mean == pytest.approx(-1.0)
    assert inverse["hit@1"].mean == 0
    # regret@1 of the inverse ranker: each target's worst source, by hand.
    by_hand = np.mean(
        [100 * (0.85 - 0.5) / 0.85, 100 * (0.85 - 0.45) / 0.85, 100 * (0.85 - 0.45) / 0.85]
    )
    assert inverse["regret@1"].mean == pytest.approx(by_hand)
    for summary in inverse.values():
        assert summary.low <= summary.mean <= summary.high
    assert set(inverse["spearman"].per_target) == {"t1", "t2", "t3"}


def test_paired_comparison_with_the_random_baseline():
    """The oracle beats random and the inverse ranker loses to it, each with a paired interval
    clear of 0; with 3 sources a random order's expected Spearman is 0, so the oracle's
    difference is about 1 and the inverse's about -1. A ranker that is itself random-like
    (the oracle on one target, inverse on the others) is not called better."""
    from hfselect_widgets.engine.evaluation.metrics import compare_random

    better = compare_random(ORACLE, TRUTH, draws=60, num_bootstrap=200)
    worse = compare_random(INVERSE, TRUTH, draws=60, num_bootstrap=200)
    assert better["spearman"].mean == pytest.approx(1.0, abs=0.15) and better["spearman"].low > 0
    assert worse["spearman"].mean == pytest.approx(-1.0, abs=0.15) and worse["spearman"].high < 0
    assert better["regret@1"].high < 0  # less regret than chance
    mixed = {t: ORACLE[t] if t == "t1" else INVERSE[t] for t in TRUTH}
    assert compare_random(mixed, TRUTH, draws=60, num_bootstrap=200)["spearman"].low < 0


def test_paired_comparison_and_static_baseline():
    difference = compare(ORACLE, INVERSE, TRUTH, num_bootstrap=200)
    assert difference["spearman"].mean == pytest.approx(2.0)
    assert difference["spearman"].low > 0  # the same resamples for both: clearly better
    same = compare(ORACLE, ORACLE, TRUTH, num_bootstrap=50)
    assert same["spearman"].low == same["spearman"].high == 0
    # The static baseline ignores the target: for t1 it is the mean over t2 and t3 only.
    static = static_scores(ORACLE)
    assert static["t1"]["c"] > static["t1"]["a"]  # c and a shine on t3/t2, not on t1


def test_report_has_every_ranker_and_the_baselines_and_writes_json_csv_md(tmp_path):
    report = build_report(
        {"oracle": ORACLE, "inverse": INVERSE},
        TRUTH,
        self_scores={"oracle": {"a": {"a": 1.0, "b": 0.0}, "b": {"a": 1.0, "b": 0.5}}},
        num_bootstrap=50,
        random_draws=20,
    )
    assert set(report.rankers) == {
        "oracle", "inverse", "static (mean score)", "static (mean transfer)", "random"
    }  # fmt: skip
    assert abs(report.rankers["random"]["spearman"].mean) < 0.3
    assert report.self_retrieval["oracle"]["hit_rate"] == 0.5
    assert report.targets["t2"]["best_source"] == "b"
    # The reference (first) ranker is compared with every other one, paired: what the choice
    # of the default rests on. inverse is the oracle reversed, so its Spearman is 2 lower.
    assert report.reference == "oracle" and set(report.versus_reference) == {"inverse"}
    assert report.versus_reference["inverse"]["spearman"].mean == pytest.approx(-2.0)
    assert report.versus_reference["inverse"]["spearman"].high < 0
    for suffix in (".json", ".csv", ".md"):
        path = report.save(tmp_path / f"report{suffix}")
        assert path.stat().st_size > 0
    assert "oracle" in json.loads((tmp_path / "report.json").read_text())["rankers"]
    assert "| oracle |" in (tmp_path / "report.md").read_text()
    assert "reference ranker (oracle)" in (tmp_path / "report.md").read_text()
    assert report.versus_random["oracle"]["spearman"].low > 0
    assert "Paired difference to the random baseline" in (tmp_path / "report.md").read_text()
    with pytest.raises(ValueError, match=".json, .csv or .md"):
        report.save(tmp_path / "report.xlsx")


def test_self_retrieval_ranks_of_own_esm():
    results = self_retrieval({"a": {"a": 0.1, "b": 0.9}, "b": {"a": 0.1, "b": 0.9}})
    summary = summarize(results)
    assert summary["hit_rate"] == 0.5 and summary["misses"] == {"a": 2}


# --- rankers -----------------------------------------------------------------------------------


def _separable(n=60, d=8, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    features = rng.normal(size=(n, d))
    features[:, 0] += 8 * labels - 4  # the classes sit at -4 and +4 on one axis
    return features, labels


def test_permutation_control_removes_the_label_independent_part_of_logme():
    features, labels = _separable()
    noise = np.random.default_rng(1).normal(size=features.shape)
    scorer = make_scorer("logme-permutation", features, labels, False, permutations=5)
    # The informative features beat pure noise; noise gets about 0 (its real and shuffled
    # labels fit equally badly), while plain LogME gives noise a non-zero score.
    assert scorer(features, None) > 0.1
    assert abs(scorer(noise, None)) < abs(logme(noise, labels))
    assert scorer(features, None) == pytest.approx(
        logme(features, labels) - _mean_shuffled_logme(features, labels), rel=1e-9
    )


def _mean_shuffled_logme(features, labels, permutations=5, seed=0):
    from hfselect_widgets.engine.scoring.logme import label_columns

    rng = np.random.default_rng(seed)
    y = label_columns(labels, False)
    # labels are shuffled among the rows taken in the order of their embeddings (sorted
    # lexicographically), not in the order the rows came in
    order = sorted(range(len(features)), key=lambda i: tuple(features[i]))
    values = []
    for _ in range(permutations):
        shuffled = np.empty_like(y)
        shuffled[order] = y[order][rng.permutation(len(y))]
        # Per column LogME, averaged: what the stacked computation averages.
        values.append(np.mean([logme(features, col, regression=True) for col in shuffled.T]))
    return float(np.mean(values))


def test_permutation_control_does_not_depend_on_the_order_of_the_rows():
    """The same target rows in another order get the same permutation-control score (the CLI
    samples rows in a seeded order, the Python API takes them as given: both must print the
    same numbers). Shuffling labels in the order the rows came in would change every score by
    the noise of the shuffles (about 0.007 on the demo target)."""
    features, labels = _separable()
    rows = np.random.default_rng(3).permutation(len(labels))
    esm = np.random.default_rng(4).normal(size=(features.shape[1], features.shape[1]))
    mapped = features @ esm
    original = make_scorer("logme-permutation", features, labels, False)(mapped, None)
    reordered = make_scorer("logme-permutation", features[rows], labels[rows], False)(
        mapped[rows], None
    )
    assert reordered == pytest.approx(original, abs=1e-9)


def test_knn_and_textemb_and_fusion():
    features, labels = _separable()
    assert knn_score(features, labels, False) > 0.9
    assert knn_score(np.random.default_rng(2).normal(size=features.shape), labels, False) < 0.75
    values = features[:, 0]
    assert knn_score(features, values, True) > 0.5
    textemb = make_scorer("textemb", features, labels, False)
    near = {SOURCE_EMBEDDING_KEY: features.mean(axis=0).tolist()}
    far = {SOURCE_EMBEDDING_KEY: (-features.mean(axis=0)).tolist()}
    assert textemb(None, near) == pytest.approx(1.0)
    assert textemb(None, far) == pytest.approx(-1.0)
    assert np.isnan(textemb(None, {}))  # a Hub ESM without the key gets no score
    fused = rank_fusion({"x": {"a": 3, "b": 2, "c": 1}, "y": {"a": 1, "b": 3, "c": 2}})
    assert fused == {"a": -2.0, "b": -1.5, "c": -2.5}
    with pytest.raises(ValueError, match="choose one of"):
        make_scorer("nope", features, labels, False)
    assert set(RANKERS) >= {"esm-logme", "logme-permutation", "knn", "textemb"}


# --- end to end on a tiny model: real transfer, ESM scores, the report --------------------------

POSITIVE = ["good", "great", "loved"]
NEGATIVE = ["bad", "terrible", "not"]
FILLER = ["the", "movie", "film", "story", "music", "acting", "plot", "book", "it", "was", "a"]


def _rule_rows(n: int, seed: int, random_labels: bool = False):
    """Texts whose label is whether a positive word appears (or random labels)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = rng.sample(FILLER, 4) + [rng.choice(POSITIVE if label else NEGATIVE)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(rng.randint(0, 1) if random_labels else label)
    return Dataset(texts, labels, text_col="text")


SOURCE_RECIPE = FineTuneConfig(
    num_epochs=8, batch_size=16, learning_rate=1e-3, max_length=16, validation_share=0.2,
    min_steps=0,
)  # fmt: skip
TARGET_RECIPE = FineTuneConfig(
    num_epochs=5, batch_size=8, learning_rate=1e-3, max_length=16, validation_share=0.0,
    min_steps=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """A base model and two trained sources: "rule" (transfers) and "noise" (cannot)."""
    clear_model_cache()
    root = tmp_path_factory.mktemp("evaluation")
    base = make_tiny_model(root / "base", "bert")
    trained = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, data in {
            "rule": _rule_rows(240, seed=1),
            "noise": _rule_rows(240, seed=2, random_labels=True),
        }.items():
            trained[name] = train_esm(
                data,
                str(base),
                root / "esms" / name,
                finetune=SOURCE_RECIPE,
                finetuned_model_dir=root / "models" / name,
                task_id=name,
                device="cpu",
            )
    yield {"root": root, "base": base, "trained": trained, "warnings": caught}
    clear_model_cache()


def _learning_warnings(caught, name):
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, TrainingQualityWarning) and "learn" in str(w.message)
    ]


def test_training_quality_warning_fires_for_random_labels_only(pool):
    rule, noise = pool["trained"]["rule"], pool["trained"]["noise"]
    assert rule.esm.config.get("lm_learned") is True
    assert noise.esm.config.get("lm_learned") is False
    messages = _learning_warnings(pool["warnings"], "noise")
    assert len(messages) == 1  # one fine-tune did not learn: the random-label one
    assert noise.esm.config.get("training_warnings")
    assert not any("learn" in m for m in rule.esm.config.get("training_warnings") or [])
    # The ESM configs record the source's mean embedding for the textemb ranker.
    assert len(rule.esm.config.get(SOURCE_EMBEDDING_KEY)) == 32


def test_real_transfer_and_the_metrics_tell_the_sources_apart(pool, tmp_path):
    root = pool["root"]
    target = TransferTarget("target", _rule_rows(16, seed=3), _rule_rows(100, seed=4))
    starts = {
        NO_TRANSFER: str(pool["base"]),
        "rule": str(root / "models" / "rule"),
        "noise": str(root / "models" / "noise"),
    }
    store = measure_transfer(
        [target], starts, tmp_path / "transfer.jsonl", seeds=(0, 1), recipe=TARGET_RECIPE,
        device="cpu",
    )  # fmt: skip
    truth = store.truth()
    mean = {s: np.mean(list(v.values())) for s, v in truth["target"].items()}
    assert mean["rule"] > mean["noise"] + 0.2
    assert mean["rule"] > mean[NO_TRANSFER] + 0.2

    # ESM-LogME on the target sample, as the ranking would compute it.
    base = load_base_model(str(pool["base"]), device="cpu")
    x = embed_texts(list(target.train.texts), base, 16)
    scores = {}
    for ranker in ("esm-logme", "textemb"):
        scorer = make_scorer(ranker, x, np.asarray(target.train.labels), False)
        scores[ranker] = {"target": {}}
        for name, trained in pool["trained"].items():
            weight = trained.esm.model.weight.detach().numpy()
            bias = trained.esm.model.bias.detach().numpy()
            scores[ranker]["target"][name] = scorer(x @ weight.T + bias, trained.esm.config)
    # A ranker from the truth itself, and one that gets it backwards: the metrics must say
    # which one picked the source that really transfers, whatever the real rankers did here.
    scores["oracle"] = {"target": {"rule": 1.0, "noise": 0.0}}
    scores["backwards"] = {"target": {"rule": 0.0, "noise": 1.0}}
    report = build_report(scores, truth, num_bootstrap=50, random_draws=20)
    assert report.rankers["oracle"]["hit@1"].mean == 1.0
    assert report.rankers["oracle"]["regret@1"].mean == 0.0
    assert report.rankers["backwards"]["hit@1"].mean == 0.0
    assert report.rankers["backwards"]["regret@1"].mean > 20  # % of the best lost
    for ranker in ("esm-logme", "textemb"):
        row = scores[ranker]["target"]
        picked_rule = row["rule"] > row["noise"]
        assert report.rankers[ranker]["hit@1"].mean == float(picked_rule)
    (tmp_path / "scores.json").write_text(
        json.dumps({r: {"target:target": s["target"]} for r, s in scores.items()})
    )
    again = report_from_results(tmp_path, num_bootstrap=50, random_draws=20)
    assert again.rankers["oracle"]["hit@1"].mean == 1.0


def test_transfer_resumes_after_an_interruption_without_redoing_runs(pool, tmp_path):
    target = TransferTarget("target", _rule_rows(16, seed=3), _rule_rows(40, seed=4))
    starts = {NO_TRANSFER: str(pool["base"]), "rule": str(pool["root"] / "models" / "rule")}
    path = tmp_path / "transfer.jsonl"

    class StopAfterFirst:
        """A cancel token that turns on once one run is on disk."""

        def is_set(self):
            return path.exists() and len(path.read_text().splitlines()) >= 1

    with pytest.raises(RankingCancelled):
        measure_transfer(
            [target], starts, path, seeds=(0, 1), recipe=TARGET_RECIPE, device="cpu",
            cancel=StopAfterFirst(),
        )  # fmt: skip
    first = path.read_text().splitlines()
    assert len(first) == 1
    # A run cut mid-line by a crash is ignored and redone.
    with open(path, "a") as handle:
        handle.write('{"target": "target", "sour')
    done = []
    store = measure_transfer(
        [target], starts, path, seeds=(0, 1), recipe=TARGET_RECIPE, device="cpu",
        log=done.append,
    )  # fmt: skip
    assert len(store.records) == 4
    assert path.read_text().splitlines()[0] == first[0]  # the finished run was not redone
    keys = {(r["source"], r["seed"]) for r in TransferStore(path).records}
    assert len(keys) == 4
    assert len(done) == 3


def test_cli_evaluate_prints_the_report_and_writes_files(tmp_path, capsys):
    from hfselect_widgets.cli import main

    store = TransferStore(tmp_path / "transfer.jsonl")
    for target, by_source in TRUTH.items():
        for source, seeds in by_source.items():
            for seed, value in seeds.items():
                store.add(
                    {"target": target, "source": source, "seed": seed, "recipe": "r",
                     "is_regression": False, "metrics": {"accuracy": value}}
                )  # fmt: skip
    scores = {"oracle": {f"target:{t}": row for t, row in ORACLE.items()}}
    (tmp_path / "scores.json").write_text(json.dumps(scores))
    out = tmp_path / "out" / "report.csv"
    assert main(["evaluate", str(tmp_path), "--bootstrap", "20", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| oracle | 0.00 [0.00, 0.00]" in printed and "| random |" in printed
    assert out.read_text().startswith("ranker,metric,mean,low,high")
    assert main(["evaluate", str(tmp_path / "out")]) == 2
    assert "has no transfer.jsonl or scores.json" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "-o", str(tmp_path / "r.xlsx")]) == 2


def test_every_front_end_offers_every_ranker_and_the_ranking_records_it(tmp_path):
    from hfselect_widgets.cli import build_parser
    from hfselect_widgets.engine import defaults
    from hfselect_widgets.magics import PARSER

    assert tuple(RANKERS) == defaults.RANKER_NAMES
    columns = ["--text-col", "t", "--label-col", "l"]
    cli = build_parser().parse_args(["rank", "x.csv", *columns, "--ranker", "knn"])
    assert cli.ranker == "knn"
    assert PARSER.parse_args(["cr", "--ranker", "fusion"]).ranker == "fusion"
    assert build_parser().parse_args(["rank", "x.csv", *columns]).ranker == "logme-permutation"


def test_resamples_reach_the_request_from_both_front_ends_and_bad_values_say_what_to_type():
    """``--resamples`` is how a user trades interval quality for time; a value the bootstrap
    cannot use is refused before any work, in the front end's own words."""
    from hfselect_widgets.cli import CLI_WORDS, _ranking_request, _target_request, build_parser
    from hfselect_widgets.engine import defaults
    from hfselect_widgets.engine.requests import RankingRequest, RequestError
    from hfselect_widgets.magics import MAGIC_WORDS, PARSER

    columns = ["--text-col", "t", "--label-col", "l"]
    args = build_parser().parse_args(["rank", "x.csv", *columns, "--uncertainty", "5"])
    assert args.resamples == defaults.RESAMPLES
    args = build_parser().parse_args(
        ["rank", "x.csv", *columns, "--uncertainty", "5", "--resamples", "8"]
    )
    request = _ranking_request(args, _target_request(args), default_pool="hub")
    assert (request.uncertainty, request.resamples) == (5, 8)
    assert PARSER.parse_args(["cr", "--resamples", "6"]).resamples == 6

    with pytest.raises(RequestError) as raised:
        RankingRequest(uncertainty=5, resamples=1).validate()
    assert f"--resamples {defaults.RESAMPLES}" in raised.value.render(CLI_WORDS)
    assert f"--resamples {defaults.RESAMPLES}" in raised.value.render(MAGIC_WORDS)
    with pytest.raises(RequestError) as raised:
        RankingRequest(uncertainty=-1).validate()
    assert "--uncertainty 20" in raised.value.render(CLI_WORDS)
    RankingRequest(uncertainty=0, resamples=1).validate()  # resamples only matter when on


@pytest.mark.parametrize("ranker", ["logme-permutation", "knn", "textemb", "fusion"])
def test_a_ranking_by_another_ranker_keeps_the_esm_logme_score_beside_it(pool, ranker):
    from hfselect_widgets.engine.scoring.ranking import score_embeddings
    from hfselect_widgets.engine.scoring.result import TaskRanking

    target = _rule_rows(40, seed=5)
    base = load_base_model(str(pool["base"]), device="cpu")
    x = embed_texts(list(target.texts), base, 16)
    esms = [t.esm for t in pool["trained"].values()]
    plain = score_embeddings(x, target.labels, False, esms, model_id=None)
    other = score_embeddings(x, target.labels, False, esms, model_id=None, ranker=ranker)
    for config, score in zip(plain.configs, plain.scores, strict=True):
        match = next(c for c in other.configs if c.task_id == config.task_id)
        assert match.ranker_scores["esm-logme"] == pytest.approx(score, abs=1e-9)
        assert ranker in match.ranker_scores
    ranking = TaskRanking(other.configs, other.scores, metadata={"ranker": ranker})
    frame = ranking.to_pandas()
    assert "Score (esm-logme)" in frame.columns and f"Score ({ranker})" in frame.columns
    again = TaskRanking.from_dict(json.loads(json.dumps(ranking.to_dict())))
    assert again.esm_configs[0].ranker_scores == ranking.esm_configs[0].ranker_scores


def test_verify_transfer_measures_the_top_picks_against_the_target_alone(pool, tmp_path):
    from hfselect_widgets.engine.evaluation import verify_transfer
    from hfselect_widgets.engine.scoring.result import TaskRanking

    configs = [t.esm.config for t in pool["trained"].values()]
    ranking = TaskRanking(configs, [1.0 if c.task_id == "rule" else 0.0 for c in configs])
    steps = []
    result = verify_transfer(
        ranking,
        _rule_rows(16, seed=3),
        test=_rule_rows(80, seed=4),
        k=2,
        seeds=2,
        sources={
            "rule": _rule_rows(240, seed=1),
            "noise": _rule_rows(240, seed=2, random_labels=True),
        },
        base_model=str(pool["base"]),
        source_recipe=SOURCE_RECIPE,
        recipe=TARGET_RECIPE,
        store=tmp_path / "verify.jsonl",
        device="cpu",
        progress=lambda stage, done, total: steps.append((stage, done, total)),
    )
    by_name = {c.name: c for c in result.candidates}
    assert [c.name for c in result.candidates] == ["rule", "noise"]  # in ranking order
    assert by_name["rule"].gain > 0.2 and by_name["rule"].gain_low > 0
    assert by_name["rule"].mean > by_name["noise"].mean
    assert len(by_name["noise"].values) == 2 and result.metric == "accuracy"
    frame = result.to_pandas()
    assert list(frame["Candidate"]) == ["<no transfer>", "rule", "noise"]
    assert len(TransferStore(tmp_path / "verify.jsonl").records) == 6  # resumable results
    assert steps and steps[-1][1] == steps[-1][2]


def test_cli_verify_prints_the_table_for_a_saved_ranking(pool, tmp_path, capsys):
    from hfselect_widgets.cli import main
    from hfselect_widgets.engine.scoring.result import TaskRanking

    configs = [t.esm.config for t in pool["trained"].values()]
    ranking_path = tmp_path / "ranking.json"
    TaskRanking(configs, [1.0 if c.task_id == "rule" else 0.0 for c in configs]).to_json(
        ranking_path
    )
    for name, rows in {"rule.csv": _rule_rows(64, seed=1), "target.csv": _rule_rows(24, 3)}.items():
        rows.to_pandas().to_csv(tmp_path / name, index=False)
    argv = ["verify", str(ranking_path), str(tmp_path / "target.csv"), "--text-col", "text",
            "--label-col", "label", "--k", "1", "--seeds", "1", "--source",
            f"rule={tmp_path / 'rule.csv'}", "--model", str(pool["base"]), "--device", "cpu",
            "-o", str(tmp_path / "verify.csv")]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "<no transfer>" in out and "rule" in out and "Gain" in out
    assert (tmp_path / "verify.csv").read_text().startswith("Candidate,Rank,Score")
    # the long fine-tunings show progress bars on stderr (runs done / total), off on request
    assert re.search(r"(\d+)/\1 ", captured.err), captured.err
    assert main([*argv, "--no-progress"]) == 0
    assert "|" not in capsys.readouterr().err
    assert main([*argv[:-2], "--source", "rule"]) == 2


# --- uncertainty: rank intervals from a bootstrap over the target rows ----------------------------


def test_bootstrap_separates_a_clear_winner_and_not_two_equal_esms():
    from hfselect_widgets.engine.scoring.uncertainty import bootstrap_ranks, separable_top

    features, labels = _separable(n=80)
    rng = np.random.default_rng(3)
    noise_a, noise_b = rng.normal(size=features.shape), rng.normal(size=features.shape)
    intervals = bootstrap_ranks(
        {"clear": features, "noise a": noise_a, "noise b": noise_b},
        features,
        labels,
        False,
        resamples=30,
    )
    assert intervals["clear"].label() == "1" and intervals["clear"].p_first == 1.0
    assert separable_top(intervals, top=1)
    # The two noise ESMs trade places: overlapping intervals, neither certain of rank 2.
    assert intervals["noise a"].label() == intervals["noise b"].label() == "2-3"
    assert not separable_top(intervals, top=2)
    assert 0 < intervals["noise a"].p_top3 <= 1


def test_rank_intervals_shrink_as_the_target_grows():
    """Three ESMs whose class separation differs a little: with 24 target rows the bootstrap
    mostly cannot order them (wide intervals); with 1,500 rows every rank is pinned down.

    "Mostly": independent samples of 24 rows from this process put the weaker ESM first a
    quarter of the time, so a sample can separate them by chance; a bootstrap that is not too
    wide says so for such a sample (2 of these 8 seeds)."""
    from hfselect_widgets.engine.scoring.uncertainty import bootstrap_ranks, separable_top

    def widths(n, seed):
        rng = np.random.default_rng(seed)
        labels = np.arange(n) % 2
        features = {}
        for name, shift in (("strong", 1.2), ("weaker", 0.9), ("weakest", 0.6)):
            f = rng.normal(size=(n, 6))
            f[:, 0] += shift * (2 * labels - 1)
            features[name] = f
        intervals = bootstrap_ranks(features, features["strong"], labels, False, resamples=30)
        return sum(i.rank_high - i.rank_low for i in intervals.values()), intervals

    not_separable = 0
    for seed in range(8):
        small, small_intervals = widths(24, seed)
        large, large_intervals = widths(1500, seed)
        assert small >= 2
        not_separable += not separable_top(small_intervals)
        assert large == 0 and large_intervals["strong"].p_first == 1.0
    assert not_separable >= 5


def test_bootstrap_is_centred_on_the_ranking_and_keeps_every_row():
    """Each ESM's resampled scores average to its score on the real target (no drift that
    would rank another ESM first more often than the ranking's first), and every resample
    weights every row (no resample with fewer distinct rows than the embedding dimension)."""
    from hfselect_widgets.engine.scoring.logme import LogMETarget
    from hfselect_widgets.engine.scoring.uncertainty import bootstrap_scores, bootstrap_weights

    rng = np.random.default_rng(7)
    labels = np.arange(60) % 3
    features = {f"esm {i}": rng.normal(size=(60, 40)) + 0.3 * i * labels[:, None] for i in range(3)}
    names, scores = bootstrap_scores(features, features["esm 0"], labels, False, resamples=12)
    target = LogMETarget(labels)
    point = np.array([target.score(features[name]) for name in names])
    assert scores.shape == (12, 3)
    np.testing.assert_allclose(scores.mean(axis=0), point, rtol=1e-9)
    assert scores.std(axis=0).min() > 0  # the resamples do differ

    weights = bootstrap_weights(60, 12, seed=0)
    assert (weights > 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 60)
    # a resample is an exact LogME of the reweighted rows: integer weights = repeated rows
    counts = np.bincount(np.arange(60) % 30, minlength=60)
    repeated = np.repeat(np.arange(60), counts)
    assert target.resampled_score(features["esm 1"], counts) == pytest.approx(
        LogMETarget(labels[repeated]).score(features["esm 1"][repeated]), rel=1e-6
    )


def test_linearised_bootstrap_spreads_like_refitting_every_resample():
    """With more rows than dimensions the engine scores each resample from the rows' influences
    instead of refitting LogME: on features that carry the labels (a ranking's top ESMs), the
    spread of its resampled scores must match the refitted one's on the same weights (it was
    measured at 0.87-0.99 of the real sampling spread; a missing term would shrink it to a
    fraction or blow it up)."""
    from hfselect_widgets.engine.scoring.uncertainty import bootstrap_scores

    rng = np.random.default_rng(11)
    labels = np.arange(400) % 3
    features = {
        f"esm {i}": rng.normal(size=(400, 12)) + (1.0 + 0.2 * i) * np.eye(3, 12)[labels]
        for i in range(3)
    }
    kwargs = {"resamples": 60, "seed": 4}
    _, linear = bootstrap_scores(features, features["esm 0"], labels, False, **kwargs)
    _, refitted = bootstrap_scores(
        features, features["esm 0"], labels, False, linearised=False, **kwargs
    )
    ratio = linear.std(axis=0) / refitted.std(axis=0)
    assert ((0.85 < ratio) & (ratio < 1.15)).all(), ratio
    for j in range(3):
        assert np.corrcoef(linear[:, j], refitted[:, j])[0, 1] > 0.9


def test_bootstrap_of_every_ranker_resamples_without_refitting_per_row():
    """kNN and TextEmb resample by weighting rows too: the weighted score with all weights 1
    is the plain score, and the fusion's intervals come from its members' resamples."""
    from hfselect_widgets.engine.scoring.rankers import make_resampling_scorer, make_scorer
    from hfselect_widgets.engine.scoring.uncertainty import bootstrap_ranks

    features, labels = _separable(n=80)
    x = features
    config = {"source_mean_embedding": list(features.mean(axis=0) + 0.1)}
    ones = np.ones(len(labels))
    for ranker in ("esm-logme", "logme-permutation", "knn", "textemb"):
        plain = make_scorer(ranker, x, labels, False)(features, config)
        weighted = make_resampling_scorer(ranker, x, labels, False)(features, config)
        assert weighted(ones) == pytest.approx(plain, rel=1e-9), ranker
    noise = np.random.default_rng(1).normal(size=features.shape)
    intervals = bootstrap_ranks(
        {"clear": features, "noise": noise},
        x,
        labels,
        False,
        configs={"clear": config, "noise": config},
        ranker="fusion",
        resamples=10,
    )
    assert intervals["clear"].rank_low == 1


def test_ranking_with_uncertainty_has_rank_intervals_in_its_table_and_json(pool):
    from hfselect_widgets.engine.scoring.ranking import score_embeddings

    target = _rule_rows(40, seed=5)
    base = load_base_model(str(pool["base"]), device="cpu")
    x = embed_texts(list(target.texts), base, 16)
    esms = [t.esm for t in pool["trained"].values()]
    result = score_embeddings(x, target.labels, False, esms, model_id=None, keep_top=1)
    assert len(result.top_features) == 1  # only the best ESM's mapped features are kept
    best = result.sources[int(np.argmax(result.scores))]
    assert list(result.top_features) == [best]
    from hfselect_widgets.engine.scoring.ranking import compute_task_ranking
    from hfselect_widgets.engine.scoring.result import TaskRanking

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranking = compute_task_ranking(
            target, str(pool["base"]), esm_dir=pool["root"] / "esms", uncertainty=2, resamples=10
        )
    frame = ranking.to_pandas()
    assert {"Rank Interval", "P(Rank 1)", "P(Top 3)"} <= set(frame.columns)
    assert frame["P(Rank 1)"].sum() == pytest.approx(1.0)
    assert ranking.metadata["uncertainty"] == {"top_k": 2, "resamples": 10}
    again = TaskRanking.from_dict(json.loads(ranking.to_json()))
    assert again.esm_configs[0].rank_interval == ranking.esm_configs[0].rank_interval
    plain = compute_task_ranking(target, str(pool["base"]), esm_dir=pool["root"] / "esms")
    assert "Rank Interval" not in plain.to_pandas().columns  # hfselect's columns by default


def _fusion_pool(n=80, d=8):
    """Six random linear ESMs whose ESM-LogME order is 0, 1, 2, ... and whose recorded source
    embeddings put ESM 0 far from the target (TextEmb last): the fusion's first is not LogME's."""
    from hfselect_widgets.engine.esm.format import ESM

    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    x = rng.normal(size=(n, d))
    x[:, 0] += 3 * labels - 1.5
    torch.manual_seed(0)
    esms = []
    for i in range(6):
        esm = ESM(architecture="linear", embedding_dim=d)
        with torch.no_grad():
            weight, bias = list(esm.parameters())
            weight.copy_(torch.eye(d) + 0.6 * i * torch.randn(d, d))
            bias.zero_()
        esm.config.task_id = f"esm-{i}"
        esm.config.base_model_name = "random/base"
        source = -x.mean(axis=0) if i == 0 else x.mean(axis=0) + 0.2 * i * rng.normal(size=d)
        esm.config.update({"source_mean_embedding": [float(v) for v in source]})
        esms.append(esm)
    return x, labels, esms


def test_fusion_rank_intervals_are_for_the_fused_top_rows_in_whole_ranking_positions():
    """With ranker fusion, the bootstrapped rows are the fusion's own top K (not ESM-LogME's),
    and their intervals are positions in the whole ranking: the rest is held at its scores."""
    from hfselect_widgets.engine.scoring.ranking import score_embeddings
    from hfselect_widgets.engine.scoring.uncertainty import bootstrap_ranks

    x, labels, esms = _fusion_pool()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = score_embeddings(
            x, labels, False, esms, model_id=None, ranker="fusion", keep_top=2
        )
    fused = sorted(zip(result.sources, result.scores, strict=True), key=lambda t: -t[1])
    logme_best = max(result.configs, key=lambda c: c.ranker_scores["esm-logme"])
    assert logme_best.task_id != result.configs[result.sources.index(fused[0][0])].task_id
    assert list(result.top_features) == [fused[0][0], fused[1][0]]

    by_source = dict(zip(result.sources, result.configs, strict=True))
    others = {
        m: {s: c.ranker_scores[m] for s, c in by_source.items() if s not in result.top_features}
        for m in ("logme-permutation", "knn", "textemb")
    }
    intervals = bootstrap_ranks(
        result.top_features,
        x,
        labels,
        False,
        configs=by_source,
        ranker="fusion",
        resamples=10,
        others=others,
    )
    assert set(intervals) == set(result.top_features)
    assert all(1 <= i.rank_low <= i.rank_high <= len(esms) for i in intervals.values())

    # held-out scores count: an ESM outside the bootstrap that outscores both pushes them down
    plain = bootstrap_ranks(
        result.top_features, x, labels, False, configs=by_source, ranker="esm-logme", resamples=5
    )
    beaten = bootstrap_ranks(
        result.top_features,
        x,
        labels,
        False,
        configs=by_source,
        ranker="esm-logme",
        resamples=5,
        others={"esm-logme": {"far better": 1e9}},
    )
    for name, interval in plain.items():
        assert beaten[name].rank_low == interval.rank_low + 1
        assert beaten[name].p_first == 0.0


def test_tied_scores_share_the_better_rank():
    """Two ESMs with identical features tie on every resample: both rank first, neither leads."""
    from hfselect_widgets.engine.scoring.uncertainty import bootstrap_ranks

    features, labels = _separable(n=60)
    noise = np.random.default_rng(4).normal(size=features.shape)
    intervals = bootstrap_ranks(
        {"a": features, "b": features.copy(), "noise": noise}, features, labels, False, resamples=8
    )
    assert intervals["a"].label() == intervals["b"].label() == "1"
    assert intervals["a"].p_first == intervals["b"].p_first == 1.0
    assert intervals["noise"].rank_low == 3


def test_a_gain_too_small_for_the_validation_rows_is_unconfirmed_not_barely_learned():
    """0.706 against a 0.569 majority on 51 rows is above the baseline but within two standard
    errors: the warning says it could not be confirmed (and why), not that nothing was learned;
    a gain under 0.02 says barely learned."""
    from hfselect_widgets.engine.training.finetune import FineTuneValidation, learning_margin

    margin = learning_margin("accuracy", 0.569, 51)
    assert margin == pytest.approx(2 * (0.569 * 0.431 / 51) ** 0.5)
    unconfirmed = FineTuneValidation("accuracy", 0.706, 0.569, margin, 51, False, {})
    assert unconfirmed.message().startswith("Could not confirm")
    assert "+0.137" in unconfirmed.message() and f"{margin:+.3f}" in unconfirmed.message()
    flat = FineTuneValidation("accuracy", 0.58, 0.569, margin, 51, False, {})
    assert flat.message().startswith("Fine-tuning barely learned")
    assert learning_margin("accuracy", 0.5, 10_000) == 0.02


def test_a_partly_measured_truth_compares_sources_on_the_seeds_they_all_have():
    """While a transfer measurement runs (or after it was stopped), some sources have a seed
    more than others: the report must use only the seeds every source has (it crashed on the
    missing ones, and averaging unequal seeds would mix seed noise into the order)."""
    partial = {t: {s: dict(v) for s, v in by.items()} for t, by in TRUTH.items()}
    partial["t1"]["a"][2] = 0.0  # a third seed for one source only: a terrible one
    partial["t2"]["b"][2] = 0.0
    for table in (ORACLE, INVERSE):
        assert evaluate(table, partial, num_bootstrap=50) is not None
    summary = evaluate(ORACLE, partial, num_bootstrap=50)
    assert summary["spearman"].mean == pytest.approx(1.0)  # seed 2 ignored: still the oracle
    assert summary["regret@1"].mean == 0
