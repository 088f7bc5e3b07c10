"""What both estimators share (``_base.py``): refusals of bad input with clear messages."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from sklearn_autobalance import AnyLossClassifier, AutoBalanceClassifier

ESTIMATORS = (AutoBalanceClassifier, AnyLossClassifier)


@pytest.fixture
def data():
    return make_classification(n_samples=200, n_features=5, weights=[0.7, 0.3], random_state=0)


def _fast(cls, **kw):
    params = dict(hidden_layer_sizes=(8,), max_epochs=2, batch_size=64, random_state=0)
    return cls(**{**params, **kw})


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_negative_sample_weight_refused(cls, data):
    X, y = data
    w = np.ones(len(y))
    w[7] = -0.5
    with pytest.raises(ValueError, match=r"sample_weight must be non-negative; got 1 negative "
                       r"value\(s\) \(the smallest is -0.5, at row 7\)"):
        _fast(cls).fit(X, y, sample_weight=w)
    assert w[7] == -0.5  # input untouched


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_all_negative_weights_say_negative(cls, data):
    X, y = data
    with pytest.raises(ValueError, match="non-negative; got 200 negative"):
        _fast(cls).fit(X, y, sample_weight=-np.ones(len(y)))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_all_zero_weights_refused(cls, data):
    X, y = data
    # scikit-learn's own check words it (>= 1.6), ours for older versions.
    with pytest.raises(ValueError, match="at least one non-zero|positive sum"):
        _fast(cls).fit(X, y, sample_weight=np.zeros(len(y)))


class ThreeOutputs(torch.nn.Module):
    def __init__(self, n_features, n_classes):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, 3)

    def forward(self, X):
        return self.linear(X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_module_with_wrong_output_width(cls, data):
    X, y = data
    with pytest.raises(ValueError, match=r"module returns 3 outputs \(shape \(1, 3\)\) for one "
                       r"input row, but y has 2 classes"):
        _fast(cls, module=ThreeOutputs).fit(X, y)
    with pytest.raises(ValueError, match="module returns 1 outputs"):
        _fast(cls, module=torch.nn.Linear(5, 1)).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_module_with_wrong_input_width(cls, data):
    X, y = data
    with pytest.raises(ValueError, match=r"module failed on a one-row input of 5 features "
                       r"\(RuntimeError: .*\); it must map"):
        _fast(cls, module=torch.nn.Linear(7, 2)).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_module_returning_a_tuple(cls, data):
    class Pair(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(5, 2)

        def forward(self, X):
            return self.linear(X), X

    with pytest.raises(ValueError, match="module returns a tuple"):
        _fast(cls, module=Pair()).fit(*data)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_output_check_keeps_training_mode_and_model(cls, data):
    # The one-row forward runs in eval mode and leaves the module as it was:
    # same model as without the check (dropout draws nothing in eval mode).
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Dropout(0.5),
                              torch.nn.Linear(8, 2))
    a = _fast(cls, module=net).fit(*data)
    b = _fast(cls, module=net).fit(*data)
    np.testing.assert_array_equal(a.predict_proba(data[0]), b.predict_proba(data[0]))
    assert net.training  # the user's module is not touched


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function"])
def test_prediction_refuses_sensitive_features_clearly(cls, method, data):
    X, y = data
    clf = _fast(cls).fit(X, y)
    with pytest.raises(TypeError, match=rf"^{cls.__name__}\.{method}\(\) got unexpected "
                       r"keyword argument\(s\): sensitive_features\. Prediction never takes "
                       r"the sensitive attribute"):
        getattr(clf, method)(X, sensitive_features=np.zeros(len(y)))


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("bad", [-1, 1.5, "loud"])
def test_bad_verbose(cls, bad, data):
    with pytest.raises(ValueError, match="verbose must be an int >= 0"):
        _fast(cls, verbose=bad).fit(*data)
