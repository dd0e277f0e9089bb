"""The %esm_rank / %%esm_rank magics, driven through a real IPython InteractiveShell.

Everything is offline: a tiny sentence-transformers model (hidden size 32) that declares the Hub
id ``tiny-model``, ESM folders written for it, a CSV file, a local dataset folder standing in for
a Hub dataset id, and (for ``--hub``) a pre-filled ESM index and Hugging Face cache.
"""

from __future__ import annotations

import pickle

import pandas as pd
import pytest
from esm_factory import fill_hf_cache, write_esm
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from tiny_models import HIDDEN_SIZE, make_tiny_model

from hfselect_widgets import magics as magics_module
from hfselect_widgets.engine.scoring.result import TaskRanking
from hfselect_widgets.errors import ColumnNotFoundError, DatasetNotFoundError

MODEL_ID = "tiny-model"
TASKS = ("org/task0", "org/task1", "org/task2")
HUB_ESMS = ("hubber/esm-sst", "hubber/esm-imdb")


def _frame(rows: int = 40) -> pd.DataFrame:
    words = ["good", "bad", "great", "terrible", "fine", "awful", "loved", "boring"]
    return pd.DataFrame(
        {
            "text": [
                f"{words[i % 8]} movie number {i} was {words[(i * 3) % 8]}" for i in range(rows)
            ],
            "label": [i % 2 for i in range(rows)],
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Model, ESM folder, CSV file and Hub-like dataset folder, shared by the module."""
    root = tmp_path_factory.mktemp("magics")
    model = make_tiny_model(root / "model", "sentence-transformers")
    # Declares its Hub id, so ESMs for tiny-model are checked and kept without a warning.
    (model / "hfselect_model_id").write_text(MODEL_ID)
    esm_dir = root / "esms"
    for i, task in enumerate(TASKS):
        write_esm(
            esm_dir / f"esm{i}",
            HIDDEN_SIZE,
            task_id=task,
            base_model_name=MODEL_ID,
            seed=i,
            language="de" if i == 2 else "en",
        )
    csv = root / "reviews.csv"
    _frame().to_csv(csv, index=False)
    hub_like = root / "hub_dataset"
    (hub_like / "data").mkdir(parents=True)
    _frame().to_csv(hub_like / "data" / "train.csv", index=False)
    return {"root": root, "model": model, "esm_dir": esm_dir, "csv": csv, "hub_like": hub_like}


@pytest.fixture(scope="module")
def shell():
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "hfselect_widgets")
    return ip


@pytest.fixture
def magic(shell):
    """The registered EsmRankMagics instance; its options are restored after each test."""
    instance = next(c for c in shell.configurables if isinstance(c, magics_module.EsmRankMagics))
    saved = {name: getattr(instance, name) for name in instance.trait_names(config=True)}
    instance.progress = False  # keep tqdm bars out of the test output
    yield instance
    for name, value in saved.items():
        setattr(instance, name, value)


@pytest.fixture
def shown(monkeypatch):
    """What the magic passed to IPython's display(), in order."""
    objects: list = []
    monkeypatch.setattr(magics_module, "display", objects.append)
    return objects


def _args(files, *extra: str) -> str:
    return " ".join(["--text-col text --label-col label", f"--model {files['model']}", *extra])


def test_load_ext_registers_line_and_cell_magic(shell):
    """%load_ext hfselect_widgets makes %esm_rank and %%esm_rank available."""
    assert "esm_rank" in shell.magics_manager.magics["line"]
    assert "esm_rank" in shell.magics_manager.magics["cell"]


def test_reload_ext_leaves_one_configurable(shell):
    """%reload_ext replaces the magics instance, so %config reaches the live one only."""
    shell.run_line_magic("reload_ext", "hfselect_widgets")
    instances = [c for c in shell.configurables if type(c).__name__ == "EsmRankMagics"]
    assert len(instances) == 1
    assert shell.magics_manager.magics["line"]["esm_rank"].__self__ is instances[0]


def test_hub_like_dataset_folder_with_esm_dir(shell, magic, files, shown):
    """A Hub-style id (here a local dataset folder) is loaded with its split and ranked."""
    line = f"{files['hub_like']} --split train " + _args(
        files, f"--esm-dir {files['esm_dir']} --no-widget --top 2"
    )
    ranking = shell.run_line_magic("esm_rank", line)
    assert isinstance(ranking, TaskRanking)
    assert sorted(ranking.task_ids) == sorted(TASKS)
    assert ranking.metadata["dataset"]["task_id"] == str(files["hub_like"])
    assert ranking.metadata["dataset"]["task_split"] == "train"
    assert ranking.metadata["model_id"] == MODEL_ID
    [table] = shown
    assert isinstance(table, pd.DataFrame)
    assert list(table["Task ID"]) == ranking.task_ids[:2]


def test_csv_file_path(shell, magic, files, shown):
    """An existing data file is read as the target; --num-examples samples from it."""
    line = f"{files['csv']} " + _args(
        files, f"--esm-dir {files['esm_dir']} --no-widget --num-examples 30 --seed 3"
    )
    ranking = shell.run_line_magic("esm_rank", line)
    assert len(ranking) == len(TASKS)
    assert ranking.metadata["num_examples"] == 30
    assert ranking.metadata["dataset"]["source"] == "file"
    assert ranking.metadata["seed"] == 3


def test_dataframe_variable_in_user_namespace(shell, magic, files, shown):
    """A DataFrame variable of the notebook is the target, and is recorded by its name."""
    shell.user_ns["reviews_df"] = _frame(24)
    line = "reviews_df " + _args(files, f"--esm-dir {files['esm_dir']} --no-widget")
    ranking = shell.run_line_magic("esm_rank", line)
    assert ranking.metadata["dataset"]["source"] == "pandas"
    assert ranking.metadata["dataset"]["task_id"] == "reviews_df"
    assert ranking.metadata["num_examples"] == 24


def test_output_option_stores_the_ranking_and_the_result_repr_is_short(shell, magic, files, shown):
    """-o VAR stores the ranking; the returned ranking's notebook repr is a single line."""
    line = f"{files['csv']} " + _args(files, f"--esm-dir {files['esm_dir']} --no-widget -o rk")
    returned = shell.run_line_magic("esm_rank", line)
    stored = shell.user_ns["rk"]
    assert type(stored) is TaskRanking
    assert stored == returned
    assert "\n" not in repr(returned)
    assert returned._repr_html_() is None  # so the notebook does not show the table twice
    assert "<table>" in stored._repr_html_()
    assert pickle.loads(pickle.dumps(returned)) == stored


def test_config_changes_the_default_top(shell, magic, files, shown):
    """%config EsmRankMagics.top = 1 changes how many rows the next call shows."""
    shell.run_line_magic("config", "EsmRankMagics.top = 1")
    assert magic.top == 1
    shell.run_line_magic("config", "EsmRankMagics.top = 0")  # rejected, logged by %config
    assert magic.top == 1
    line = f"{files['csv']} " + _args(files, f"--esm-dir {files['esm_dir']} --no-widget")
    shell.run_line_magic("esm_rank", line)
    [table] = shown
    assert len(table) == 1


def test_config_ranker_is_the_default_that_ranker_overrides(shell, magic, files):
    """The magic ranks by the front ends' default ranker; %config EsmRankMagics.ranker sets
    another for the session (an unknown name is rejected), and --ranker still wins per call."""
    from hfselect_widgets.engine import defaults

    line = f"{files['csv']} " + _args(files, f"--esm-dir {files['esm_dir']} --no-widget")
    assert magic.parse(line).ranking.ranker == defaults.RANKER == "logme-permutation"
    shell.run_line_magic("config", 'EsmRankMagics.ranker = "esm-logme"')
    assert magic.parse(line).ranking.ranker == "esm-logme"
    shell.run_line_magic("config", 'EsmRankMagics.ranker = "best"')  # rejected by %config
    assert magic.ranker == "esm-logme"
    assert magic.parse(line + " --ranker knn").ranking.ranker == "knn"


def test_config_esm_source_and_widget_are_defaults(shell, magic, files, shown):
    """esm_source may name a folder, and widget=False shows a table without --no-widget."""
    shell.run_line_magic("config", f"EsmRankMagics.esm_source = {str(files['esm_dir'])!r}")
    shell.run_line_magic("config", "EsmRankMagics.widget = False")
    ranking = shell.run_line_magic("esm_rank", f"{files['csv']} " + _args(files))
    assert len(ranking) == len(TASKS)
    assert isinstance(shown[0], pd.DataFrame)


@pytest.mark.parametrize(
    ("line", "phrase"),
    [
        ("data.csv --text-col text", "--label-col"),
        ("data.csv --text-col text --label-col label --colour red", "unrecognized arguments"),
        ("data.csv --text-col text --label-col label --esm-dir x --demo", "not allowed with"),
        ("--text-col text --label-col label", "DATASET"),
        ("data.csv --text-col text --label-col label --filter size=3", "nknown filter key"),
        ("data.csv --text-col text --label-col label --top 0", "top must be at least 1"),
        ("data.csv --text-col text --label-col label -o 1abc", "variable name"),
    ],
)
def test_bad_arguments_raise_usage_error_with_usage(shell, magic, line, phrase):
    """Wrong arguments raise UsageError naming the problem and showing the usage text."""
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("esm_rank", line)
    message = str(info.value)
    assert phrase in message
    assert "usage: %esm_rank" in message
    assert "--label-col" in message


def test_usage_text_names_every_option():
    """The written-out usage stays in step with the parser: it names each option."""
    usage = magics_module.PARSER.short_usage()
    assert usage.startswith("usage: %esm_rank DATASET --text-col")
    for action in magics_module.PARSER._actions:
        if action.option_strings:
            assert any(option in usage for option in action.option_strings), action.dest


def test_cell_body_lists_esm_folders(shell, magic, files, shown):
    """%%esm_rank: body lines that are ESM folders (or repo ids) form the ESM pool."""
    body = f"# two of the three\n{files['esm_dir'] / 'esm0'}\n\n{files['esm_dir'] / 'esm2'}\n"
    line = f"{files['csv']} " + _args(files, "--no-widget")
    ranking = shell.run_cell_magic("esm_rank", line, body)
    assert sorted(ranking.task_ids) == ["org/task0", "org/task2"]


def test_without_model_the_esms_base_model_is_used(magic, files):
    """No --model: folders of ESMs for one base model rank with that model."""
    line = f"data.csv --text-col text --label-col label --esm-dir {files['esm_dir']}"
    request = magic.parse(line)
    assert request.ranking.resolve_pool().model == MODEL_ID
    request = magic.parse(
        "data.csv --text-col text --label-col label", str(files["esm_dir"] / "esm1")
    )
    assert request.ranking.resolve_pool().model == MODEL_ID


def test_cell_body_key_value_settings_override_the_line(shell, magic, files, shown):
    """%%esm_rank: 'key: value' lines set and override options, filter lines narrow the pool."""
    body = "\n".join(
        [
            "text_col: text",
            "label_col: label",
            f"model: {files['model']}",
            f"esm_dir: {files['esm_dir']}",
            "num_examples: 20",
            "top: 1",
            "filter: language=en",
            "filter: task_id=TASK1",
        ]
    )
    ranking = shell.run_cell_magic("esm_rank", f"{files['csv']} --no-widget --top 5", body)
    assert ranking.task_ids == ["org/task1"]
    assert ranking.metadata["num_examples"] == 20
    [table] = shown
    assert len(table) == 1


def test_filter_narrows_a_folder_pool(shell, magic, files, shown):
    """--filter KEY=VALUE keeps the ESMs of --esm-dir whose metadata match."""
    line = f"{files['csv']} " + _args(
        files, f"--esm-dir {files['esm_dir']} --filter language=de --no-widget"
    )
    ranking = shell.run_line_magic("esm_rank", line)
    assert ranking.task_ids == ["org/task2"]


def test_filter_that_matches_nothing_is_a_typed_error_in_magic_words(shell, magic, files):
    """A filter that leaves no ESM says so (typed, with the magic's option) instead of ranking
    nothing."""
    from hfselect_widgets.errors import NoESMsFoundError

    line = f"{files['csv']} " + _args(files, f"--esm-dir {files['esm_dir']} --filter task=zzz")
    with pytest.raises(NoESMsFoundError, match="No ESM in the folder") as info:
        shell.run_line_magic("esm_rank", line)
    assert "--filter KEY=VALUE" in info.value.render(magics_module.MAGIC_WORDS)


def test_hub_pool_with_filter_uses_the_cached_esm_index(shell, magic, files, shown):
    """--hub --filter narrows the Hub's ESMs through the cached ESM index, offline."""
    from hfselect_widgets.engine.esm.format import ESMConfig
    from hfselect_widgets.engine.esm.index import ESMIndex

    configs = []
    for i, repo_id in enumerate(HUB_ESMS):
        folder = write_esm(
            files["root"] / "hub_esms" / str(i),
            HIDDEN_SIZE,
            task_id=repo_id.replace("hubber/esm-", "glue/"),
            base_model_name=MODEL_ID,
            seed=10 + i,
        )
        fill_hf_cache(repo_id, folder)
        configs.append(ESMConfig.from_pretrained(repo_id))  # from the HF cache
    ESMIndex(configs, base_model=MODEL_ID).save()

    line = f"{files['csv']} " + _args(files, "--hub --filter task_id=imdb --no-widget")
    ranking = shell.run_line_magic("esm_rank", line)
    assert ranking.task_ids == ["glue/imdb"]
    assert ranking.repo_ids == ["hubber/esm-imdb"]


def test_demo_is_the_default_pool_with_the_demo_model(magic):
    """With no pool named, the bundled demo ESMs and their model are used (offline default)."""
    from hfselect_widgets.demo import demo_esm_dir
    from hfselect_widgets.engine.model_ids import DEMO_MODEL

    request = magic.parse("data.csv --text-col text --label-col label")
    assert request.pool == "demo"
    resolved = request.ranking.resolve_pool()
    model, esm_dir, repo_ids = resolved.model, resolved.esm_dir, resolved.esm_repo_ids
    assert (model, esm_dir, repo_ids) == (DEMO_MODEL, str(demo_esm_dir()), None)
    hub = magic.parse("data.csv --text-col a b --label-col label --hub")
    assert hub.pool == "hub" and hub.ranking.target.text_col == ["a", "b"]


def test_engine_error_propagates_typed_but_shows_one_line(shell, magic, files, capsys):
    """An engine error keeps its type (the cell fails) and shows its message, no traceback."""
    line = f"{files['csv']} --text-col review --label-col label --esm-dir {files['esm_dir']}"
    with pytest.raises(ColumnNotFoundError):
        shell.run_line_magic("esm_rank", line)

    result = shell.run_cell(f"%esm_rank {files['root'] / 'missing.csv'} " + _args(files))
    assert isinstance(result.error_in_exec, DatasetNotFoundError)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "DatasetNotFoundError: Dataset" in text
    assert "Traceback" not in text


def test_full_traceback_option_shows_the_traceback(shell, magic, files, capsys):
    """EsmRankMagics.full_traceback = True gives engine errors their usual traceback."""
    magic.full_traceback = True
    result = shell.run_cell(f"%esm_rank {files['root'] / 'missing.csv'} " + _args(files))
    assert isinstance(result.error_in_exec, DatasetNotFoundError)
    out = capsys.readouterr()
    assert "Traceback" in out.out + out.err


def test_parse_cell_body_separates_settings_esms_and_comments():
    """Blank lines and comments are skipped; unknown keys are reported as typos."""
    body = magics_module.parse_cell_body(
        "# pool\norg/esm-a\n\ntext-col: premise, hypothesis\nregression: yes\nfilter: lang=en\n"
    )
    assert body.esms == ["org/esm-a"]
    assert body.settings == {"text_col": ["premise", "hypothesis"], "is_regression": True}
    assert magics_module.parse_filters(body.filters) == {"language": "en"}
    with pytest.raises(UsageError, match="unknown key 'lable_col'"):
        magics_module.parse_cell_body("lable_col: label")


def test_widget_path_displays_the_results_explorer(shell, magic, files, shown):
    """Without --no-widget the results explorer is displayed, as a widget view, with top K."""
    from hfselect_widgets.widgets import results

    line = f"{files['csv']} " + _args(files, f"--esm-dir {files['esm_dir']} --top 2")
    ranking = shell.run_line_magic("esm_rank", line)
    [explorer] = shown
    assert isinstance(explorer, results.ResultsExplorer)
    assert explorer.ranking.task_ids == ranking.task_ids
    assert explorer.k_slider.value == 2
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_mistyped_dataframe_name_suggests_the_variable_instead_of_a_hub_lookup(
    shell, magic, files, capsys, monkeypatch
):
    """`%esm_rank crr ...` with a DataFrame `cr` in the notebook answers at once with "no
    variable 'crr' in the notebook; did you mean 'cr'?" (one line, typed), and never loads a
    dataset (so no Hub lookup)."""
    from hfselect_widgets.engine.requests import TargetRequest
    from hfselect_widgets.errors import VariableNotFoundError

    def no_load(self):
        raise AssertionError(f"the target {self.source!r} was looked up")

    monkeypatch.setattr(TargetRequest, "load", no_load)
    shell.user_ns["cr"] = _frame()
    try:
        result = shell.run_cell("%esm_rank crr " + _args(files, f"--esm-dir {files['esm_dir']}"))
    finally:
        del shell.user_ns["cr"]
    assert isinstance(result.error_in_exec, VariableNotFoundError)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "no variable 'crr' in the notebook; did you mean 'cr'?" in text
    assert "Traceback" not in text


def test_bare_name_resolution_lives_in_the_request_layer(tmp_path, monkeypatch):
    """resolve_target_name: a DataFrame variable is used; an owner/name id, a file and a
    name with no close variable pass through as names; a variable holding no table is
    refused with its type."""
    from hfselect_widgets.engine.requests import resolve_target_name
    from hfselect_widgets.errors import VariableNotFoundError

    frame = _frame(4)
    namespace = {"reviews": frame, "numbers": [1, 2]}
    assert resolve_target_name("reviews", namespace)[0] is frame
    assert resolve_target_name("reviews", namespace)[1] == "reviews"
    assert resolve_target_name("org/reviewz", namespace) == ("org/reviewz", None)
    assert resolve_target_name("imdb", namespace) == ("imdb", None)  # a bare Hub id
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reviewz").mkdir()  # a local dataset folder wins over the suggestion
    assert resolve_target_name("reviewz", namespace) == ("reviewz", None)
    with pytest.raises(VariableNotFoundError, match="did you mean 'reviews'"):
        resolve_target_name("reviewss", namespace)
    with pytest.raises(VariableNotFoundError, match="'numbers' is a list, not a DataFrame"):
        resolve_target_name("numbers", namespace)


def test_warnings_show_on_lines_of_their_own_and_no_widget_explains_the_scores(
    shell, magic, files, shown, capsys
):
    """A small target (40 rows, fewer than the embedding dimension's worth for LogME to be
    reliable) ranks with the small-sample warning as one "Warning: ..." line, never as a
    UserWarning with a leaked source line; with --no-widget the scores are explained under
    the table. With the widget the explorer shows the recorded warnings (amber) and only what
    it does not show (a file's delimiter) is printed."""
    line = f"{files['csv']} --esm-dir {files['esm_dir']} --no-widget " + _args(files)
    shell.run_line_magic("esm_rank", line + " --num-examples 20")
    out = capsys.readouterr()
    warning_lines = [w for w in out.err.splitlines() if w.startswith("Warning: ")]
    assert any("20 rows" in w for w in warning_lines), out.err
    assert len(warning_lines) == len(set(warning_lines))
    assert "UserWarning" not in out.err and "compute_task_ranking(" not in out.err
    assert "How to read the scores:" in out.out and "higher is better" in out.out

    semi = files["root"] / "semi.csv"
    semi.write_text(files["csv"].read_text().replace(",", ";"))
    widget_line = f"{semi} --esm-dir {files['esm_dir']} " + _args(files) + " --num-examples 20"
    shell.run_line_magic("esm_rank", widget_line)
    out = capsys.readouterr()
    printed = [w for w in out.err.splitlines() if w.startswith("Warning: ")]
    assert any("delimiter" in w for w in printed), out.err
    assert not any("20 rows" in w for w in printed)  # the explorer shows that one
    assert "UserWarning" not in out.err and "DataFileWarning" not in out.err


def test_warnings_issued_before_an_error_are_printed_too(shell, magic, files, capsys):
    """A file read with a note (';' as its delimiter) whose column is then missing: the note
    and the one-line error both show."""
    semi = files["root"] / "semi-bad.csv"
    semi.write_text(files["csv"].read_text().replace(",", ";"))
    result = shell.run_cell(
        f"%esm_rank {semi} --text-col review --label-col label --esm-dir {files['esm_dir']}"
    )
    assert isinstance(result.error_in_exec, ColumnNotFoundError)
    out = capsys.readouterr()
    assert "Warning: 'semi-bad.csv' uses ';'" in out.err
    assert "Traceback" not in out.out + out.err
