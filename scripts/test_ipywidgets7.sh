#!/usr/bin/env bash
# The lower bound of the notebook front end: the pure-Python widget and magic tests on
# ipywidgets 7.7 (what Google Colab ships), in a second venv next to the Makefile's .venv.
#
#   scripts/test_ipywidgets7.sh            # set up .venv-ipywidgets7 if needed, run the tests
#   scripts/test_ipywidgets7.sh -x -q      # extra arguments go to pytest
#
# The venv is reused while it is newer than pyproject.toml and this script (a stamp file, as
# the Makefile's .venv/.installed). torch is installed first with the Makefile's CPU pin, so
# that nothing afterwards makes pip pull a multi-GB CUDA build.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv-ipywidgets7
PY=$VENV/bin/python
STAMP=$VENV/.installed
SCRIPT=scripts/test_ipywidgets7.sh
IPYWIDGETS_PIN="ipywidgets==7.7.*"
# The one torch pin of the project lives in the Makefile.
TORCH_PIN=${TORCH_PIN:-$(sed -n 's/^TORCH_PIN *:= *//p' Makefile)}
if [ -z "$TORCH_PIN" ]; then
    echo "No TORCH_PIN in the Makefile" >&2
    exit 2
fi

if [ ! -x "$PY" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ "$SCRIPT" -nt "$STAMP" ]; then
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet "$TORCH_PIN"
    # ipywidgets pinned in the same resolution as the package: widgetsnbextension and
    # jupyterlab_widgets follow it (3.x / 1.x for ipywidgets 7.7).
    "$PY" -m pip install --quiet -e ".[test,demo]" "$IPYWIDGETS_PIN" "$TORCH_PIN"
    touch "$STAMP"
fi

version=$("$PY" -c "import ipywidgets; print(ipywidgets.__version__)")
echo "ipywidgets $version in $VENV"
case "$version" in
    7.7.*) ;;
    *)
        echo "expected ipywidgets 7.7.x, found $version" >&2
        exit 1
        ;;
esac

# Pure Python only: the notebook and browser tests need JupyterLab 4 (ipywidgets 8).
# ipywidgets 7 drops a constructor argument it does not know (an 8-only one such as
# titles=) with only a DeprecationWarning: that warning fails the tests here.
exec "$VENV/bin/pytest" \
    -W "error:Passing unrecognized arguments:DeprecationWarning" \
    tests/test_widgets_*.py \
    tests/test_results_widget.py \
    tests/test_magics.py \
    tests/test_charts.py \
    "$@"
