#!/usr/bin/env bash
# The GPU measurement of issue 13, as one command for a lent device machine (device tool `run`):
#   bash benchmarks/gpu_device_check.sh
# The machine's own python3 holds torch and numpy; the package is imported from the checkout
# (PYTHONPATH), nothing is installed. Writes the figures to $OUT (or out/ when unset):
#   gpu_esm_logme.json     K = 10,000 ESMs, D = 768, N = 1,000: ESM-LogME, batched torch on CUDA
#                          against the NumPy path and hf-dataset-selector's recipe (same run)
#   gpu_permutation.json   the same for the front ends' default ranker (logme-permutation)
# Together about 3-5 minutes on an H100 (CPU references on 50 and 10 ESMs).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-out}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python3 benchmarks/gpu_scoring.py --output "$out/gpu_esm_logme.json"
python3 benchmarks/gpu_scoring.py --ranker logme-permutation --output "$out/gpu_permutation.json"
