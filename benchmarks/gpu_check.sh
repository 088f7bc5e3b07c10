#!/usr/bin/env bash
# GPU check, one command, a few minutes on an H100/H200:
#   bash benchmarks/gpu_check.sh
# 1. the CUDA tests (every test whose name mentions cuda: fits, the batched
#    fold ensemble, device placement);
# 2. the speed bench on the GPU: a plain skorch fit against AutoBalance with
#    cv=None, 3 and 5 (is the cross-fitted search's cost nearly flat in k?),
#    with peak host memory; figures printed and written to
#    benchmarks/results/gpu_speed.{md,json} (and to $OUT when set);
# 3. the loss tournament's cost against the number of arms (1, 3, 5, 9 arms:
#    3 to 27 fold copies) next to a plain fit: is it nearly flat in the arms?
#    benchmarks/results/gpu_tournament_cost.{md,json}.
# Needs a CUDA build of torch in the active environment.
set -euo pipefail
cd "$(dirname "$0")/.."
python - <<'PY'
import torch
assert torch.cuda.is_available(), "gpu_check.sh needs a CUDA device and a CUDA build of torch"
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
python -m pytest -q -p no:cacheprovider tests -k cuda
python benchmarks/bench_speed.py --device cuda --threads 0 \
    --variants fixed autobalance ab_split ab_cv3 ab_cv5 ab_previous --no-scaling \
    --out benchmarks/results/gpu_speed.md --json benchmarks/results/gpu_speed.json
cat benchmarks/results/gpu_speed.md
python benchmarks/bench_tournament_cost.py --device cuda --threads 0 --repeats 2 \
    --out benchmarks/results/gpu_tournament_cost.md --json benchmarks/results/gpu_tournament_cost.json
if [ -n "${OUT:-}" ]; then
    cp benchmarks/results/gpu_speed.md benchmarks/results/gpu_speed.json \
       benchmarks/results/gpu_tournament_cost.md benchmarks/results/gpu_tournament_cost.json "$OUT"/
fi
