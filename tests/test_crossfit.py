"""Cross-fitting machinery: the batched fold ensemble, fold batches, per-block hyper-gradients."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_autobalance import AutoBalanceClassifier, MLP, NoGainWarning
from sklearn_autobalance import _crossfit
from sklearn_autobalance._crossfit import (
    CrossFit, FoldBatches, FoldEnsemble, implicit_parameter_names)
from sklearn_autobalance._hypergradient import implicit_hypergradient
from sklearn_autobalance.losses._parametric import parametric_cross_entropy


class _Dropless(nn.Module):
    """A module the linear fast path does not take (forces vmap)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(5, 7)
        self.b = nn.Linear(7, 3)

    def forward(self, X):
        return self.b(torch.tanh(self.a(X)))


class _WithBatchNorm(nn.Module):
    """Batch norm updates its running statistics in training: vmap refuses, the loop runs."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(5, 7)
        self.bn = nn.BatchNorm1d(7)
        self.b = nn.Linear(7, 3)

    def forward(self, X):
        return self.b(torch.relu(self.bn(self.a(X))))


class _DataDependent(nn.Module):
    """Python control flow on tensor values: vmap cannot batch it, the loop runs it."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(5, 3)

    def forward(self, X):
        out = self.a(X)
        return out * 2.0 if float(out.detach().sum()) > 0 else out


def _separate(module, k):
    torch.manual_seed(1)
    copies = [copy.deepcopy(module) for _ in range(k)]
    for c in copies[1:]:  # distinct weights per copy, so a mixed-up fold would show
        with torch.no_grad():
            for p in c.parameters():
                p.add_(0.1 * torch.randn_like(p))
    return copies


def _ensemble_of(copies):
    ens = FoldEnsemble(copies[0], len(copies))
    with torch.no_grad():
        for name, p in ens.named_parameters():
            p.copy_(torch.stack([dict(c.named_parameters())[name.replace("__", ".")]
                                 for c in copies]))
    return ens


@pytest.mark.parametrize("make, mode", [
    (lambda: MLP(5, 3, (7, 6)), "linear"),
    (lambda: nn.Sequential(nn.Linear(5, 7), nn.GELU(), nn.Linear(7, 3)), "linear"),
    (_Dropless, "vmap"),
    (_WithBatchNorm, ("vmap", "loop")),
    (_DataDependent, "loop"),
])
def test_batched_ensemble_equals_separate_networks(make, mode):
    torch.manual_seed(0)
    k = 3
    copies = _separate(make(), k)
    ens = _ensemble_of(copies)
    assert ens.mode in mode if isinstance(mode, tuple) else ens.mode == mode
    X = torch.randn(k, 8, 5)
    y = torch.randint(3, (k, 8))
    out = ens(X)
    assert out.shape == (k, 8, 3)
    # The same loss, summed over folds, on both sides.
    loss = sum(nn.functional.cross_entropy(out[j], y[j]) for j in range(k))
    loss.backward()
    for j, c in enumerate(copies):
        ref = c(X[j])
        torch.testing.assert_close(out[j], ref, rtol=1e-5, atol=1e-6)
        nn.functional.cross_entropy(ref, y[j]).backward()
        for name, p in c.named_parameters():
            stacked = getattr(ens, name.replace(".", "__"))
            torch.testing.assert_close(stacked.grad[j], p.grad, rtol=1e-5, atol=1e-6)
        for name, b in c.named_buffers():  # batch norm's running statistics, per copy
            torch.testing.assert_close(getattr(ens, name.replace(".", "__"))[j], b)
    # fold_module gives copy j back as a plain module.
    back = ens.fold_module(make(), 1)
    ens.eval(), copies[1].eval()
    torch.testing.assert_close(back.eval()(X[1]), copies[1](X[1]), rtol=1e-5, atol=1e-6)


