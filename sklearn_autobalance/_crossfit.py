"""Cross-fitting for the search: k networks trained at once, one per fold.

With ``cv=k`` the search trains k copies of the network side by side, copy
``j`` on every fold but ``j``, and scores fold ``j`` with copy ``j``: every
sample is a validation sample once, so the epoch-end selection sees the pooled
out-of-fold predictions of all n samples instead of a 20% split. The copies
are one module whose parameters carry a leading fold dimension
(:class:`FoldEnsemble`), so one optimiser step updates all k, and one batched
forward serves all k (``torch.func.vmap``).

The validation design of :class:`~sklearn_autobalance._search.LossSearch`
lives here too: :class:`CrossFit` (k folds) draws hyper-batches, builds the
training and validation losses of one hyper-step, and scores its validation
samples.
"""

import copy

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ._network import TabularNet
from ._sparse import chunk_rows, dense
from .losses._parametric import parametric_cross_entropy


def _key(name):
    # nn.Module attribute names cannot contain dots.
    return name.replace(".", "__")


class FoldEnsemble(nn.Module):
    """k copies of a network as one module; input and output carry a fold axis.

    ``forward(X)`` maps ``X`` of shape ``(k, batch, n_features)`` to logits of
    shape ``(k, batch, n_classes)``: copy ``j`` sees ``X[j]`` only. Parameter
    ``name`` of the wrapped module becomes one parameter of shape
    ``(k, *shape)`` (dots in names become ``__``); copy ``j`` is its slice
    ``j``. Since Adam, AdamW and SGD act element-wise, one optimiser on these
    stacked parameters takes the k networks' own steps, provided the loss is
    the sum of the k networks' losses.

    The forward (``mode``) is, in order of preference:

    - ``"linear"``: for the default :class:`MLP` and any ``nn.Sequential`` of
      ``nn.Linear`` and element-wise layers (ReLU, GELU, Tanh, Dropout, ...),
      one batched matrix product per layer (``torch.baddbmm``): the least
      overhead per step, which is what small tabular networks pay for;
    - ``"vmap"``: ``torch.func.vmap`` of ``functional_call`` over the fold
      axis, for any module built of batchable operations;
    - ``"loop"``: a module that cannot be vmapped (e.g. batch norm updating
      its running statistics in training) runs its k copies one after the
      other, with the same semantics.

    Parameters
    ----------
    module : torch.nn.Module
        The network; its current weights start every copy.
    n_folds : int
    """

    def __init__(self, module, n_folds):
        super().__init__()
        self.n_folds = n_folds
        copies = [copy.deepcopy(module) for _ in range(n_folds)]
        params, buffers = stack_module_state(copies)
        self.param_names, self.buffer_names = list(params), list(buffers)
        requires = {name: p.requires_grad for name, p in module.named_parameters()}
        for name, value in params.items():
            self.register_parameter(
                _key(name), nn.Parameter(value.detach().clone(), requires_grad=requires[name]))
        for name, value in buffers.items():
            self.register_buffer(_key(name), value.detach().clone())
        # The template holds no data (meta device): functional_call supplies
        # the fold's slices. It is kept out of the registered sub-modules, so
        # that .parameters() and .to() see the stacked tensors only.
        object.__setattr__(self, "_template", copy.deepcopy(module).to("meta"))
        self.layers_ = self._linear_layers(module)
        if self.layers_ is not None:
            self.mode = "linear"
        else:
            self.mode = "vmap" if self._vmap_works(module) else "loop"

    _ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.SiLU, nn.ELU,
                    nn.Identity, nn.Dropout)

    @classmethod
    def _linear_layers(cls, module):
        """``[(prefix or None, layer)]`` for a stack of Linear and element-wise layers, else None."""
        from ._network import MLP

        if type(module) is MLP:
            seq, prefix = module.layers, "layers."
        elif type(module) is nn.Sequential:
            seq, prefix = module, ""
        else:
            return None
        out = []
        for name, layer in seq.named_children():
            if type(layer) is nn.Linear:
                out.append((prefix + name, None))
            elif type(layer) in cls._ELEMENTWISE:
                out.append((None, layer))
            else:
                return None
        return out

    def _stacked(self):
        params = {n: getattr(self, _key(n)) for n in self.param_names}
        buffers = {n: getattr(self, _key(n)) for n in self.buffer_names}
        return params, buffers

    def _vmap_works(self, module):
        """Whether the vmapped forward runs on this module (tried on copies, no side effect)."""
        first = next(iter(module.parameters()), None)
        n_features = getattr(module, "in_features", None)
        for m in module.modules():
            if isinstance(m, nn.Linear):
                n_features = m.in_features
                break
        if first is None or n_features is None:
            return False
        params, buffers = self._stacked()
        params = {n: p.detach().clone() for n, p in params.items()}
        buffers = {n: b.clone() for n, b in buffers.items()}
        X = torch.zeros(self.n_folds, 2, n_features, dtype=first.dtype, device=first.device)
        try:
            with torch.no_grad():
                self._vmapped(params, buffers, X)
            return True
        except Exception:  # noqa: BLE001  (vmap's refusals have no common type)
            return False

    def _vmapped(self, params, buffers, X):
        def one(p, b, x):
            return functional_call(self._template, (p, b), (x,))
        return vmap(one, randomness="different")(params, buffers, X)

    def _linear_forward(self, X):
        m = X.shape[0]
        for name, layer in self.layers_:
            if name is None:
                layer.train(self.training)
                X = layer(X)
                continue
            weight = getattr(self, _key(name + ".weight"))[:m]
            bias = getattr(self, _key(name + ".bias"), None)
            bias = None if bias is None else bias[:m]
            if bias is None:
                X = torch.bmm(X, weight.transpose(1, 2))
            else:
                X = torch.baddbmm(bias.unsqueeze(1), X, weight.transpose(1, 2))
        return X

    def forward(self, X):
        """Logits of copies ``0 .. X.shape[0] - 1``: a shorter fold axis runs only the first copies."""
        if self.mode == "linear":
            return self._linear_forward(X)
        m = X.shape[0]
        params, buffers = self._stacked()
        self._template.train(self.training)
        if self.mode == "vmap":
            if m < self.n_folds:
                params = {n: p[:m] for n, p in params.items()}
                buffers = {n: b[:m] for n, b in buffers.items()}
            return self._vmapped(params, buffers, X)
        return torch.stack([
            functional_call(self._template,
                            ({n: p[j] for n, p in params.items()},
                             {n: b[j] for n, b in buffers.items()}), (X[j],))
            for j in range(m)
        ])

    @torch.no_grad()
    def copy_blocks(self, source, target, optimizer=None):
        """Copy ``source`` copies' weights, buffers and optimiser state onto ``target`` copies."""
        for tensor in list(self.parameters()) + list(self.buffers()):
            tensor[target] = tensor[source]
            state = {} if optimizer is None else optimizer.state.get(tensor, {})
            for value in state.values():
                if torch.is_tensor(value) and value.shape == tensor.shape:
                    value[target] = value[source]

    def fold_module(self, module, j):
        """Copy ``j`` as a plain module shaped like ``module`` (a deep copy is filled)."""
        out = copy.deepcopy(module)
        params, buffers = self._stacked()
        state = {n: t[j].detach().clone() for n, t in {**params, **buffers}.items()}
        out.load_state_dict(state, strict=False)
        return out

    def stacked_parameters(self, names):
        """The stacked parameters of the wrapped module's ``names``."""
        return [getattr(self, _key(n)) for n in names]


