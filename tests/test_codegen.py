"""The engine's "Show code": Python that recomputes a ranking, for every kind of ESM pool.

The code is generated from the machine-readable record that ``RankingRequest.run`` keeps
(``metadata["pool"]`` and ``metadata["request"]``), never from the engine's free-text
``esm_source``. It must compile for every pool kind; for local pools (the bundled demo
collection, a folder, a filtered folder) it is executed offline with tiny models and must give
the same scores.
"""

from __future__ import annotations

import pandas as pd
import pytest
import tiny_models
from esm_factory import write_esm

from hfselect_widgets.demo import demo_esm_dir
from hfselect_widgets.engine.esm.format import ESMConfig
from hfselect_widgets.engine.requests import PoolRequest, RankingRequest, TargetRequest
from hfselect_widgets.engine.scoring import ranking_code as exported_ranking_code
from hfselect_widgets.engine.scoring.codegen import ranking_code, recorded_pool
from hfselect_widgets.engine.scoring.result import TaskRanking

# Tiny local models have no known Hub id, and tiny samples are smaller than the dimension.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

MINILM_DIM = 384


def ranking_with(n: int = 3, **metadata) -> TaskRanking:
    configs = [
        ESMConfig(base_model_name="org/model", task_id=f"org/t{i}", repo_id=f"org/esm-{i}")
        for i in range(n)
    ]
    return TaskRanking(configs, [float(n - i) for i in range(n)], metadata=metadata)


def pool(kind: str, **values) -> dict:
    return {
        "kind": kind,
        "esm_dir": None,
        "repo_ids": None,
        "filters": None,
        "max_bytes": None,
        "model": "org/model",
        **values,
    }


def run_code(code: str) -> TaskRanking:
    namespace: dict = {}
    exec(compile(code, "<shown code>", "exec"), namespace)
    return namespace["ranking"]


def assert_same_ranking(again: TaskRanking, ranking: TaskRanking) -> None:
    assert again.task_ids == ranking.task_ids
    assert again.scores == pytest.approx(ranking.scores, abs=1e-9)


# --- compiled, per pool kind -------------------------------------------------------------------


def test_hub_pool_uses_the_models_hub_esms():
    """A Hub pool without filters: no ESM keyword (the engine lists the model's Hub ESMs)."""
    code = ranking_code(ranking_with(pool=pool("hub"), esm_source="Hub ESMs for org/model"))
    compile(code, "<hub>", "exec")
    assert "# Every ESM on the Hub for this base model" in code
    assert "esm_repo_ids" not in code and "esm_dir" not in code
    assert "model_name='org/model'" in code


def test_filtered_hub_pool_names_the_esms_that_passed_the_filters():
    ranking = ranking_with(pool=pool("hub", filters={"task_id": "imdb", "language": ["en"]}))
    ranking.failures = {"org/broken": "cannot load"}
    code = ranking_code(ranking)
    compile(code, "<hub filtered>", "exec")
    assert "passed the filters (task_id 'imdb', language ['en'])" in code
    for repo in ("org/esm-0", "org/esm-1", "org/esm-2", "org/broken"):
        assert f"{repo!r}," in code


def test_list_pool_names_its_repo_ids_and_the_download_cap():
    metadata_pool = pool("list", repo_ids=["org/a", "./esms/b"], max_bytes=5_000_000)
    code = ranking_code(ranking_with(pool=metadata_pool))
    compile(code, "<list>", "exec")
    assert "esm_repo_ids=['org/a', './esms/b']" in code
    assert "max_bytes=5000000" in code


def test_objects_pool_names_the_esms_ranked():
    code = ranking_code(ranking_with(pool=pool("objects")))
    compile(code, "<objects>", "exec")
    assert "# The ESMs ranked here." in code and "'org/esm-1'," in code


def test_the_pool_record_wins_over_the_free_text_source():
    """A free-text esm_source that looks like a Hub pool does not make it one."""
    metadata_pool = pool("folder", esm_dir="/data/esms")
    code = ranking_code(ranking_with(pool=metadata_pool, esm_source="Hub ESMs for org/model"))
    assert "esm_dir='/data/esms'" in code and "Every ESM on the Hub" not in code


