"""Every default of a ranking lives once, in ``engine/defaults.py``, and every front end reads it.

A default changed there reaches the Python request layer, the command line, the ``%esm_rank``
magic and the App alike: here each front end's own default is compared with that module (and
with a changed value, for the ones that read it when they are built).
"""

from __future__ import annotations

from hfselect_widgets import cli
from hfselect_widgets.engine import defaults
from hfselect_widgets.engine.requests import PoolRequest, RankingRequest, TargetRequest
from hfselect_widgets.magics import EsmRankMagics
from hfselect_widgets.widgets.dataset_picker import DatasetPicker
from hfselect_widgets.widgets.esm_pool import ESMPoolSelector
from hfselect_widgets.widgets.run_panel import RunPanel


def test_the_request_layer_takes_its_defaults_from_the_defaults_module():
    target, request = TargetRequest(), RankingRequest()
    assert (target.text_col, target.label_col, target.split) == (
        defaults.TEXT_COL,
        defaults.LABEL_COL,
        defaults.SPLIT,
    )
    assert (target.num_examples, target.seed) == (defaults.NUM_EXAMPLES, defaults.SEED)
    assert PoolRequest().kind == defaults.POOL
    assert (request.batch_size, request.device, request.ranker, request.resamples) == (
        defaults.BATCH_SIZE,
        defaults.DEVICE,
        defaults.RANKER,
        defaults.RESAMPLES,
    )


def test_the_command_line_defaults_are_the_engines():
    args = cli.build_parser().parse_args(
        ["rank", "data.csv", "--text-col", "t", "--label-col", "l"]
    )
    assert (args.split, args.num_examples, args.seed) == (
        defaults.SPLIT,
        defaults.NUM_EXAMPLES,
        defaults.SEED,
    )
    assert (args.batch_size, args.device, args.top) == (
        defaults.BATCH_SIZE,
        defaults.DEVICE,
        defaults.TOP,
    )
    assert (args.ranker, args.resamples) == (defaults.RANKER, defaults.RESAMPLES)
    demo = cli.build_parser().parse_args(["demo"])
    assert (demo.text_col, demo.label_col) == ([defaults.TEXT_COL], defaults.LABEL_COL)


def test_the_magic_options_default_to_the_engines():
    traits = EsmRankMagics.class_traits()
    expected = {
        "split": defaults.SPLIT,
        "num_examples": defaults.NUM_EXAMPLES,
        "seed": defaults.SEED,
        "top": defaults.TOP,
        "esm_source": defaults.POOL,
        "batch_size": defaults.BATCH_SIZE,
        "device": defaults.DEVICE,
    }
    assert {name: traits[name].default_value for name in expected} == expected


def test_the_app_builds_requests_with_the_engines_defaults():
    panel = RunPanel(DatasetPicker({}, source="demo"), ESMPoolSelector())
    request = panel.ranking_request()
    assert request.batch_size == defaults.BATCH_SIZE
    assert request.ranker == defaults.RANKER
    assert request.pool.kind == defaults.POOL
    assert request.target.seed == defaults.SEED
    assert request.target.num_examples == defaults.NUM_EXAMPLES


def test_training_defaults_are_the_engines_in_the_cli_and_the_fine_tuning_config():
    """The fine-tuning and ESM-fit recipe is written once: `train` and `build-collection` offer
    the values FineTuneConfig and the hfselect SGD fit use."""
    from hfselect_widgets.engine.esm.fit import HFSELECT_SGD_DEFAULTS
    from hfselect_widgets.engine.training.finetune import FineTuneConfig

    config = FineTuneConfig()
    engine = (config.num_epochs, config.min_steps, config.learning_rate, config.batch_size)
    assert engine == (
        defaults.FINETUNE_EPOCHS,
        defaults.FINETUNE_MIN_STEPS,
        defaults.FINETUNE_LEARNING_RATE,
        defaults.FINETUNE_BATCH_SIZE,
    )
    assert config.max_epochs == defaults.FINETUNE_MAX_EPOCHS
    train = cli.build_parser().parse_args(
        ["train", "data.csv", "-o", "out", "--text-col", "t", "--label-col", "l"]
    )
    build = cli.build_parser().parse_args(
        ["build-collection", "m.yaml", "--out", "o", "--base-model", "m"]
    )
    for args in (train, build):
        assert (args.epochs, args.min_steps, args.learning_rate, args.train_batch_size) == engine
    assert train.weight_decay == config.weight_decay
    assert (train.esm_epochs, train.esm_learning_rate, train.esm_batch_size) == (
        HFSELECT_SGD_DEFAULTS["num_epochs"],
        HFSELECT_SGD_DEFAULTS["learning_rate"],
        HFSELECT_SGD_DEFAULTS["batch_size"],
    )
