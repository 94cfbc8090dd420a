import numpy as np
import pytest

from tinytorch.data import DataLoader, TensorDataset, default_collate
from tinytorch.tensor import Generator, Tensor


class PlainDataset:
    """No get_batch: the loader must take the generic per-item path."""

    def __init__(self, n, label=lambda i: i % 3):
        self.n = n
        self.label = label
        self.calls = 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls += 1
        return np.full((2, 3), i, dtype=np.float64), self.label(i)


class NoItemDataset(TensorDataset):
    """A TensorDataset that fails if the loader ever asks for one item."""

    def __getitem__(self, index):
        raise AssertionError("the fast path must not call __getitem__")


def _epoch_ids(loader):
    return np.concatenate([b[0].data.reshape(-1) for b in loader])


@pytest.mark.parametrize(
    "n, batch, drop_last, sizes",
    [
        (10, 3, False, [3, 3, 3, 1]),
        (10, 3, True, [3, 3, 3]),
        (9, 3, False, [3, 3, 3]),
        (9, 3, True, [3, 3, 3]),
        (2, 5, False, [2]),
        (2, 5, True, []),
        (0, 4, False, []),
        (5, 1, False, [1, 1, 1, 1, 1]),
    ],
)
@pytest.mark.parametrize("fast", [True, False])
def test_batch_sizes_and_len(n, batch, drop_last, sizes, fast):
    X = np.arange(n * 4, dtype=np.float64).reshape(n, 4)
    y = np.arange(n, dtype=np.int32)
    ds = TensorDataset(X, y)
    loader = DataLoader(
        ds, batch_size=batch, drop_last=drop_last, collate_fn=None if fast else default_collate
    )
    batches = list(loader)
    assert len(loader) == len(sizes)
    assert [b[0].shape for b in batches] == [(s, 4) for s in sizes]
    assert [b[1].shape for b in batches] == [(s,) for s in sizes]
    for xb, yb in batches:
        assert isinstance(xb, Tensor) and isinstance(yb, Tensor)
        assert xb.dtype == np.float32  # float64 data -> float32
        assert yb.dtype == np.int64  # integer labels -> int64


def test_unshuffled_order_is_sequential():
    loader = DataLoader(TensorDataset(np.arange(7)), batch_size=3)
    np.testing.assert_array_equal(_epoch_ids(loader), np.arange(7))


def test_shuffle_every_sample_once_and_new_order_each_epoch():
    n = 103
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=10, shuffle=True,
                        generator=Generator(0))
    e1, e2, e3 = (_epoch_ids(loader) for _ in range(3))
    for e in (e1, e2, e3):
        np.testing.assert_array_equal(np.sort(e), np.arange(n))
    assert not np.array_equal(e1, e2)
    assert not np.array_equal(e2, e3)
    assert not np.array_equal(e1, np.arange(n))


def test_drop_last_shuffled_drops_only_the_tail():
    loader = DataLoader(
        TensorDataset(np.arange(10)), batch_size=4, shuffle=True, drop_last=True,
        generator=Generator(1),
    )
    ids = _epoch_ids(loader)
    assert ids.shape == (8,)
    assert len(set(ids.tolist())) == 8


def test_seeded_shuffles_reproduce_across_loaders():
    ds = TensorDataset(np.arange(50))
    a = DataLoader(ds, batch_size=8, shuffle=True, generator=Generator(123))
    b = DataLoader(ds, batch_size=8, shuffle=True, generator=Generator(123))
    c = DataLoader(ds, batch_size=8, shuffle=True, generator=Generator(124))
    seq_a = [_epoch_ids(a) for _ in range(3)]
    seq_b = [_epoch_ids(b) for _ in range(3)]
    seq_c = [_epoch_ids(c) for _ in range(3)]
    for x, y in zip(seq_a, seq_b):
        np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, z) for x, z in zip(seq_a, seq_c))
    # The documented rule: epoch k is the k-th permutation of default_rng(seed).
    rng = np.random.default_rng(123)
    for x in seq_a:
        np.testing.assert_array_equal(x, rng.permutation(50))


def test_fast_path_matches_generic_path():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(37, 2, 3))
    y = rng.integers(0, 5, size=37).astype(np.uint8)
    ds = TensorDataset(X, y)
    fast = DataLoader(ds, batch_size=8, shuffle=True, generator=Generator(5))
    slow = DataLoader(ds, batch_size=8, shuffle=True, generator=Generator(5),
                      collate_fn=default_collate)
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf.data, xs.data)
        np.testing.assert_array_equal(yf.data, ys.data)
        assert xf.dtype == xs.dtype == np.float32
        assert yf.dtype == ys.dtype == np.int64


