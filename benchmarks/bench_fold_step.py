"""Cost of one training step of k stacked copies of the default MLP against one network (CPU).

What is measured: the mean wall time of a training step (forward, cross-entropy,
backward, Adam step) over 300 steps after 20 warm-up steps, one torch thread,
batch 128 per copy, ``MLP(64, 10, (128, 128))``; for k = 2, 3, 6, 10 copies in a
``FoldEnsemble`` with its ``"linear"`` forward (one batched matrix product per
layer) and with the ``"vmap"`` forward. k = 6 is the default search (3 fold
networks and their 3 control twins).

Example::

    python benchmarks/bench_fold_step.py
"""

import time

import torch

from sklearn_autobalance import MLP
from sklearn_autobalance._crossfit import FoldEnsemble


def step_ms(module, X, y, n=300, warmup=20):
    opt = torch.optim.Adam(module.parameters(), 1e-3)
    for i in range(n + warmup):
        if i == warmup:
            start = time.perf_counter()
        out = module(X)
        loss = torch.nn.functional.cross_entropy(out.reshape(-1, 10), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / n * 1e3


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net, batch = MLP(64, 10), 128
    print(f"one network: {step_ms(net, torch.randn(batch, 64), torch.randint(10, (batch,))):.2f} ms")
    for k in (2, 3, 6, 10):
        ens = FoldEnsemble(net, k)
        X, y = torch.randn(k, batch, 64), torch.randint(10, (k, batch))
        linear = step_ms(ens, X, y)
        ens.mode = "vmap"
        print(f"k={k:2d}: linear {linear:.2f} ms, vmap {step_ms(ens, X, y):.2f} ms")


if __name__ == "__main__":
    main()