def test_one_optimiser_step_equals_k_separate_steps():
    torch.manual_seed(0)
    k = 2
    copies = _separate(MLP(5, 3, (6,)), k)
    ens = _ensemble_of(copies)
    X, y = torch.randn(k, 16, 5), torch.randint(3, (k, 16))
    opt = torch.optim.Adam(ens.parameters(), lr=0.01)
    out = ens(X)
    sum(nn.functional.cross_entropy(out[j], y[j]) for j in range(k)).backward()
    opt.step()
    for j, c in enumerate(copies):
        o = torch.optim.Adam(c.parameters(), lr=0.01)
        nn.functional.cross_entropy(c(X[j]), y[j]).backward()
        o.step()
        for name, p in c.named_parameters():
            torch.testing.assert_close(getattr(ens, name.replace(".", "__"))[j], p,
                                       rtol=1e-5, atol=1e-6)


def test_fold_batches_only_draw_each_folds_training_rows():
    n = 23
    X = {"X": torch.arange(n, dtype=torch.float32)[:, None]}
    y = torch.zeros(n, dtype=torch.long)
    rows = [np.arange(0, 15), np.arange(8, 23), np.r_[0:8, 15:23]]
    batches = FoldBatches(X, y, rows, batch_size=4, generator=torch.Generator().manual_seed(0))
    seen = [[] for _ in rows]
    for xb, yb in batches:
        assert xb["X"].shape[:2] == yb.shape and yb.shape[0] == 3
        for j in range(3):
            seen[j] += xb["X"][j, :, 0].long().tolist()
    assert len(batches) == 4  # ceil(16 / 4): the longest fold sets the epoch
    for j, r in enumerate(rows):
        assert set(seen[j]) == set(r.tolist())  # every training row, no other row


def _sentinel_fit(monkeypatch, **params):
    """A fit whose first feature is the row index: record which rows each copy touches."""
    rng = np.random.RandomState(0)
    n = 150
    X = np.c_[np.arange(n), rng.randn(n, 3)].astype(np.float32)
    y = rng.randint(3, size=n)
    touched = {"train": [], "hyper_train": [], "hyper_valid": []}
    original = FoldEnsemble.forward
    phase = {"name": "train"}

    def forward(self, Xb):
        if self.training and phase["name"] == "train":
            touched["train"].append(Xb[..., 0].detach().long().clone())
        return original(self, Xb)

    orig_hyper = CrossFit.hyper_losses

    def hyper(self, module, space, objective, train_size, valid_size, generator):
        # Replay the same draws to see the rows (same generator state).
        state = generator.get_state()
        from sklearn_autobalance._crossfit import _sample_rows
        touched["hyper_valid"].append(_sample_rows(self.valid_table, self.valid_lengths,
                                                   valid_size, generator))
        touched["hyper_train"].append(_sample_rows(self.train_table, self.train_lengths,
                                                   train_size, generator))
        generator.set_state(state)
        phase["name"] = "hyper"
        try:
            return orig_hyper(self, module, space, objective, train_size, valid_size,
                              generator)
        finally:
            phase["name"] = "train"

    monkeypatch.setattr(FoldEnsemble, "forward", forward)
    monkeypatch.setattr(CrossFit, "hyper_losses", hyper)
    designs = []
    orig_init = CrossFit.__init__

    def init(self, *args, **kwargs):
        orig_init(self, *args, **kwargs)
        designs.append(self)

    monkeypatch.setattr(CrossFit, "__init__", init)
    AutoBalanceClassifier(hidden_layer_sizes=(8,), max_epochs=4, batch_size=32,
                          random_state=0, search="l+delta", **params).fit(X, y)
    return designs[0], touched