def test_fast_path_never_calls_getitem():
    ds = NoItemDataset(np.arange(12).reshape(6, 2), np.arange(6))
    batches = list(DataLoader(ds, batch_size=4, shuffle=True, generator=Generator(0)))
    assert [b[0].shape for b in batches] == [(4, 2), (2, 2)]


def test_fast_path_through_subset():
    from tinytorch.data import Subset

    ds = NoItemDataset(np.arange(10))
    sub = Subset(ds, [9, 8, 7])
    (b,) = next(iter(DataLoader(sub, batch_size=3)))
    np.testing.assert_array_equal(b.data, [9, 8, 7])


def test_generic_path_calls_each_item_once():
    ds = PlainDataset(10)
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=Generator(0))
    batches = list(loader)
    assert ds.calls == 10
    xb, yb = batches[0]
    assert xb.shape == (4, 2, 3) and xb.dtype == np.float32
    assert yb.dtype == np.int64
    # each sample is filled with its own index: labels must agree with images
    np.testing.assert_array_equal(yb.data, xb.data[:, 0, 0].astype(np.int64) % 3)


@pytest.mark.parametrize(
    "label, dtype",
    [
        (lambda i: i, np.int64),
        (lambda i: np.uint8(i), np.int64),
        (lambda i: np.int32(i), np.int64),
        (lambda i: float(i), np.float32),
        (lambda i: np.float64(i), np.float32),
        (lambda i: bool(i % 2), np.bool_),
        (lambda i: Tensor(np.array(i)), np.int64),
        (lambda i: np.array([i, i], dtype=np.uint8), np.uint8),  # arrays keep their dtype
        (lambda i: np.array([i], dtype=np.float16), np.float16),
    ],
)
def test_collate_dtype_rules(label, dtype):
    ds = PlainDataset(4, label=label)
    _, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert yb.dtype == dtype


def test_collate_single_values_dicts_and_tensors():
    t = default_collate([np.zeros(3), np.ones(3)])
    assert isinstance(t, Tensor) and t.shape == (2, 3)
    d = default_collate([{"x": Tensor([1.0, 2.0]), "y": 1}, {"x": Tensor([3.0, 4.0]), "y": 2}])
    assert set(d) == {"x", "y"}
    np.testing.assert_array_equal(d["x"].data, [[1, 2], [3, 4]])
    assert d["y"].dtype == np.int64
    lists = default_collate([[1, 2.5], [3, 4.5]])
    assert isinstance(lists, tuple) and lists[0].dtype == np.int64 and lists[1].dtype == np.float32


@pytest.mark.parametrize(
    "samples, exc, match",
    [
        ([], ValueError, "at least one"),
        (
            [(np.zeros(2), 1), (np.zeros(3), 1)],
            ValueError,
            r"sample 0 has shape \(2,\) but sample 1 has shape \(3,\)",
        ),
        ([(np.zeros(2), 1), (np.zeros(2),)], ValueError, "2 fields but sample 1 has 1"),
        ([("a", 1)], TypeError, "got str"),
        ([(np.array(["a"]), 1)], TypeError, "dtype <U1"),
        ([{"x": 1}, {"y": 1}], ValueError, "keys"),
    ],
)
def test_collate_errors(samples, exc, match):
    with pytest.raises(exc, match=match):
        default_collate(samples)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
        (dict(batch_size=2.0), TypeError, "batch_size must be an int"),
        (dict(batch_size=True), TypeError, "batch_size must be an int"),
        (dict(collate_fn=3), TypeError, "collate_fn"),
    ],
)
def test_loader_argument_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        DataLoader(TensorDataset(np.arange(4)), **kwargs)


def test_loader_rejects_non_dataset():
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(object())


def test_custom_collate_receives_samples():
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return samples

    out = list(DataLoader(TensorDataset(np.arange(5)), batch_size=2, collate_fn=collate))
    assert seen == [2, 2, 1]
    assert out[0][1][0] == 1


def test_bad_get_batch_is_reported():
    class Bad(TensorDataset):
        def get_batch(self, indices):
            return (self.arrays[0][:1],)

    with pytest.raises(ValueError, match="expected first dimension 3"):
        next(iter(DataLoader(Bad(np.arange(6)), batch_size=3)))


def test_batches_do_not_alias_the_dataset():
    X = np.zeros((4, 2), dtype=np.float32)
    (xb,) = next(iter(DataLoader(TensorDataset(X), batch_size=4)))
    xb.data[:] = 1.0
    assert X.sum() == 0.0
