# The two commands of the README: `make demo` and `make test`. Each sets up what it needs.
# `make docs` builds the documentation site into site/ (also part of `make test`).
# torch is pinned to the CPU build here (pyproject.toml leaves it open for Colab/GPU users):
# it must be installed before anything that depends on torch, or pip pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.installed
# The real-browser tests drive Debian's chromium (Playwright cannot download a browser here).
CHROMIUM := /usr/bin/chromium
# `make test NO_BROWSER=1` skips the browser tests locally (refused in CI, where CI is set).
NO_BROWSER ?=
ifneq ($(strip $(NO_BROWSER)),)
PYTEST_BROWSER_FLAG := --no-browser
endif

.PHONY: setup chromium test lint docs docs-serve test-ipywidgets7 demo benchmark clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -e ".[test,demo,browser,docs]"
	touch $(STAMP)

setup: $(STAMP)

# Debian's chromium, installed when missing (as root, as in CI; otherwise say what to run).
chromium:
	@if [ -n "$(strip $(NO_BROWSER))" ] || [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "$(CHROMIUM) is missing: run 'sudo apt-get install chromium' (or make test NO_BROWSER=1)" >&2; \
		exit 1; \
	fi; \
	echo "Installing Debian's chromium for the browser tests"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The documentation site (mkdocs.yml, docs/): strict, so a broken reference or a docstring
# name that no longer resolves fails the build. Offline: no plugin fetches anything.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs
docs: setup
	$(MKDOCS) build --strict

docs-serve: setup
	$(MKDOCS) serve --strict

# Everything: lint, the docs build, the unit, notebook and real-browser tests, then the widget
# tests again on ipywidgets 7.7 (the lower bound we support: Google Colab) in a second venv.
test: setup lint docs chromium
	$(VENV)/bin/pytest $(PYTEST_BROWSER_FLAG) $(PYTEST_ARGS)
	$(MAKE) test-ipywidgets7

test-ipywidgets7:
	PYTHON="$(PYTHON)" scripts/test_ipywidgets7.sh -q

demo: setup
	$(PY) -m hfselect_widgets demo $(DEMO_ARGS)

benchmark: setup
	$(PY) benchmarks/compare_hfselect.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-ipywidgets7 .pytest_cache .ruff_cache site
