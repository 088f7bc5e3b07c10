"""Does a refactor move the group rows? Hash the cross-fitted output layer's predictions.

Run it once with the old code and once with the new one on the import path, and
compare the printed hashes; equal hashes mean bit-identical ``predict_proba``
(CPU, same seed), so every figure of ``docs/benchmarks.md`` "Groups" made by the
cross-fitted output layer stands without a re-run::

    git worktree add /tmp/old <old commit>
    PYTHONPATH=/tmp/old python benchmarks/check_group_path_unchanged.py > old.txt
    PYTHONPATH=. python benchmarks/check_group_path_unchanged.py > new.txt
    diff old.txt new.txt   # only the first line (the package path) differs

Data: ``make_waterbirds_like(n_samples=1500, n_features=64)``, seeds 0 and 1;
the default MLP, 6 epochs, ``objective`` "deo" and "group_balanced" (both take
the cross-fitted output layer). About two minutes on 2 CPU cores.
"""

import hashlib
import warnings

import sklearn_autobalance
from sklearn_autobalance import AutoBalanceClassifier
from sklearn_autobalance.datasets import make_waterbirds_like

warnings.simplefilter("ignore")  # a NoGainWarning on these small fits is not the point
print(sklearn_autobalance.__file__)
for seed in (0, 1):
    d = make_waterbirds_like(n_samples=1500, n_features=64, random_state=seed)
    X, y, g = d["X"], d["y"], d["sensitive_features"]
    for objective in ("deo", "group_balanced"):
        clf = AutoBalanceClassifier(objective=objective, max_epochs=6, random_state=seed)
        clf.fit(X, y, sensitive_features=g)
        digest = hashlib.md5(clf.predict_proba(X).tobytes()).hexdigest()
        print(seed, objective, digest, clf.best_step_, clf.head_l2_)
