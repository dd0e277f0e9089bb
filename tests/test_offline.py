"""Offline in seconds: with the Hub unreachable, the first Hub touch answers with one typed
error, no retries and no "Retrying in Ns" chatter (engine/hub/network.py).

Offline by construction: ``huggingface_hub``'s endpoint is a closed port on 127.0.0.1 (nothing
listens there, so every connection is refused at once), ``HF_HUB_OFFLINE`` is unset for the
test, and the Hugging Face cache is an empty folder. The tests count what matters instead of
timing it: reachability probes, HTTP requests that reached the transport, and the backoff
sleeps of ``huggingface_hub``'s retry loop (there must be none).
"""

from __future__ import annotations

import socket
import time
import types

import pandas as pd
import pytest

from hfselect_widgets import cli
from hfselect_widgets.engine.hub import network
from hfselect_widgets.errors import HubUnavailableError

OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable_hub(monkeypatch, tmp_path):
    """The Hub at a closed local port, offline mode off, an empty cache; counters of probes,
    transport requests and retry sleeps."""
    import datasets.config
    import httpx2
    import huggingface_hub.utils._http as hf_http
    from huggingface_hub import constants

    for var in OFFLINE_VARS + PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))

    counts = types.SimpleNamespace(probes=[], requests=[], sleeps=[])
    real_connect = network._tcp_connect

    def counting_connect(host, port, timeout):
        counts.probes.append((host, port))
        real_connect(host, port, timeout)

    monkeypatch.setattr(network, "_tcp_connect", counting_connect)
    real_handle = httpx2.HTTPTransport.handle_request

    def counting_handle(self, request):
        counts.requests.append(str(request.url))
        return real_handle(self, request)

    monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", counting_handle)
    # huggingface_hub's retry loop sleeps through ``time.sleep`` of its own module.
    recording_time = types.SimpleNamespace(
        **{name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
    )
    recording_time.sleep = counts.sleeps.append
    monkeypatch.setattr(hf_http, "time", recording_time)
    network.reset_hub_state()
    yield counts
    network.reset_hub_state()


def test_esm_discovery_fails_at_once_with_one_typed_offline_error(unreachable_hub):
    """Listing the Hub's ESMs while the Hub is unreachable: HubUnavailableError saying "you
    are offline", with advice about ESMs (--esm-dir), after one probe, no HTTP request and
    no retry; a second Hub touch reuses the probe's answer."""
    from hfselect_widgets.engine.hub.discovery import find_esm_repo_ids
    from hfselect_widgets.engine.hub.download import fetch_esm_configs

    with pytest.raises(HubUnavailableError) as caught:
        find_esm_repo_ids("someone/some-model")
    error = caught.value
    assert error.offline and error.field == "esm_pool"
    assert "you are offline" in str(error) and "127.0.0.1" in str(error)
    assert "--esm-dir DIR" in error.render(cli.CLI_WORDS)

    with pytest.raises(HubUnavailableError, match="you are offline"):
        fetch_esm_configs(["org/esm-x", "org/esm-y"])
    assert len(unreachable_hub.probes) == 1  # probed once, cached
    assert unreachable_hub.requests == []  # nothing sent after the probe failed
    assert unreachable_hub.sleeps == []  # no retry with backoff


def test_unreachable_hub_dataset_gets_advice_about_datasets(unreachable_hub):
    """A Hub dataset id while offline: the error is about the dataset (use a local file or a
    DataFrame), not about ESMs, and comes without retries."""
    from hfselect_widgets.engine.requests import TargetRequest

    with pytest.raises(HubUnavailableError) as caught:
        TargetRequest(source="someone/some-dataset", text_col="text", label_col="label").load()
    error = caught.value
    assert error.field == "dataset" and error.offline
    rendered = error.render(cli.CLI_WORDS)
    assert "the dataset 'someone/some-dataset'" in rendered and "you are offline" in rendered
    assert "a local CSV, TSV, JSON lines or Parquet file as DATASET" in rendered
    assert "--esm-dir" not in rendered
    assert unreachable_hub.requests == [] and unreachable_hub.sleeps == []


def test_uncached_base_model_offline_is_a_model_error_and_local_folders_pass(
    unreachable_hub, tmp_path
):
    """ensure_model_available: a Hub model that is not cached fails at once with advice about
    models (--model PATH); a local model folder never touches the network."""
    folder = tmp_path / "my-model"
    folder.mkdir()
    network.ensure_model_available(folder)
    assert unreachable_hub.probes == []

    with pytest.raises(HubUnavailableError) as caught:
        network.ensure_model_available("someone/some-model")
    assert caught.value.field == "model"
    assert "--model PATH" in caught.value.render(cli.CLI_WORDS)
    assert unreachable_hub.requests == [] and unreachable_hub.sleeps == []


def test_cli_rank_offline_is_one_line_with_exit_status_2(unreachable_hub, tmp_path, capsys):
    """`rank FILE` against the Hub (the default pool) while offline: exit status 2 and one
    error line that says so; no retry happened."""
    data = tmp_path / "target.csv"
    pd.DataFrame(
        {"text": [f"text {i} is {'good' if i % 2 else 'bad'}" for i in range(40)],
         "label": [i % 2 for i in range(40)]}
    ).to_csv(data, index=False)  # fmt: skip
    code = cli.main(
        ["rank", str(data), "--text-col", "text", "--label-col", "label",
         "--model", "someone/some-model", "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "you are offline" in lines[0] and "Retrying" not in err
    # the default pool is the Hub's ESMs: a local model alone would not do; --demo would
    assert lines[0].endswith("rank against the bundled demo ESMs: --demo.")
    assert unreachable_hub.sleeps == [] and unreachable_hub.requests == []


def test_user_offline_mode_skips_the_probe(monkeypatch):
    """HF_HUB_OFFLINE=1 (as in these tests' conftest): ensure_hub never probes; the
    libraries' own offline mode answers from the cache."""
    calls = []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    network.reset_hub_state()
    assert network.ensure_hub(connect=lambda *a: calls.append(a)) is None
    assert calls == []


def test_probe_is_cached_refreshable_and_switches_offline_mode_back(monkeypatch):
    """One probe per endpoint until refresh; a failed probe switches huggingface_hub to
    offline mode, a later successful one switches it back."""
    from huggingface_hub import constants

    for var in OFFLINE_VARS + PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://hub.example")
    calls = []

    def refuse(host, port, timeout):
        calls.append((host, port))
        raise ConnectionRefusedError(111, "Connection refused")

    network.reset_hub_state()
    try:
        reason = network.ensure_hub(connect=refuse)
        assert reason == "hub.example cannot be reached (Connection refused)"
        assert calls == [("hub.example", 443)]
        assert constants.HF_HUB_OFFLINE is True and network.offline_reason() == reason
        assert network.ensure_hub(connect=refuse) == reason and len(calls) == 1
        assert network.ensure_hub(refresh=True, connect=lambda *a: None) is None
        assert constants.HF_HUB_OFFLINE is False and network.offline_reason() is None
    finally:
        network.reset_hub_state()


def test_probe_goes_to_the_proxy_unless_no_proxy_names_the_host(monkeypatch):
    """Behind a proxy the probe checks the proxy (the Hub itself is reached through it)."""
    seen = []
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert network.probe_hub("https://hub.example", connect=lambda *a: seen.append(a)) is None
    assert seen[-1][:2] == ("proxy.example", 3128)
    monkeypatch.setenv("NO_PROXY", "example")
    network.probe_hub("https://hub.example", connect=lambda *a: seen.append(a))
    assert seen[-1][:2] == ("hub.example", 443)


def test_publish_offline_fails_at_once_saying_so(unreachable_hub, tmp_path):
    """Publishing while the Hub is unreachable: one UploadError that says you are offline,
    without retries."""
    from esm_factory import write_esm

    from hfselect_widgets.engine.hub.publish import publish_esm
    from hfselect_widgets.errors import UploadError

    folder = write_esm(tmp_path / "esm", 4, task_id="org/data", base_model_name="org/model")
    with pytest.raises(UploadError, match="You are offline"):
        publish_esm(folder, "me/esm-data", token="hf_NotARealToken")
    assert unreachable_hub.requests == [] and unreachable_hub.sleeps == []


@pytest.fixture
def silent_resolver(unreachable_hub, monkeypatch):
    """A name resolver that never answers (a network where DNS packets are dropped), and the
    Hub at a host name: every Hub touch would wait for the resolver."""
    import threading

    from huggingface_hub import constants

    released = threading.Event()
    lookups = []

    def never_answers(host, *args, **kwargs):
        lookups.append(host)
        released.wait(30)  # bounded: a test that waits for it fails instead of hanging
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(constants, "ENDPOINT", "https://hub.unreachable.example")
    monkeypatch.setattr(socket, "getaddrinfo", never_answers)
    network.reset_hub_state()
    yield lookups
    released.set()


def test_cli_rank_with_a_silent_resolver_fails_in_under_5_seconds(
    silent_resolver, unreachable_hub, tmp_path, capsys
):
    """The network unreachable in the slow way (the resolver never answers, as behind a dead
    DNS or an unroutable proxy): `rank FILE` against the Hub fails with one line and exit
    status 2 in under 5 s (it was 23-51 s of "Retrying in Ns"), after one bounded probe."""
    data = tmp_path / "target.csv"
    pd.DataFrame(
        {"text": [f"text {i} is {'good' if i % 2 else 'bad'}" for i in range(40)],
         "label": [i % 2 for i in range(40)]}
    ).to_csv(data, index=False)  # fmt: skip
    started = time.monotonic()
    code = cli.main(
        ["rank", str(data), "--text-col", "text", "--label-col", "label",
         "--model", "someone/some-model", "--no-progress"]
    )  # fmt: skip
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "you are offline" in lines[0] and "did not answer" in lines[0]
    assert elapsed < 5, f"took {elapsed:.1f} s to fail offline"
    assert silent_resolver == ["hub.unreachable.example"]  # one lookup: the probe's
    assert unreachable_hub.sleeps == [] and unreachable_hub.requests == []


def test_offline_mode_without_the_model_cached_is_the_same_typed_error(monkeypatch, tmp_path):
    """HF_HUB_OFFLINE=1 and a base model that is not cached: HubUnavailableError about the
    model (not transformers' OSError), whose advice fits offline mode."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    network.reset_hub_state()
    with pytest.raises(HubUnavailableError) as caught:
        network.ensure_model_available("someone/some-model")
    error = caught.value
    assert error.field == "model" and error.offline
    rendered = error.render(cli.CLI_WORDS)
    assert "HF_HUB_OFFLINE is set" in rendered and "unset HF_HUB_OFFLINE" in rendered
    assert "--model PATH" in rendered and "\n" not in rendered


@pytest.mark.parametrize("model", ["{tmp}/no-such-model", "./no-such-model", "not a valid id!"])
def test_mistyped_model_folder_or_id_is_a_typed_error_without_a_probe(
    unreachable_hub, tmp_path, capsys, model
):
    """`--model` naming a folder that does not exist (or no valid Hub id): one line, exit
    status 2, ModelLoadError; it was a raw HFValidationError traceback while offline. A
    path is never looked up on the Hub."""
    from hfselect_widgets.errors import ModelLoadError

    model = model.format(tmp=tmp_path)
    with pytest.raises(ModelLoadError):
        network.ensure_model_available(model)
    data = tmp_path / "target.csv"
    pd.DataFrame({"text": [f"text {i}" for i in range(30)], "label": [i % 2 for i in range(30)]}
                 ).to_csv(data, index=False)  # fmt: skip
    code = cli.main(
        ["rank", str(data), "--text-col", "text", "--label-col", "label", "--demo",
         "--model", model, "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: Could not load the base model"), err
    if model != "not a valid id!":
        assert "There is no folder at this path" in lines[0]
        assert unreachable_hub.probes == []
