"""Loader for user-supplied Waterbirds features.

Nothing is downloaded: the user provides the official Waterbirds
``metadata.csv`` (Sagawa et al. 2020) and a row-aligned array of features
(e.g. the 512-d penultimate layer of a ResNet-18, as in the AutoBalance
paper, Section 4.2).
"""

# This module imports only numpy and scikit-learn at import time; torch is
# imported lazily to read ``.pt`` files.

import csv
import os
import pickle

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_waterbirds_features"]

#: Split codes of the official Waterbirds ``metadata.csv``.
SPLIT_CODES = {0: "train", 1: "val", 2: "test"}

_REQUIRED_COLUMNS = ("img_filename", "y", "split", "place")
_ARRAY_KEYS = ("features", "X")
_SUPPORTED = (".npy", ".npz", ".pt", ".pth")

_DESCR = """\
Waterbirds features
-------------------

Features of the Waterbirds benchmark (Sagawa et al. 2020), read from
user-supplied files: the dataset's metadata.csv and a row-aligned features
array. Row i of X describes image img_filename[i].

Target y: 0 = landbird, 1 = waterbird.
Sensitive feature (background, "place"): 0 = land, 1 = water.
Split: metadata codes 0, 1, 2 mapped to "train", "val", "test".

Official split sizes: train 4795 (landbird/land 3498, landbird/water 184,
waterbird/land 56, waterbird/water 1057), val 1199, test 5794.

Metadata: {metadata}
Features: {features}
"""


def _resolve(root, path):
    # os.path.join drops ``root`` when ``path`` is absolute.
    return os.path.join(os.fspath(root), os.fspath(path))


def _read_metadata(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Waterbirds metadata file not found: {path!r}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"Metadata file {path!r} is empty.") from None
        header = [h.strip() for h in header]
        missing = [c for c in _REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"Metadata file {path!r} lacks the required column(s) "
                f"{missing}; it has {header}. Required: {list(_REQUIRED_COLUMNS)}."
            )
        pos = {c: header.index(c) for c in _REQUIRED_COLUMNS}
        rows = [row for row in reader if any(cell.strip() for cell in row)]

    columns = {c: [] for c in _REQUIRED_COLUMNS}
    for lineno, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"Metadata file {path!r}, data row {lineno - 1}: expected "
                f"{len(header)} fields, got {len(row)}."
            )
        for c in _REQUIRED_COLUMNS:
            columns[c].append(row[pos[c]].strip())

    out = {"img_filename": np.array(columns["img_filename"], dtype=object)}
    for c in ("y", "split", "place"):
        values = np.empty(len(rows), dtype=np.int64)
        for i, text in enumerate(columns[c]):
            try:
                number = float(text)
            except ValueError:
                number = np.nan
            if not np.isfinite(number) or number != int(number):
                raise ValueError(
                    f"Metadata file {path!r}: column {c!r} must hold integers; "
                    f"data row {i + 1} has {text!r}."
                )
            values[i] = int(number)
        out[c] = values

    unknown = sorted(set(np.unique(out["split"]).tolist()) - set(SPLIT_CODES))
    if unknown:
        raise ValueError(
            f"Metadata file {path!r}: unknown split code(s) {unknown}; "
            f"expected 0 (train), 1 (val) or 2 (test)."
        )
    return out


def _pick_array(container, path):
    """Choose the features array in an npz archive / a saved dict."""
    keys = list(container.keys())
    if len(keys) == 1:
        return container[keys[0]]
    for key in _ARRAY_KEYS:
        if key in keys:
            return container[key]
    raise ValueError(
        f"Features file {path!r} holds several arrays {sorted(map(str, keys))}; "
        f"expected a single array or one named {' or '.join(map(repr, _ARRAY_KEYS))}."
    )


