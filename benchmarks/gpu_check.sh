#!/usr/bin/env bash
# GPU check, one command, a few minutes on an H100/H200:
#   bash benchmarks/gpu_check.sh
# 1. the CUDA tests (every test whose name mentions cuda: fits, the batched
#    fold ensemble, device placement);
# 2. the speed bench on the GPU: a plain skorch fit against search=None (LA),
#    the default tournament (9 arms x 3 folds = 27 batched copies, with its
#    checkpoint drops and the time of the tournament phase vs the final fit),
#    the hyper-gradient search (search="l+delta", the previous default) and a
#    GridSearchCV(cv=3) over the same 9 arms, with peak host and CUDA memory;
#    figures printed and written to benchmarks/results/gpu_speed.{md,json}
#    (and to $OUT when set);
# 3. the loss tournament's cost against the number of arms (1, 3, 5, 9 arms:
#    3 to 27 fold copies) next to a plain fit: is it nearly flat in the arms?
#    And the 9 arms with refined challengers (--refine l+delta).
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
    --variants fixed autobalance ab_hypergradient arm_grid --no-scaling \
    --out benchmarks/results/gpu_speed.md --json benchmarks/results/gpu_speed.json
cat benchmarks/results/gpu_speed.md
python benchmarks/bench_tournament_cost.py --device cuda --threads 0 --repeats 2 --refine l+delta \
    --out benchmarks/results/gpu_tournament_cost.md --json benchmarks/results/gpu_tournament_cost.json
if [ -n "${OUT:-}" ]; then
    cp benchmarks/results/gpu_speed.md benchmarks/results/gpu_speed.json \
       benchmarks/results/gpu_tournament_cost.md benchmarks/results/gpu_tournament_cost.json "$OUT"/
fi