class FoldAverage(nn.Module):
    """The mean logits of the first ``n_searched`` copies of a :class:`FoldEnsemble`.

    ``refit=False`` with cross-fitting keeps the searched fold networks
    themselves as the model (each trained on (k-1)/k of the data): their
    logits are averaged, as a cross-validation bag.
    """

    def __init__(self, ensemble, n_searched):
        super().__init__()
        self.ensemble, self.n_searched = ensemble, n_searched

    def forward(self, X):
        return self.ensemble(X.unsqueeze(0).expand(self.n_searched, *X.shape)).mean(0)


def padded_index(rows_per_fold, device):
    """``(k, max_len)`` long tensor of each fold's rows, padded with its own first rows, and the lengths."""
    lengths = [len(r) for r in rows_per_fold]
    width = max(lengths)
    table = np.stack([np.resize(np.asarray(r), width) for r in rows_per_fold])
    return (torch.as_tensor(table, dtype=torch.long, device=device),
            torch.as_tensor(lengths, dtype=torch.long, device=device))


class FoldBatches:
    """Mini-batches for k fold networks: batch ``j`` comes from fold ``j``'s training rows only.

    Each epoch every fold draws a permutation of its own training rows;
    folds shorter than the longest are topped up with further rows of their
    own (a second permutation), so that all k batches have the same size and
    every fold sees each of its rows at least once an epoch.

    Parameters
    ----------
    X : dict of str to torch.Tensor
        The whole data set (``"X"`` and optional ``"groups"``, ``"sample_weight"``).
    y : torch.Tensor
    train_rows : list of ndarray
        Training rows of each fold network.
    batch_size : int
    generator : torch.Generator or None
    """

    def __init__(self, X, y, train_rows, batch_size, generator=None):
        self.X, self.y, self.generator = X, y, generator
        self.train_rows = [torch.as_tensor(r, dtype=torch.long) for r in train_rows]
        self.length = max(len(r) for r in train_rows)
        self.batch_size = min(batch_size, self.length)

    def __len__(self):
        return -(-self.length // self.batch_size)

    def _epoch_order(self):
        orders = []
        for rows in self.train_rows:
            order = rows[torch.randperm(len(rows), generator=self.generator)]
            while len(order) < self.length:
                extra = rows[torch.randperm(len(rows), generator=self.generator)]
                order = torch.cat([order, extra])
            orders.append(order[:self.length])
        return torch.stack(orders).to(self.y.device)

    def __iter__(self):
        order = self._epoch_order()
        for start in range(0, self.length, self.batch_size):
            idx = order[:, start:start + self.batch_size]
            yield {k: dense(v[idx]) for k, v in self.X.items()}, self.y[idx]


def fold_mean_loss(per_sample, weight):
    """Sum over folds of each fold's (weighted) mean loss; ``per_sample`` is ``(k, batch)``."""
    if weight is not None:
        per_sample = per_sample * weight
    return per_sample.mean(dim=1).sum()


class FoldNet(TabularNet):
    """:class:`TabularNet` training a :class:`FoldEnsemble`: fold-wise batches and losses.

    ``fold_setup`` (set before ``fit``, a dict) holds ``"rows"``, each searched
    network's training rows, and ``"control"``, None or a loss: then the
    ensemble holds twice as many copies, and copy ``k + j`` (a control
    network) trains on exactly the batches of copy ``j`` with that loss (the
    initial loss, never searched) instead of the net's criterion. The training loss is the sum
    over copies of each copy's mean loss, so every copy's gradient is its own;
    the recorded ``train_loss`` is the searched copies' mean loss.
    """

    fold_setup = None

    @staticmethod
    def batch_rows(batch):
        return batch[0]["X"].shape[1]  # the leading axis is the fold network

    def get_iterator(self, dataset, training=False):
        if not training:
            return super().get_iterator(dataset, training=training)
        return self.augmented(
            FoldBatches(dataset.X, dataset.y, self.fold_setup["rows"], self.batch_size,
                        generator=self.generator), training)

    def infer(self, x, **fit_params):
        X = x["X"]
        if self._controls_training():
            # Control copy k + j sees batch j (augmented with the same draw at
            # the initial strengths).
            X = torch.cat([X, x.get("X_control", X)])
        return self.module_(X)

    def _controls_training(self):
        setup = self.fold_setup
        return setup["control"] is not None and setup.get("controls_active", True)

    def activate_controls(self):
        """Start training the control copies, from the searched copies' current state.

        Until the search's first hyper-step the loss is the initial one, so a
        control copy would be identical to its searched twin: it is not trained
        through the warm-up but copied at its end (weights, buffers, optimiser
        state), which saves the controls' cost of the warm-up epochs.
        """
        k = len(self.fold_setup["rows"])
        self.module_.copy_blocks(slice(0, k), slice(k, 2 * k), self.optimizer_)
        self.fold_setup["controls_active"] = True

    def get_loss(self, y_pred, y_true, X=None, training=False):
        k = y_true.shape[0]
        loss = self.loss_with(self.criterion_, y_pred[:k], y_true, X)
        self.searched_loss_ = loss.detach() / k
        if self._controls_training():
            loss = loss + self.loss_with(self.fold_setup["control"], y_pred[k:], y_true, X)
        return loss

    def loss_with(self, criterion, y_pred, y_true, X=None):
        k, batch, n_classes = y_pred.shape
        groups = X.get("groups")
        reduction = criterion.reduction
        criterion.reduction = "none"
        try:
            per_sample = criterion(
                y_pred.reshape(k * batch, n_classes), y_true.reshape(-1),
                None if groups is None else groups.reshape(-1))
        finally:
            criterion.reduction = reduction
        return fold_mean_loss(per_sample.view(k, batch), X.get("sample_weight"))

    def train_step(self, batch, **fit_params):
        step = super().train_step(batch, **fit_params)
        return {**step, "loss": self.searched_loss_}


def implicit_parameter_names(module, scope):
    """Names of the parameters the implicit function is taken over.

    ``"last"``: the parameters of the last registered sub-module that owns
    parameters (the output layer of a feed-forward net); ``"all"``: every one.
    """
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if scope == "all":
        return [n for n, _ in named]
    owners = [name for name, m in module.named_modules()
              if any(True for _ in m.parameters(recurse=False))]
    return [n for n, _ in named if n.rpartition(".")[0] == owners[-1]]


def implicit_parameters(module, scope):
    """The parameters named by :func:`implicit_parameter_names`."""
    params = dict(module.named_parameters())
    return [params[n] for n in implicit_parameter_names(module, scope)]


def _sample_rows(table, lengths, size, generator):
    """``size`` rows drawn with replacement from each fold's padded row table: ``(k, size)``."""
    u = torch.rand(table.shape[0], size, generator=generator, device=table.device)
    pos = (u * lengths[:, None]).long().clamp_max(table.shape[1] - 1)
    return table.gather(1, pos)


class CrossFit:
    """Validation design with fold networks: network ``j`` is validated on fold ``j`` only.

    ``cv=k`` gives k folds whose validation rows partition the data. With ``control`` every
    searched network has a control twin trained on the same batches with the
    initial loss (:class:`FoldNet`), scored on the same validation rows.

    Parameters
    ----------
    data : tuple (X dict of tensors, y tensor)
        The whole data set.
    folds : list of (train_rows, valid_rows)
        One pair per searched network.
    param_scope : {"last", "all"}
    parameter_names : list of str
        Names of the wrapped module's parameters (see ``implicit_parameter_names``).
    control : bool, default=False
    """

    def __init__(self, data, folds, param_scope, parameter_names, control=False):
        self.data, self.folds, self.control = data, folds, control
        self.n_searched = len(folds)
        self.n_blocks = self.n_searched * (2 if control else 1)
        self.param_scope, self.parameter_names = param_scope, parameter_names
        device = data[1].device
        self.device = device
        self.train_table, self.train_lengths = padded_index([f[0] for f in folds], device)
        self.valid_table, self.valid_lengths = padded_index([f[1] for f in folds], device)
        # Which padded validation slots are real rows (padding repeats a row of
        # the same fold), and where they come from in the data.
        self.valid_mask = (torch.arange(self.valid_table.shape[1], device=device)[None, :]
                           < self.valid_lengths[:, None])
        self.pooled_rows = self.valid_table[self.valid_mask]

    def make_module(self, module):
        return FoldEnsemble(module, self.n_blocks)

    def _gather(self, rows):
        X, y = self.data
        return {k: dense(v[rows]) for k, v in X.items()}, y[rows]

    def hyper_losses(self, module, space, objective, train_size, valid_size, generator):
        """Sums over searched networks: training loss and validation loss on its own fold."""
        Xv, yv = self._gather(_sample_rows(self.valid_table, self.valid_lengths,
                                           valid_size, generator))
        Xt, yt = self._gather(_sample_rows(self.train_table, self.train_lengths,
                                           train_size, generator))
        # A fold axis of k runs the k searched copies only (not the controls).
        logits_v = module(Xv["X"])
        gv = Xv.get("groups")
        val_loss = sum(objective(logits_v[j], yv[j], None if gv is None else gv[j])
                       for j in range(self.n_searched))
        w, l, delta = space.tensors()
        gt = Xt.get("groups")
        logits_t = module(space.augment(Xt["X"], yt, gt, generator))
        k, batch, n_classes = logits_t.shape
        per_sample = parametric_cross_entropy(
            logits_t.reshape(k * batch, n_classes), yt.reshape(-1), w, l, delta,
            None if gt is None else gt.reshape(-1),
            delta_scale=space.delta_scale, reduction="none").view(k, batch)
        train_loss = fold_mean_loss(per_sample, Xt.get("sample_weight"))
        params = module.stacked_parameters(
            implicit_parameter_names(module._template, self.param_scope))
        return train_loss, val_loss, params

    @torch.no_grad()
    def validation_logits(self, module, chunk=4096):
        """Pooled out-of-fold logits of the searched networks (each sample scored by the
        network that never trained on it), labels, groups, and the control networks' logits
        (None without control)."""
        data_X = self.data[0]["X"]
        k = self.valid_table.shape[0]  # each block holds k * chunk rows
        chunk = max(1, chunk_rows(data_X, k * chunk) // k)
        was_training = module.training
        module.eval()
        try:
            parts = []
            for start in range(0, self.valid_table.shape[1], chunk):
                X = dense(data_X[self.valid_table[:, start:start + chunk]])
                parts.append(module(torch.cat([X, X]) if self.control else X))
            logits = torch.cat(parts, dim=1)
        finally:
            module.train(was_training)
        k = self.n_searched
        searched = logits[:k][self.valid_mask]
        control = logits[k:][self.valid_mask] if self.control else None
        X, y = self.data
        groups = X.get("groups")
        return (searched, y[self.pooled_rows],
                None if groups is None else groups[self.pooled_rows], control)

    def start_controls(self, net):
        """The warm-up's end: the control copies start from the searched ones."""
        if self.control:
            net.activate_controls()

    def fit_net(self, net, control_loss=None):
        """Train ``net`` (a :class:`FoldNet`); ``control_loss`` trains the control copies."""
        if self.control and control_loss is None:
            raise ValueError("a design with control networks needs their loss")
        net.fold_setup = {"rows": [f[0] for f in self.folds],
                          "control": control_loss.to(self.device) if self.control else None,
                          "controls_active": False}
        net.fit(*self.data)
