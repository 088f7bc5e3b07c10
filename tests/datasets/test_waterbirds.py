import os
from fractions import Fraction

import numpy as np
import pytest

from sklearn_autobalance.datasets import load_waterbirds_features

HEADER = "img_id,img_filename,y,split,place,place_filename\n"
ROWS = [
    # img_id, filename, y, split, place
    (1, "001.Black_footed_Albatross/a.jpg", 1, 0, 1),
    (2, "001.Black_footed_Albatross/b.jpg", 1, 1, 0),
    (3, "002.Laysan_Albatross/c.jpg", 0, 2, 1),
    (4, "003.Sooty_Albatross/d.jpg", 0, 0, 0),
    (5, "004.Groove_billed_Ani/e.jpg", 0, 2, 0),
]
N, D = len(ROWS), 3


def _write_metadata(path, rows=ROWS, header=HEADER):
    with open(path, "w") as f:
        f.write(header)
        for r in rows:
            f.write(f"{r[0]},{r[1]},{r[2]},{r[3]},{r[4]},/places/x.jpg\n")


def _features(n=N, d=D):
    return np.arange(n * d, dtype=np.float32).reshape(n, d) / 10


@pytest.fixture
def root(tmp_path):
    _write_metadata(tmp_path / "metadata.csv")
    return tmp_path