def _read_features(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Waterbirds features file not found: {path!r}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        X = np.load(path, allow_pickle=False)
    elif ext == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            X = _pick_array(archive, path)
    elif ext in (".pt", ".pth"):
        try:
            import torch
        except ImportError as exc:  # pragma: no cover - torch is a dependency
            raise ImportError(
                f"Reading {path!r} needs PyTorch; install torch or save the "
                "features with numpy.save."
            ) from exc
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise ValueError(
                f"Features file {path!r} could not be read with "
                "torch.load(weights_only=True), which only accepts tensors and "
                "plain containers; save a tensor, e.g. torch.save(features, path)."
            ) from exc
        if isinstance(obj, dict):
            obj = _pick_array(obj, path)
        if isinstance(obj, torch.Tensor):
            obj = obj.detach().cpu()
            if obj.dtype == torch.bfloat16:
                obj = obj.float()
            X = obj.numpy()
        else:
            X = np.asarray(obj)
    else:
        raise ValueError(
            f"Unsupported features file extension {ext!r} for {path!r}; "
            f"use one of {list(_SUPPORTED)}."
        )

    X = np.asarray(X)
    if X.dtype.kind in "biu":
        X = X.astype(np.float64)
    elif X.dtype.kind != "f":
        raise ValueError(
            f"Features in {path!r} must be real numbers, got dtype {X.dtype}."
        )
    if X.ndim != 2:
        raise ValueError(
            f"Features in {path!r} must be a 2-D array (n_samples, n_features), "
            f"got shape {X.shape}."
        )
    if not np.all(np.isfinite(X)):
        bad = np.flatnonzero(~np.all(np.isfinite(X), axis=1))
        raise ValueError(
            f"Features in {path!r} contain NaN or infinite values "
            f"(in {bad.size} row(s), first at row {bad[0]})."
        )
    return X


def load_waterbirds_features(root, features="features.npy", *, metadata="metadata.csv"):
    """Load Waterbirds features with their labels, backgrounds and splits.

    Reads the official Waterbirds ``metadata.csv`` (Sagawa et al. 2020) and
    a features array whose row ``i`` belongs to the ``i``-th data row of the
    metadata (e.g. ResNet features computed in metadata order). Nothing is
    downloaded.

    Parameters
    ----------
    root : str or path-like
        Directory holding the files. Relative ``features`` and ``metadata``
        paths are resolved against it.
    features : str or path-like, default="features.npy"
        Features file, relative to ``root`` or absolute. Supported formats:

        - ``.npy``: a single 2-D array;
        - ``.npz``: a single array, or several with one named ``"features"``
          or ``"X"``;
        - ``.pt`` / ``.pth``: a torch tensor (or a dict holding one under a
          single key, ``"features"`` or ``"X"``), read with
          ``torch.load(..., weights_only=True)``; needs PyTorch.

        Integer arrays are converted to float64; float arrays keep their
        dtype.
    metadata : str or path-like, default="metadata.csv"
        Metadata CSV, relative to ``root`` or absolute. It needs the columns
        ``img_filename``, ``y`` (0 = landbird, 1 = waterbird), ``split``
        (0 = train, 1 = val, 2 = test) and ``place`` (0 = land, 1 = water);
        others (``img_id``, ``place_filename``, ...) are ignored.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With fields

        X : ndarray of shape (n_samples, n_features)
            The features.
        y : ndarray of shape (n_samples,), dtype int64
            Bird type (metadata column ``y``).
        sensitive_features : ndarray of shape (n_samples,), dtype int64
            Background (metadata column ``place``).
        split : ndarray of shape (n_samples,), dtype str
            ``"train"``, ``"val"`` or ``"test"``. Select a split with a
            boolean mask, e.g. ``X[split == "train"]``.
        img_filename : ndarray of shape (n_samples,), dtype object
            Image file names, for checking the row alignment.
        target_names : list of str
            ``["landbird", "waterbird"]``.
        group_names : list of str
            ``["land", "water"]``.
        DESCR : str
            Description of the data and of the files read.

    Raises
    ------
    FileNotFoundError
        If the metadata or the features file does not exist.
    ValueError
        If a required metadata column is missing or holds non-integers, a
        split code is not 0, 1 or 2, the features are not a finite 2-D
        real array, the number of feature rows differs from the number of
        metadata rows, or the file extension is not supported.

    See Also
    --------
    make_waterbirds_like : Synthetic stand-in with the same layout.

    Examples
    --------
    >>> from sklearn_autobalance.datasets import load_waterbirds_features
    >>> data = load_waterbirds_features("waterbird_complete95_forest2water2",
    ...                                 "resnet18_features.npy")  # doctest: +SKIP
    >>> train = data.split == "train"                             # doctest: +SKIP
    >>> X_train, y_train = data.X[train], data.y[train]           # doctest: +SKIP
    >>> groups_train = data.sensitive_features[train]             # doctest: +SKIP
    """
    metadata_path = _resolve(root, metadata)
    features_path = _resolve(root, features)
    meta = _read_metadata(metadata_path)
    X = _read_features(features_path)

    n_meta = meta["y"].shape[0]
    if X.shape[0] != n_meta:
        raise ValueError(
            f"The features have {X.shape[0]} rows but the metadata has {n_meta} "
            f"data rows; they must be row-aligned ({features_path!r} vs "
            f"{metadata_path!r})."
        )

    split = np.array([SPLIT_CODES[int(s)] for s in meta["split"]], dtype="<U5")
    return Bunch(
        X=X,
        y=meta["y"],
        sensitive_features=meta["place"],
        split=split,
        img_filename=meta["img_filename"],
        target_names=["landbird", "waterbird"],
        group_names=["land", "water"],
        DESCR=_DESCR.format(metadata=metadata_path, features=features_path),
    )