@pytest.mark.parametrize("params", [dict(cv=3), dict(cv=4), dict()])
def test_no_fold_network_trains_on_its_own_validation_fold(monkeypatch, params):
    design, touched = _sentinel_fit(monkeypatch, **params)
    k = design.n_searched
    valid = [set(np.asarray(f[1]).tolist()) for f in design.folds]
    train = [set(np.asarray(f[0]).tolist()) for f in design.folds]
    assert touched["train"] and touched["hyper_train"]
    for rows in touched["train"]:  # (n_blocks, batch): control copy k + j follows fold j
        for block in range(rows.shape[0]):
            j = block % k
            assert not set(rows[block].tolist()) & valid[j]
    for rows in touched["hyper_train"]:
        for j in range(k):
            assert set(rows[j].tolist()) <= train[j]
    for rows in touched["hyper_valid"]:
        for j in range(k):
            assert set(rows[j].tolist()) <= valid[j]
    # The validation folds partition the data: pooled scores cover every row once.
    assert sorted(design.pooled_rows.tolist()) == list(range(150))


def test_pooled_scores_come_from_the_network_that_never_saw_the_row():
    torch.manual_seed(0)
    n, k = 30, 3
    X = {"X": torch.randn(n, 4)}
    y = torch.randint(2, (n,))
    folds = [(np.setdiff1d(np.arange(n), np.arange(j, n, k)), np.arange(j, n, k))
             for j in range(k)]
    design = CrossFit((X, y), folds, "last", [n_ for n_, _ in MLP(4, 2, (5,)).named_parameters()],
                      control=True)
    copies = _separate(MLP(4, 2, (5,)), 2 * k)
    ens = _ensemble_of(copies)
    logits, y_out, groups, control = design.validation_logits(ens)
    assert groups is None
    for pos, row in enumerate(design.pooled_rows.tolist()):
        j = next(j for j, f in enumerate(folds) if row in f[1])
        torch.testing.assert_close(logits[pos], copies[j].eval()(X["X"][row]))
        torch.testing.assert_close(control[pos], copies[k + j].eval()(X["X"][row]))
        assert y_out[pos] == y[row]


def test_cross_fitted_hypergradient_is_the_mean_of_the_single_fold_ones():
    # A tiny problem: linear model, 3 folds, fixed batches, the same Neumann step.
    torch.manual_seed(0)
    k, n_features, n_classes = 3, 4, 3
    copies = _separate(MLP(n_features, n_classes, ()), k)
    ens = _ensemble_of(copies)
    Xt, yt = torch.randn(k, 20, n_features), torch.randint(n_classes, (k, 20))
    Xv, yv = torch.randn(k, 10, n_features), torch.randint(n_classes, (k, 10))
    counts = torch.tensor([10.0, 5.0, 2.0])
    l0 = torch.log(counts / counts.sum())
    a = torch.zeros(1, requires_grad=True)

    def losses(out_t, out_v, y_t, y_v):
        l = l0 + a * l0
        train = parametric_cross_entropy(out_t, y_t, torch.ones(3), l, torch.zeros(3))
        return train, nn.functional.cross_entropy(out_v, y_v)

    names = implicit_parameter_names(copies[0], "all")
    singles, etas = [], []
    for j, c in enumerate(copies):
        train, val = losses(c(Xt[j]), c(Xv[j]), yt[j], yv[j])
        params = [dict(c.named_parameters())[nm] for nm in names]
        (g,), eta = implicit_hypergradient(train, val, params, [a], neumann_steps=3,
                                           damping=0.1, return_step_size=True,
                                           generator=torch.Generator().manual_seed(j))
        singles.append(g)
        etas.append(eta)
    out_t, out_v = ens(Xt), ens(Xv)
    train = sum(losses(out_t[j], out_v[j], yt[j], yv[j])[0] for j in range(k))
    val = sum(losses(out_t[j], out_v[j], yt[j], yv[j])[1] for j in range(k))
    (g,) = implicit_hypergradient(train, val, ens.stacked_parameters(names), [a],
                                  neumann_steps=3, damping=0.1, n_blocks=k,
                                  step_size=torch.tensor(etas))
    torch.testing.assert_close(g / k, torch.stack(singles).mean(0), rtol=1e-4, atol=1e-7)
    # With its own power iteration, each block's step size matches its network's.
    from sklearn_autobalance._hypergradient import estimate_curvature
    out_t, out_v = ens(Xt), ens(Xv)
    train = sum(losses(out_t[j], out_v[j], yt[j], yv[j])[0] for j in range(k))
    grads = torch.autograd.grad(train, ens.stacked_parameters(names), create_graph=True)
    block = estimate_curvature(grads, ens.stacked_parameters(names), n_iter=50, n_blocks=k)
    for j, c in enumerate(copies):
        train_j, _ = losses(c(Xt[j]), c(Xv[j]), yt[j], yv[j])
        params = [dict(c.named_parameters())[nm] for nm in names]
        gj = torch.autograd.grad(train_j, params, create_graph=True)
        single = estimate_curvature(gj, params, n_iter=50)
        torch.testing.assert_close(block[j], single, rtol=1e-3, atol=1e-6)


