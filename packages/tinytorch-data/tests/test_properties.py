"""Property tests of the DataLoader's epoch invariants (needs hypothesis)."""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tinytorch.data import DataLoader, TensorDataset, default_collate, random_split  # noqa: E402
from tinytorch.tensor import Generator  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 60),
    batch=st.integers(1, 17),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    fast=st.booleans(),
)
def test_epoch_covers_each_sample_once(n, batch, shuffle, drop_last, seed, fast):
    loader = DataLoader(
        TensorDataset(np.arange(n)),
        batch_size=batch,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=Generator(seed),
        collate_fn=None if fast else default_collate,
    )
    batches = [b[0].data for b in loader]
    assert len(batches) == len(loader)
    assert all(len(b) == batch for b in batches[:-1])
    ids = np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)
    expected = (n // batch) * batch if drop_last else n
    assert ids.shape == (expected,)
    assert np.unique(ids).size == expected  # no sample twice
    if not drop_last:
        np.testing.assert_array_equal(np.sort(ids), np.arange(n))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 80), k=st.integers(1, 5), seed=st.integers(0, 1000), data=st.data())
def test_random_split_fractions_partition(n, k, seed, data):
    weights = np.array(data.draw(st.lists(st.integers(1, 10), min_size=k, max_size=k)), dtype=float)
    fractions = (weights / weights.sum()).tolist()
    fractions[-1] = 1.0 - sum(fractions[:-1])
    parts = random_split(TensorDataset(np.arange(n)), fractions, generator=Generator(seed))
    sizes = [len(p) for p in parts]
    assert sum(sizes) == n
    assert all(abs(s - f * n) <= 1 for s, f in zip(sizes, fractions))
    idx = np.concatenate([p.indices for p in parts]) if n else np.zeros(0)
    np.testing.assert_array_equal(np.sort(idx), np.arange(n))
