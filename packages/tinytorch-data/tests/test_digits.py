from importlib import resources

import numpy as np
import pytest

from tinytorch.data import DataLoader, DigitsDataset, digits_split, load_digits
from tinytorch.data.datasets import stratified_split_indices
from tinytorch.tensor import Generator, Tensor

CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_load_digits_arrays():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 16.0
    assert np.all(X == np.round(X))  # pixel counts are integers
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == 1797
    assert counts.tolist() == CLASS_COUNTS


def test_load_digits_first_row_matches_the_csv():
    X, y = load_digits()
    # first row of digits.csv.gz (a zero)
    assert X[0, :8].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert y[0] == 0


def test_load_digits_images_and_tensors():
    X, _ = load_digits()
    Xi, yi = load_digits(images=True)
    assert Xi.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(Xi.reshape(1797, 64), X)
    Xt, yt = load_digits(as_tensor=True)
    assert isinstance(Xt, Tensor) and isinstance(yt, Tensor)
    assert Xt.dtype == np.float32 and yt.dtype == np.int64


def test_load_digits_returns_independent_copies():
    X, y = load_digits()
    X[:] = -1
    y[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0.0 and y2.min() == 0


def test_package_data_ships_with_attribution():
    folder = resources.files("tinytorch.data.datasets")
    assert folder.joinpath("digits.csv.gz").is_file()
    text = folder.joinpath("DATA_LICENSE.md").read_text()
    for fragment in (
        "CC BY 4.0",
        "Alpaydin",
        "Kaynak",
        "1998",
        "UCI Machine Learning Repository",
        "scikit-learn",
    ):
        assert fragment in text


def test_digits_split_is_stratified_disjoint_and_seeded():
    train, test = digits_split(test_fraction=0.2, seed=0)
    assert (len(train), len(test)) == (1438, 359)
    expected_test = np.rint(np.array(CLASS_COUNTS) * 0.2).astype(int)
    np.testing.assert_array_equal(np.bincount(test.targets, minlength=10), expected_test)
    np.testing.assert_array_equal(
        np.bincount(train.targets, minlength=10), np.array(CLASS_COUNTS) - expected_test
    )
    # disjoint and complete: rows of train + test are the whole data set
    X, _ = load_digits()
    tr_idx, te_idx = stratified_split_indices(load_digits()[1], 0.2, seed=0)
    assert np.intersect1d(tr_idx, te_idx).size == 0
    np.testing.assert_array_equal(np.union1d(tr_idx, te_idx), np.arange(1797))
    np.testing.assert_array_equal(train.data, X[tr_idx])
    # reproducible, and the seed matters
    train2, _ = digits_split(test_fraction=0.2, seed=0)
    np.testing.assert_array_equal(train.data, train2.data)
    train3, _ = digits_split(test_fraction=0.2, seed=1)
    assert not np.array_equal(train.data, train3.data)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 2])
def test_split_fraction_errors(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        digits_split(test_fraction=fraction)


def test_digits_dataset_samples_and_loader():
    ds = DigitsDataset(images=True)
    x, label = ds[5]
    assert x.shape == (1, 8, 8) and x.dtype == np.float32 and isinstance(label, int)
    assert ds.label_counts().tolist() == CLASS_COUNTS
    xb, yb = next(iter(DataLoader(ds, batch_size=32, shuffle=True, generator=Generator(0))))
    assert xb.shape == (32, 1, 8, 8) and xb.dtype == np.float32 and yb.dtype == np.int64


def test_digits_transform_goes_through_generic_path():
    ds = DigitsDataset(split="test", transform=lambda x: x / 16.0)
    assert ds.get_batch(np.arange(2)) is None
    xb, _ = next(iter(DataLoader(ds, batch_size=8)))
    assert float(xb.data.max()) <= 1.0
    np.testing.assert_allclose(xb.data, ds.data[:8] / 16.0)


def test_digits_bad_split():
    with pytest.raises(ValueError, match="split"):
        DigitsDataset(split="validation")