def _check(data, X):
    np.testing.assert_array_equal(data.X, X)
    assert data.X.shape == (N, D)
    np.testing.assert_array_equal(data.y, [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(data.sensitive_features, [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(data.split, ["train", "val", "test", "train", "test"])
    assert data.y.dtype == np.int64 and data.sensitive_features.dtype == np.int64
    assert data.img_filename[0] == "001.Black_footed_Albatross/a.jpg"
    assert data.target_names == ["landbird", "waterbird"]
    assert data.group_names == ["land", "water"]
    assert "Waterbirds" in data.DESCR


def test_npy_default_name(root):
    X = _features()
    np.save(root / "features.npy", X)
    data = load_waterbirds_features(root)
    _check(data, X)
    assert data.X.dtype == np.float32
    # str root works too, and the split mask selects rows
    data = load_waterbirds_features(str(root))
    np.testing.assert_array_equal(data.X[data.split == "train"], X[[0, 3]])


def test_absolute_paths(root, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere")
    X = _features()
    np.save(other / "feat.npy", X)
    os.rename(root / "metadata.csv", other / "meta.csv")
    data = load_waterbirds_features(
        root, str(other / "feat.npy"), metadata=other / "meta.csv"
    )
    _check(data, X)


def test_integer_features_become_float(root):
    np.save(root / "features.npy", np.arange(N * D).reshape(N, D))
    data = load_waterbirds_features(root)
    assert data.X.dtype == np.float64


@pytest.mark.parametrize("key", [None, "features", "X"])
def test_npz(root, key):
    X = _features()
    if key is None:
        np.savez(root / "f.npz", X)
    else:
        np.savez(root / "f.npz", **{key: X, "labels": np.zeros(N)})
    _check(load_waterbirds_features(root, "f.npz"), X)


def test_npz_ambiguous(root):
    np.savez(root / "f.npz", a=_features(), b=_features())
    with pytest.raises(ValueError, match="several arrays"):
        load_waterbirds_features(root, "f.npz")


def test_pt_tensor_and_dict(root):
    torch = pytest.importorskip("torch")
    X = _features()
    torch.save(torch.from_numpy(X), root / "f.pt")
    _check(load_waterbirds_features(root, "f.pt"), X)
    torch.save({"features": torch.from_numpy(X), "y": torch.zeros(N)}, root / "g.pt")
    _check(load_waterbirds_features(root, "g.pt"), X)
    torch.save(torch.from_numpy(X).to(torch.bfloat16), root / "h.pt")
    assert load_waterbirds_features(root, "h.pt").X.dtype == np.float32


def test_pt_refuses_pickled_objects(root):
    torch = pytest.importorskip("torch")
    # arbitrary classes are refused by torch.load(weights_only=True)
    torch.save({"features": Fraction(1, 2)}, root / "evil.pt")
    with pytest.raises(ValueError, match="weights_only=True"):
        load_waterbirds_features(root, "evil.pt")


def test_metadata_with_bom_extra_columns_and_blank_lines(tmp_path):
    with open(tmp_path / "metadata.csv", "w", encoding="utf-8-sig") as f:
        f.write(",place, y ,img_filename,split\n")  # pandas index column, spaces
        for i, r in enumerate(ROWS):
            f.write(f"{i},{r[4]},{r[2]}.0,{r[1]},{r[3]}\n")
        f.write("\n")
    X = _features()
    np.save(tmp_path / "features.npy", X)
    _check(load_waterbirds_features(tmp_path), X)


# ------------------------------------------------------------------ errors


def test_missing_metadata(tmp_path):
    np.save(tmp_path / "features.npy", _features())
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        load_waterbirds_features(tmp_path)


def test_missing_features(root):
    with pytest.raises(FileNotFoundError, match="nothere.npy"):
        load_waterbirds_features(root, "nothere.npy")


def test_missing_columns(tmp_path):
    with open(tmp_path / "metadata.csv", "w") as f:
        f.write("img_id,img_filename,y\n1,a.jpg,0\n")
    np.save(tmp_path / "features.npy", _features(1))
    with pytest.raises(ValueError, match=r"\['split', 'place'\]"):
        load_waterbirds_features(tmp_path)


def test_empty_metadata(tmp_path):
    (tmp_path / "metadata.csv").write_text("")
    np.save(tmp_path / "features.npy", _features())
    with pytest.raises(ValueError, match="empty"):
        load_waterbirds_features(tmp_path)


@pytest.mark.parametrize("bad", ["waterbird", "0.5", "", "nan"])
def test_non_integer_column(tmp_path, bad):
    rows = [ROWS[0], (2, "b.jpg", bad, 0, 1)]
    _write_metadata(tmp_path / "metadata.csv", rows)
    np.save(tmp_path / "features.npy", _features(2))
    with pytest.raises(ValueError, match="column 'y' must hold integers"):
        load_waterbirds_features(tmp_path)


def test_ragged_row(tmp_path):
    with open(tmp_path / "metadata.csv", "w") as f:
        f.write("img_filename,y,split,place\na.jpg,0,0\n")
    np.save(tmp_path / "features.npy", _features(1))
    with pytest.raises(ValueError, match="expected 4 fields, got 3"):
        load_waterbirds_features(tmp_path)


def test_unknown_split_code(tmp_path):
    _write_metadata(tmp_path / "metadata.csv", [ROWS[0], (2, "b.jpg", 0, 3, 0)])
    np.save(tmp_path / "features.npy", _features(2))
    with pytest.raises(ValueError, match=r"unknown split code\(s\) \[3\]"):
        load_waterbirds_features(tmp_path)


def test_misaligned_rows(root):
    np.save(root / "features.npy", _features(N + 2))
    with pytest.raises(ValueError, match=f"{N + 2} rows but the metadata has {N}"):
        load_waterbirds_features(root)


@pytest.mark.parametrize("shape", [(N,), (N, D, 2)])
def test_features_not_2d(root, shape):
    np.save(root / "features.npy", np.zeros(shape))
    with pytest.raises(ValueError, match="2-D"):
        load_waterbirds_features(root)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_features(root, value):
    X = _features()
    X[3, 1] = value
    np.save(root / "features.npy", X)
    with pytest.raises(ValueError, match="NaN or infinite.*first at row 3"):
        load_waterbirds_features(root)


def test_non_real_features(root):
    np.save(root / "features.npy", np.full((N, D), "a"))
    with pytest.raises(ValueError, match="real numbers"):
        load_waterbirds_features(root)


def test_unsupported_extension(root):
    (root / "features.csv").write_text("1,2,3\n")
    with pytest.raises(ValueError, match="Unsupported features file extension '.csv'"):
        load_waterbirds_features(root, "features.csv")