def test_implicit_parameter_names_last_layer():
    assert implicit_parameter_names(MLP(4, 2, (5, 6)), "last") == [
        "layers.4.weight", "layers.4.bias"]
    assert len(implicit_parameter_names(MLP(4, 2, (5,)), "all")) == 4


def test_cross_fitted_fit_is_reproducible_and_reports(capsys):
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5)
    y = (X[:, 0] + 0.3 * rng.randn(200) > 0.8).astype(int)
    params = dict(hidden_layer_sizes=(8,), max_epochs=5, batch_size=32, cv=3, random_state=0,
                  search="l+delta")
    a = AutoBalanceClassifier(**params, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "3 fold networks" in out and "all 200 samples scored out of fold" in out
    assert "paired selection" in out
    b = AutoBalanceClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    records = [r for r in a.search_history_ if r["scope"] == "validation_set"]
    assert sum(r["kept"] for r in records) == 1
    assert all({"paired_gain", "paired_se", "control_selection"} <= set(r) for r in records)


def test_cv_parameter_is_checked():
    X, y = np.random.RandomState(0).randn(40, 3), np.r_[[0] * 30, [1] * 10]
    for bad in (2.5, None, "auto", True):
        with pytest.raises(TypeError, match="cv must be an int >= 2"):
            AutoBalanceClassifier(cv=bad).fit(X, y)
    with pytest.raises(ValueError, match="cv must be an int >= 2"):
        AutoBalanceClassifier(cv=1).fit(X, y)
    y_rare = np.r_[[0] * 39, [1]]
    with pytest.raises(ValueError, match="class 1 has 1 sample"):
        AutoBalanceClassifier(cv=3, max_epochs=2).fit(X, y_rare)


# Tiny data: whether the group search moves is not what this test checks.
@pytest.mark.filterwarnings("ignore::sklearn_autobalance.NoGainWarning")
def test_fit_with_groups_and_sample_weight_under_cv():
    rng = np.random.RandomState(0)
    X = rng.randn(160, 4)
    y = (X[:, 0] > 0).astype(int)
    g = rng.randint(2, size=160)
    clf = AutoBalanceClassifier(hidden_layer_sizes=(8,), max_epochs=4, batch_size=32, cv=3,
                                objective="group_balanced", random_state=0)
    clf.fit(X, y, sensitive_features=g, sample_weight=rng.rand(160) + 0.5)
    assert clf.loss_params_["l"].shape == (2, 2)
    assert clf.predict(X).shape == (160,)


def test_refit_false_with_cv_averages_the_fold_networks():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4)
    y = (X[:, 0] > 0.3).astype(int)
    clf = AutoBalanceClassifier(hidden_layer_sizes=(8,), max_epochs=3, batch_size=32, cv=3,
                                search="l+delta", refit=False, random_state=0).fit(X, y)
    module = clf.net_.module_
    assert isinstance(module, _crossfit.FoldAverage)
    Xt = torch.tensor(X, dtype=torch.float32)
    copies = [module.ensemble.fold_module(MLP(4, 2, (8,)), j).eval() for j in range(3)]
    with torch.no_grad():
        mean = torch.stack([c(Xt) for c in copies]).mean(0)
    np.testing.assert_allclose(clf.net_.forward({"X": Xt}).numpy(), mean.numpy(), rtol=1e-5,
                               atol=1e-6)
    assert clf.predict(X).shape == (120,)


