import numpy as np
import pytest

from tinytorch.data import Dataset, Subset, TensorDataset, random_split
from tinytorch.tensor import Generator, Tensor


def test_tensor_dataset_rows_and_len():
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.array([3, 1, 4, 1])
    ds = TensorDataset(X, y)
    assert len(ds) == 4
    x2, y2 = ds[2]
    np.testing.assert_array_equal(x2, X[2])
    assert y2 == 4
    x_last, _ = ds[-1]
    np.testing.assert_array_equal(x_last, X[3])


def test_tensor_dataset_accepts_tensors_and_lists():
    t = Tensor(np.ones((3, 2), dtype=np.float32))
    ds = TensorDataset(t, [0, 1, 2])
    assert ds.arrays[0] is t.data  # shared, not copied
    assert ds.arrays[1].dtype.kind == "i"
    assert len(ds) == 3


@pytest.mark.parametrize(
    "arrays, fragment",
    [
        ((np.zeros((4, 2)), np.zeros(3)), "(4, 2), (3,)"),
        ((np.zeros((5,)), np.zeros((5, 1)), np.zeros((6, 2))), "(5,), (5, 1), (6, 2)"),
    ],
)
def test_tensor_dataset_mismatched_first_dims_names_shapes(arrays, fragment):
    with pytest.raises(ValueError, match="same first dimension") as info:
        TensorDataset(*arrays)
    assert fragment in str(info.value)


@pytest.mark.parametrize("arrays, match", [((), "at least one"), ((np.float32(1.0),), "0-d")])
def test_tensor_dataset_bad_inputs(arrays, match):
    with pytest.raises(ValueError, match=match):
        TensorDataset(*arrays)


@pytest.mark.parametrize(
    "index, exc", [(5, IndexError), (-6, IndexError), (1.0, TypeError), ("0", TypeError)]
)
def test_tensor_dataset_bad_index(index, exc):
    ds = TensorDataset(np.zeros((5, 2)))
    with pytest.raises(exc):
        ds[index]


def test_tensor_dataset_get_batch_is_fancy_index():
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10) * 10
    idx = np.array([7, 0, 3])
    xb, yb = TensorDataset(X, y).get_batch(idx)
    np.testing.assert_array_equal(xb, X[idx])
    np.testing.assert_array_equal(yb, [70, 0, 30])


def test_base_dataset_has_no_batch_path():
    assert Dataset().get_batch(np.arange(2)) is None


def test_subset_maps_indices_and_forwards_batches():
    ds = TensorDataset(np.arange(10) * 2)
    sub = Subset(ds, [9, 4, -1])
    assert len(sub) == 3
    assert [int(sub[i][0]) for i in range(3)] == [18, 8, 18]
    (batch,) = sub.get_batch(np.array([1, 0]))
    np.testing.assert_array_equal(batch, [8, 18])


def test_subset_of_plain_dataset_has_no_batch_path():
    class Plain:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i

    sub = Subset(Plain(), [2, 0])
    assert sub.get_batch(np.array([0])) is None
    assert sub[0] == 2


@pytest.mark.parametrize("indices, exc", [([0, 10], IndexError), ([0.5], TypeError)])
def test_subset_rejects_bad_indices(indices, exc):
    with pytest.raises(exc):
        Subset(TensorDataset(np.zeros(10)), indices)


@pytest.mark.parametrize(
    "n, lengths, expected",
    [
        (10, [7, 3], [7, 3]),
        (10, [0.5, 0.5], [5, 5]),
        (10, [0.33, 0.33, 0.34], [4, 3, 3]),  # floors 3+3+3, remainder to the first
        (7, [0.8, 0.2], [6, 1]),  # floors 5+1, remainder 1 to the first
        (5, [5, 0], [5, 0]),
    ],
)
def test_random_split_sizes_partition_and_seed(n, lengths, expected):
    ds = TensorDataset(np.arange(n))
    parts = random_split(ds, lengths, generator=Generator(3))
    assert [len(p) for p in parts] == expected
    all_idx = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(all_idx), np.arange(n))
    again = random_split(ds, lengths, generator=Generator(3))
    for a, b in zip(parts, again):
        np.testing.assert_array_equal(a.indices, b.indices)


def test_random_split_seeds_differ():
    ds = TensorDataset(np.arange(100))
    a, _ = random_split(ds, [50, 50], generator=Generator(0))
    b, _ = random_split(ds, [50, 50], generator=Generator(1))
    assert not np.array_equal(a.indices, b.indices)


@pytest.mark.parametrize(
    "lengths, exc, match",
    [
        ([6, 3], ValueError, "sum to 9"),
        ([0.5, 0.4], ValueError, "sum to 1"),
        ([-1, 11], ValueError, "non-negative"),
        ([1.5, -0.5], ValueError, "non-negative"),
        ("55", TypeError, "sequence"),
        ([], TypeError, "non-empty"),
        ([True, 9], TypeError, "ints or fractions"),
    ],
)
def test_random_split_errors(lengths, exc, match):
    with pytest.raises(exc, match=match):
        random_split(TensorDataset(np.arange(10)), lengths)