def test_request_options_become_keywords():
    """The pooling the user chose, a non-default ranker and uncertainty are written out; a
    pooling the model picked itself is not."""
    metadata = {
        "pool": pool("demo", model="sentence-transformers/all-MiniLM-L6-v2"),
        "request": {"pooling": "mean"},
        "pooling": "mean",
        "ranker": "knn",
        "uncertainty": {"top_k": 5, "resamples": 20},
    }
    code = ranking_code(ranking_with(**metadata))
    compile(code, "<options>", "exec")
    assert "esm_dir=demo_esm_dir()" in code and "import demo_esm_dir" in code
    assert "pooling='mean'" in code and "ranker='knn'" in code
    assert "uncertainty=5" in code and "resamples=20" in code
    metadata.update(request={"pooling": None}, ranker="esm-logme", uncertainty=None)
    code = ranking_code(ranking_with(**metadata))
    assert "pooling=" not in code and "ranker=" not in code and "uncertainty=" not in code


def test_rankings_without_a_pool_record_fall_back_to_their_esm_dir():
    assert recorded_pool(ranking_with(esm_dir=str(demo_esm_dir())))["kind"] == "demo"
    assert recorded_pool(ranking_with(esm_dir="/x"))["kind"] == "folder"
    assert recorded_pool(ranking_with(esm_repo_ids=["a/b"]))["repo_ids"] == ["a/b"]
    assert recorded_pool(ranking_with())["kind"] == "objects"


# --- executed offline, local pools ------------------------------------------------------------


@pytest.fixture
def local_setup(tmp_path):
    """A tiny model, a CSV target and a folder of three ESMs for it."""
    model_dir = tiny_models.make_tiny_model(tmp_path / "model", kind="sentence-transformers")
    (model_dir / "hfselect_model_id").write_text("tiny-org/tiny-model")
    texts = [f"{a} {b} {c}" for a in tiny_models._WORDS[:5] for b in "xyz" for c in "pq"]
    csv = tmp_path / "target.csv"
    pd.DataFrame({"sentence": texts, "y": [i % 2 for i in range(len(texts))]}).to_csv(
        csv, index=False
    )
    for i, task in enumerate(("org/imdb", "org/yelp", "org/imdb-small")):
        write_esm(
            tmp_path / "esms" / f"e{i}",
            tiny_models.HIDDEN_SIZE,
            task_id=task,
            base_model_name="tiny-org/tiny-model",
            seed=i,
        )
    return model_dir, csv, tmp_path / "esms"


def _local_request(model_dir, csv, pool_request) -> RankingRequest:
    return RankingRequest(
        target=TargetRequest(source=str(csv), text_col="sentence", label_col="y", num_examples=25),
        pool=pool_request,
        model=str(model_dir),
        device="cpu",
        embedding_cache=False,
    )


def test_folder_pool_code_recomputes_the_ranking(local_setup):
    model_dir, csv, esms = local_setup
    ranking = _local_request(model_dir, csv, PoolRequest(kind="folder", esm_dir=str(esms))).run()
    assert ranking.metadata["pool"]["kind"] == "folder"

    code = ranking_code(ranking)

    assert f"esm_dir={str(esms)!r}" in code and f"Dataset.from_file(\n    {str(csv)!r}" in code
    assert_same_ranking(run_code(code), ranking)


def test_filtered_folder_pool_code_recomputes_the_ranking(local_setup):
    model_dir, csv, esms = local_setup
    request = PoolRequest(kind="folder", esm_dir=str(esms), filters={"task_id": "imdb"})
    ranking = _local_request(model_dir, csv, request).run()
    assert sorted(ranking.task_ids) == ["org/imdb", "org/imdb-small"]

    code = ranking_code(ranking)

    assert "passed the filters (task_id 'imdb')" in code and "esm_dir=" not in code
    assert_same_ranking(run_code(code), ranking)


def test_demo_pool_code_recomputes_the_ranking(tmp_path, monkeypatch):
    """The demo target against the bundled collection, with a tiny model of MiniLM's width."""
    monkeypatch.setattr(tiny_models, "HIDDEN_SIZE", MINILM_DIM)
    model_dir = tiny_models.make_tiny_model(tmp_path / "tiny", "bert", seed=0)
    request = RankingRequest(
        target=TargetRequest(num_examples=40),
        pool=PoolRequest(kind="demo"),
        model=str(model_dir),
        device="cpu",
        embedding_cache=False,
    )
    ranking = request.run()

    code = ranking_code(ranking)

    assert "load_demo_target(" in code and "esm_dir=demo_esm_dir()" in code
    assert_same_ranking(run_code(code), ranking)


def test_the_widget_shows_the_engines_code():
    assert exported_ranking_code is ranking_code
    from hfselect_widgets.widgets.results import ranking_code as widget_code

    assert widget_code is ranking_code
