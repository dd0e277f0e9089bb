"""The command line: a real ranking from a CSV file, outputs written, errors as one clear line."""

from __future__ import annotations

import itertools
import json

import pandas as pd
import pytest
from esm_factory import write_broken_esm, write_esm
from tiny_models import HIDDEN_SIZE, make_tiny_model

from hfselect_widgets import cli
from hfselect_widgets.engine.scoring.result import TaskRanking


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    model = make_tiny_model(root / "model", kind="bert")
    esms = root / "esms"
    for i in range(3):
        write_esm(esms / f"esm{i}", HIDDEN_SIZE, task_id=f"org/task{i}", seed=i)
    write_broken_esm(esms / "broken", "corrupt_weights", dim=HIDDEN_SIZE)
    data = root / "target.csv"
    words = ["good", "bad", "great", "terrible", "movie", "plot", "music", "story"]
    rows = [
        {"sentence": f"{a} {b}", "label": ["neg", "pos"][i % 2]}
        for i, (a, b) in enumerate(itertools.product(words, words))
    ]
    pd.DataFrame(rows).to_csv(data, index=False)
    return model, esms, data


def test_rank_csv_against_folder_prints_top_list_and_writes_outputs(setup, tmp_path, capsys):
    """`rank FILE --esm-dir DIR` prints the top list, reports skipped ESMs and writes CSV/JSON."""
    model, esms, data = setup
    out_csv, out_json, out_html = tmp_path / "r.csv", tmp_path / "r.json", tmp_path / "r.html"
    code = cli.main(
        [
            "rank", str(data), "--text-col", "sentence", "--label-col", "label",
            "--model", str(model), "--esm-dir", str(esms), "--top", "2",
            "-o", str(out_csv), "--output-json", str(out_json), "--output-html", str(out_html),
            "--no-progress",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    assert "Top 2 of 3 intermediate datasets" in captured.out
    assert captured.out.count("Score: ") == 2
    assert "1 ESMs were skipped" in captured.err and "corrupt" in captured.err
    assert len(TaskRanking.load(out_csv)) == 3
    metadata = json.loads(out_json.read_text())["metadata"]
    assert metadata["dataset"]["label_column"] == "label"
    assert metadata["num_examples"] == 64
    page = out_html.read_text()
    assert page.count("<circle ") == 3 and "org/task" in page and "<script" not in page


def test_unknown_column_is_one_clear_line_with_exit_status_2(setup, capsys):
    """A user error prints the engine's message (listing the columns) and exits with 2."""
    model, esms, data = setup
    code = cli.main(
        ["rank", str(data), "--text-col", "txt", "--label-col", "label", "--esm-dir", str(esms)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "'sentence'" in err


def test_missing_required_arguments_is_a_usage_error():
    """argparse refuses a rank without --text-col/--label-col (exit status 2)."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["rank", "some/dataset"])
    assert exc.value.code == 2


def test_python_dash_m_entry_point_shows_help():
    """`python -m hfselect_widgets --help` works (the module entry point is wired)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "hfselect_widgets", "rank", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "--esm-dir" in result.stdout


def test_drop_in_names_are_exported():
    """Changing `from hfselect import X` to `from hfselect_widgets import X` is all it takes."""
    import hfselect_widgets

    for name in [
        "Dataset", "ESM", "ESMConfig", "compute_task_ranking", "compute_scores",
        "find_esm_repo_ids", "fetch_esms", "fetch_esm_configs", "get_esm_coverage", "TaskRanking",
    ]:  # fmt: skip
        assert callable(getattr(hfselect_widgets, name)), name


def _run_cli_in_fresh_python(*argv: str) -> tuple[int, str, set[str]]:
    """Run ``cli.main(argv)`` in a new interpreter; (exit status, stderr, heavy modules
    imported: torch / transformers / datasets)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from hfselect_widgets import cli\n"
        f"status = cli.main({list(argv)!r})\n"
        "heavy = [m for m in ('torch', 'transformers', 'datasets') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    heavy = next(line for line in result.stdout.splitlines() if line.startswith("HEAVY="))
    return result.returncode, result.stderr, set(filter(None, heavy[6:].split(",")))


def test_publish_of_a_missing_folder_answers_before_torch_is_imported(tmp_path):
    """`publish MISSING repo` is refused by the cheap argument check: exit 2, one line, and
    neither torch nor transformers was imported to find out."""
    status, err, heavy = _run_cli_in_fresh_python(
        "publish", str(tmp_path / "no-such-esm"), "me/esm-x"
    )
    assert status == 2
    assert err.startswith("error: ") and "no such folder" in err and len(err.splitlines()) == 1
    assert heavy == set()


def test_train_into_an_existing_folder_answers_before_torch_is_imported(setup, tmp_path):
    """`train ... -o EXISTING` (not empty, no --overwrite) is refused before the dataset,
    torch or the base model is loaded."""
    _, _, data = setup
    existing = tmp_path / "esm"
    existing.mkdir()
    (existing / "config.json").write_text("{}")
    status, err, heavy = _run_cli_in_fresh_python(
        "train", str(data), "--text-col", "sentence", "--label-col", "label",
        "-o", str(existing),
    )  # fmt: skip
    assert status == 2
    assert err.startswith("error: ") and str(existing) in err and "--overwrite" in err
    assert heavy == set()


def test_train_task_id_defaults_to_the_output_folder_name_and_name_overrides_it(setup, tmp_path):
    """The trained ESM's task_id: --task-id/--name when given, else the output folder's name
    (not "target.csv", nor the "train" of a train.csv), and the dataset loaded for training
    carries it; a Hub dataset keeps its id."""
    _, _, data = setup
    base = ["train", str(data), "--text-col", "sentence", "--label-col", "label"]
    parser = cli.build_parser()
    args = parser.parse_args([*base, "-o", str(tmp_path / "esms" / "my-reviews") + "/"])
    assert cli._train_task_id(args) == "my-reviews"
    hub = parser.parse_args(["train", "org/data", "--text-col", "t", "--label-col", "l", "-o", "x"])
    assert cli._train_task_id(hub) is None
    named = parser.parse_args([*base, "-o", str(tmp_path / "b"), "--name", "my-reviews"])
    assert cli._train_task_id(named) == "my-reviews"
    assert parser.parse_args([*base, "-o", "x", "--task-id", "t"]).task_id == "t"
    request = cli._target_request(named)
    request.name = cli._train_task_id(named)
    assert request.load().metadata["task_id"] == "my-reviews"


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        (["--esm-dir", "{tmp}/no-such-esms"], "does not exist"),
        (["--esm-dir", "{data}"], "is a file, not a folder"),
        (["--demo", "-o", "{tmp}"], "is a folder, not a file name"),
        (["--demo", "--output-html", "{tmp}"], "is a folder, not a file name"),
        (["--demo", "--label-col", "sentence"], "also the text column"),
    ],
    ids=["missing-esm-dir", "esm-dir-is-a-file", "csv-output-folder", "html-output-folder",
         "text-is-label"],
)  # fmt: skip
def test_cheap_mistakes_answer_in_one_line_before_torch_is_imported(setup, tmp_path, extra, phrase):
    """An --esm-dir that does not exist (or is a file), an output path that is a folder (it
    used to fail with IsADirectoryError after the whole ranking) and text = label column:
    exit status 2, one line, and torch was never imported to find out."""
    _, _, data = setup
    extra = [e.format(tmp=tmp_path, data=data) for e in extra]
    status, err, heavy = _run_cli_in_fresh_python(
        "rank", str(data), "--text-col", "sentence", "--label-col", "label", *extra,
    )  # fmt: skip
    assert status == 2, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert phrase in err and "Traceback" not in err
    assert heavy == set()


def test_verify_refuses_an_output_folder_before_fine_tuning(tmp_path, capsys):
    """`verify ... -o FOLDER` is refused at once (it failed with IsADirectoryError after all
    the fine-tuning runs)."""
    status = cli.main(
        ["verify", str(tmp_path / "ranking.json"), str(tmp_path / "target.csv"),
         "--text-col", "text", "--label-col", "label", "-o", str(tmp_path)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert "is a folder" in err


def test_missing_or_broken_data_file_answers_before_torch_is_imported(tmp_path):
    """`rank`/`train` of a data file that does not exist or cannot be read: one line, exit
    status 2, before torch (the scoring and training modules) is imported."""
    broken = tmp_path / "latin.csv"
    broken.write_bytes("text,label\ncaf\xe9,1\n".encode("cp1252"))
    for command, path, phrase in [
        ("rank", tmp_path / "missing.csv", "no such file"),
        ("rank", broken, "not UTF-8"),
        ("train", broken, "not UTF-8"),
    ]:
        extra = ["--demo"] if command == "rank" else ["-o", str(tmp_path / "esm")]
        status, err, heavy = _run_cli_in_fresh_python(
            command, str(path), "--text-col", "text", "--label-col", "label", *extra
        )
        assert status == 2, err
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
        assert phrase in err
        assert "torch" not in heavy, (command, path)


def test_warnings_print_on_their_own_lines_and_the_scores_are_explained(setup, capsys):
    """A small target (fewer rows than the embedding dimension) ranks with the small-sample
    warning printed once, on its own stderr line after the bars (no leaked source line);
    stdout explains the scores (higher is better, compare within one ranking) after the
    list, every score with the same number of decimals."""
    model, esms, data = setup
    code = cli.main(
        [
            "rank", str(data), "--text-col", "sentence", "--label-col", "label",
            "--model", str(model), "--esm-dir", str(esms), "--num-examples", "20",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    warning_lines = [line for line in captured.err.splitlines() if "unreliable" in line]
    assert len(warning_lines) == 1
    assert warning_lines[0].startswith("Warning: The target sample has 20 rows")
    assert "warnings.warn" not in captured.err and "UserWarning" not in captured.err
    out = captured.out
    assert out.index("How to read the scores:") > out.index("Score: ")
    assert "higher is better" in out and "only within one ranking" in out
    decimals = {len(line.split("Score: ")[1].split()[0].split(".")[1]) for line in
                out.splitlines() if "Score: " in line}  # fmt: skip
    assert len(decimals) == 1


def test_top_must_be_at_least_one():
    """`--top 0` is a usage error, not "Top 0 of 7"."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["rank", "x.csv", "--text-col", "t", "--label-col", "l", "--top", "0"])
    assert exc.value.code == 2


def test_demo_outputs_are_named_after_the_target(setup, tmp_path):
    """`demo` writes out/demo_ranking.* for the demo target and out/<name>_ranking.* for a
    user's file or Hub id, so `make demo DEMO_ARGS=<csv>` never overwrites the demo's."""
    _, _, data = setup
    assert cli._output_stem(None) == "demo_ranking"
    assert cli._output_stem(str(data)) == "target_ranking"
    assert cli._output_stem("stanfordnlp/imdb") == "imdb_ranking"


def test_rank_help_explains_how_to_read_the_scores(capsys):
    """`rank --help` carries the shared "how to read the score" paragraph."""
    from hfselect_widgets.engine.scoring.explain import HOW_TO_READ_SCORE

    with pytest.raises(SystemExit):
        cli.main(["rank", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "How to read the scores" in out and HOW_TO_READ_SCORE[:60] in out


def test_publish_without_a_login_answers_before_torch_is_imported(setup, tmp_path):
    """`publish FOLDER repo` with no token anywhere: MissingTokenError's one line (how to
    log in), found before torch is imported."""
    import os
    import subprocess
    import sys

    from esm_factory import write_esm

    folder = write_esm(tmp_path / "esm", 4, task_id="org/data", base_model_name="org/model")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env["HF_HOME"] = str(tmp_path / "empty-hf-home")  # no stored login
    code = (
        "import sys\n"
        "from hfselect_widgets import cli\n"
        f"status = cli.main(['publish', {str(folder)!r}, 'me/esm-x'])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: No Hugging Face token found")
    assert "HF_TOKEN" in result.stderr and len(result.stderr.splitlines()) == 1