CUDA = torch.cuda.is_available()


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_fold_ensemble_and_cross_fitted_fit():
    torch.manual_seed(0)
    copies = _separate(MLP(5, 3, (7,)), 3)
    ens = _ensemble_of(copies).cuda()
    X = torch.randn(3, 8, 5)
    out = ens(X.cuda()).cpu()
    for j, c in enumerate(copies):
        torch.testing.assert_close(out[j], c(X[j]), rtol=1e-4, atol=1e-5)
    rng = np.random.RandomState(0)
    Xn = rng.randn(200, 5)
    y = (Xn[:, 0] > 0.5).astype(int)
    clf = AutoBalanceClassifier(hidden_layer_sizes=(8,), max_epochs=4, batch_size=32, cv=3,
                                device="cuda", random_state=0).fit(Xn, y)
    assert next(clf.net_.module_.parameters()).is_cuda
    assert clf.selection_report_ is not None and clf.predict(Xn).shape == (200,)


def test_copy_blocks_copies_weights_and_optimiser_state():
    torch.manual_seed(0)
    ens = FoldEnsemble(MLP(4, 2, (5,)), 4)
    opt = torch.optim.Adam(ens.parameters(), lr=0.1)
    for _ in range(3):  # only the first two copies train (a shorter fold axis)
        out = ens(torch.randn(2, 6, 4))
        opt.zero_grad()
        out.square().sum().backward()
        opt.step()
    ens.copy_blocks(slice(0, 2), slice(2, 4), opt)
    for p in ens.parameters():
        torch.testing.assert_close(p[2:], p[:2])
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(opt.state[p][key][2:], opt.state[p][key][:2])


def test_control_twins_start_as_the_searched_networks_at_the_warmup_end():
    rng = np.random.RandomState(0)
    X = rng.randn(150, 4)
    y = (X[:, 0] + 0.5 * rng.randn(150) > 0.5).astype(int)
    clf = AutoBalanceClassifier(hidden_layer_sizes=(8,), max_epochs=5, batch_size=32,
                                random_state=0, search="l+delta",
                                hypergradient_params={"hyper_lr": 0.5})
    from sklearn_autobalance import _search

    seen = {}
    original = _search.LossSearch.select_paired

    def spy(self, *args, **kwargs):
        seen["candidates"] = self.candidates_
        return original(self, *args, **kwargs)

    _search.LossSearch.select_paired = spy
    try:
        clf.fit(X, y)
    finally:
        _search.LossSearch.select_paired = original
    first = seen["candidates"][0]  # the warm-up's end: the control is a copy
    assert torch.equal(first["predictions"], first["control_predictions"])


def test_auto_runs_the_tournament_for_classes_and_the_search_for_groups(capsys):
    rng = np.random.RandomState(0)
    X = rng.randn(160, 4)
    y = (X[:, 0] > 0).astype(int)
    g = rng.randint(2, size=160)
    params = dict(max_epochs=3, batch_size=32, random_state=0, verbose=1)
    clf = AutoBalanceClassifier(hidden_layer_sizes=(8,), **params).fit(X, y)
    assert "x 3 fold networks" in capsys.readouterr().out
    assert clf.selection_report_["kind"] == "tournament"
    # A class objective with groups: the hyper-gradient search, cross-fitted on
    # (class, group) strata, with the paired rule.
    grouped = AutoBalanceClassifier(hidden_layer_sizes=(), **params)
    grouped.fit(X, y, sensitive_features=g)
    out = capsys.readouterr().out
    assert "3 fold networks, each validated on its own fold" in out
    assert grouped.selection_report_["kind"] == "paired"
    # A group objective, even on a linear model: the cross-fitted output layer.
    linear = AutoBalanceClassifier(objective="group_balanced", hidden_layer_sizes=(), **params)
    with pytest.warns(NoGainWarning):  # 160 rows: nothing beats the start
        linear.fit(X, y, sensitive_features=g)
    assert "cross-fitted output layer of a linear model" in capsys.readouterr().out
