"""KVCache on its own: storage, the update -> get -> advance protocol, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.kvcache import KVCache, kv_cache_bytes
from tinytorch.tensor import Tensor

B, S, L, H, D = 2, 10, 3, 4, 5


def kv(t, seed=0, dtype=np.float32, b=B):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((b, H, t, D)).astype(dtype),
            rng.standard_normal((b, H, t, D)).astype(dtype))


def write_step(cache, t, seed):
    """Every layer writes t tokens; returns what each layer wrote."""
    written = []
    for layer in range(cache.num_layers):
        k, v = kv(t, seed=100 * seed + layer)
        cache.update(layer, k, v)
        written.append((k, v))
    cache.advance(t)
    return written


def test_preallocated_storage_and_memory_usage():
    cache = KVCache(B, S, L, H, D)
    assert cache.shape == (B, H, S, D)
    assert cache.seq_len == 0 and cache.dtype == np.float32
    usage = cache.memory_usage()
    real = [k.nbytes + v.nbytes for k, v in zip(cache._keys, cache._values)]
    assert usage["per_layer"] == real
    assert usage["total"] == sum(real) == usage["keys"] + usage["values"]
    assert usage["total"] == 2 * L * H * D * S * B * 4 == kv_cache_bytes(B, S, L, H, D)
    assert KVCache(B, S, L, H, D, dtype=np.float64).memory_usage()["total"] == 2 * usage["total"]


def test_update_writes_in_place_at_seq_len_and_get_includes_it():
    cache = KVCache(B, S, L, H, D)
    storage = [k for k in cache._keys]
    k0, v0 = kv(3, seed=1)
    keys, values = cache.update(0, k0, v0)
    # get() includes the tokens just written, before advance().
    np.testing.assert_array_equal(keys, k0)
    np.testing.assert_array_equal(values, v0)
    got_k, got_v = cache.get(0)
    assert got_k.shape == (B, H, 3, D)
    np.testing.assert_array_equal(got_k, k0)
    # Layers that have not written yet see only the committed past (nothing).
    assert cache.get(1)[0].shape == (B, H, 0, D)
    for layer in (1, 2):
        cache.update(layer, *kv(3, seed=layer))
    cache.advance(3)
    assert cache.seq_len == 3
    # The first position is written (not skipped), and storage is never replaced.
    np.testing.assert_array_equal(cache._keys[0][:, :, 0], k0[:, :, 0])
    assert all(a is b for a, b in zip(storage, cache._keys))
    # Views, not copies; read-only so that a caller cannot corrupt the cache.
    k_view, _ = cache.get(0)
    assert np.shares_memory(k_view, cache._keys[0])
    with pytest.raises(ValueError):
        k_view[0, 0, 0, 0] = 1.0


def test_many_steps_match_concatenation():
    """Prefill of 4 then single-token decode steps: the cache holds exactly the
    concatenation of everything written, in order, for every layer."""
    cache = KVCache(B, S, L, H, D)
    history = [write_step(cache, 4, seed=0)]
    for step in range(1, 6):
        # Within a step, each layer's get() already includes its new token at seq_len.
        t0 = cache.seq_len
        written = []
        for layer in range(L):
            k, v = kv(1, seed=100 * step + layer)
            keys, values = cache.update(layer, k, v)
            assert keys.shape[2] == t0 + 1
            np.testing.assert_array_equal(keys[:, :, t0], k[:, :, 0])
            written.append((k, v))
        cache.advance(1)
        history.append(written)
    assert cache.seq_len == 9
    for layer in range(L):
        ref_k = np.concatenate([h[layer][0] for h in history], axis=2)
        ref_v = np.concatenate([h[layer][1] for h in history], axis=2)
        keys, values = cache.get(layer)
        np.testing.assert_array_equal(keys, ref_k)
        np.testing.assert_array_equal(values, ref_v)


def test_update_accepts_tensors():
    cache = KVCache(1, 4, 1, H, D)
    k, v = kv(2, b=1)
    keys, _ = cache.update(0, Tensor(k), Tensor(v))
    np.testing.assert_array_equal(keys, k)


def test_reset_and_crop():
    cache = KVCache(B, S, L, H, D)
    first = write_step(cache, 4, seed=0)
    write_step(cache, 2, seed=1)
    cache.crop(4)
    assert cache.seq_len == 4
    np.testing.assert_array_equal(cache.get(1)[0], first[1][0])
    new = write_step(cache, 1, seed=2)  # written at position 4, after the crop
    np.testing.assert_array_equal(cache.get(2)[1][:, :, 4], new[2][1][:, :, 0])
    cache.reset()
    assert cache.seq_len == 0 and cache.get(0)[0].shape[2] == 0
    write_step(cache, 3, seed=3)
    assert cache.seq_len == 3


def test_crop_discards_an_unfinished_step():
    cache = KVCache(B, S, L, H, D)
    write_step(cache, 2, seed=0)
    cache.update(0, *kv(1))
    assert cache.pending == 1
    cache.crop(cache.seq_len)
    assert cache.pending == 0
    write_step(cache, 1, seed=1)  # no "already wrote" error
    assert cache.seq_len == 3


def test_reallocate_changes_the_batch_and_drops_contents():
    cache = KVCache(B, S, L, H, D)
    write_step(cache, 2, seed=0)
    cache.reallocate(batch_size=3)
    assert cache.batch_size == 3 and cache.seq_len == 0
    assert cache.shape == (3, H, S, D)
    assert cache.memory_usage()["total"] == kv_cache_bytes(3, S, L, H, D)
    cache.reallocate(max_seq_len=20)
    assert cache.shape == (3, H, 20, D)


def _fresh():
    return KVCache(B, S, L, H, D)


def _full():
    cache = _fresh()
    write_step(cache, S, seed=9)
    return cache


def _half_step():
    cache = _fresh()
    cache.update(0, *kv(1))
    return cache


# (case id, setup, action, exception, message fragment)
ERRORS = [
    ("key not 4-D", _fresh, lambda c: c.update(0, np.zeros((B, H, D), np.float32),
                                              np.zeros((B, H, D), np.float32)),
     ValueError, "(B=2, H=4, T>=1, D=5)"),
    ("wrong batch", _fresh, lambda c: c.update(0, *kv(1, b=3)), ValueError, "got (3, 4, 1, 5)"),
    ("wrong heads", _fresh, lambda c: c.update(0, np.zeros((B, 2, 1, D), np.float32),
                                              np.zeros((B, 2, 1, D), np.float32)),
     ValueError, "H=4"),
    ("wrong head_dim", _fresh, lambda c: c.update(0, np.zeros((B, H, 1, 7), np.float32),
                                                 np.zeros((B, H, 1, 7), np.float32)),
     ValueError, "D=5"),
    ("zero tokens", _fresh, lambda c: c.update(0, *kv(0)), ValueError, "T>=1"),
    ("key/value differ", _fresh, lambda c: c.update(0, kv(1)[0], kv(2)[1]),
     ValueError, "differs from key shape"),
    ("float64 into float32", _fresh, lambda c: c.update(0, *kv(1, dtype=np.float64)),
     TypeError, "dtype float64 but the cache holds float32"),
    ("not an array", _fresh, lambda c: c.update(0, [[1.0]], [[1.0]]), TypeError, "ndarray"),
    ("layer too large", _fresh, lambda c: c.update(L, *kv(1)), IndexError, "layer_idx 3"),
    ("negative layer", _fresh, lambda c: c.get(-1), IndexError, "out of range"),
    ("bool layer", _fresh, lambda c: c.get(True), TypeError, "layer_idx must be an int"),
    ("overflow", _full, lambda c: c.update(0, *kv(1)), ValueError, "max_seq_len is 10"),
    ("prefill too long", _fresh, lambda c: c.update(0, *kv(S + 1)), ValueError, "overflow"),
    ("layer writes twice", _half_step, lambda c: c.update(0, *kv(1)), RuntimeError,
     "already wrote"),
    ("layers disagree on T", _half_step, lambda c: c.update(1, *kv(2)), ValueError,
     "another layer wrote 1"),
    ("advance before all layers", _half_step, lambda c: c.advance(1), RuntimeError,
     "[1, 2] have not written"),
    ("advance with nothing written", _fresh, lambda c: c.advance(1), RuntimeError,
     "have not written"),
    ("advance(0)", _fresh, lambda c: c.advance(0), ValueError, ">= 1"),
    ("crop beyond seq_len", _fresh, lambda c: c.crop(1), ValueError, "0..seq_len=0"),
    ("crop non-int", _fresh, lambda c: c.crop(1.5), TypeError, "int"),
]


@pytest.mark.parametrize("setup, action, exc, fragment",
                         [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(setup, action, exc, fragment):
    cache = setup()
    with pytest.raises(exc) as info:
        action(cache)
    assert fragment in str(info.value)


def test_update_unchecked_writes_what_update_writes():
    checked, unchecked = _fresh(), _fresh()
    for t, seed in ((3, 0), (1, 1), (2, 2)):
        for layer in range(L):
            k, v = kv(t, seed=10 * seed + layer)
            views = checked.update(layer, k, v)
            fast = unchecked.update_unchecked(layer, k, v)
            for a, b, storage in zip(views, fast, (unchecked._keys, unchecked._values)):
                np.testing.assert_array_equal(a, b)
                assert not b.flags.writeable and np.shares_memory(b, storage[layer])
        checked.advance(t)
        unchecked.advance(t)
    assert unchecked.seq_len == checked.seq_len == 6
    for a, b in zip(checked._keys + checked._values, unchecked._keys + unchecked._values):
        np.testing.assert_array_equal(a, b)


# update_unchecked skips the argument checks only: the protocol is still checked.
PROTOCOL_ERRORS = [
    ("layer writes twice", _half_step, lambda c: c.update_unchecked(0, *kv(1)), RuntimeError,
     "already wrote"),
    ("layers disagree on T", _half_step, lambda c: c.update_unchecked(1, *kv(2)), ValueError,
     "another layer wrote 1"),
    ("overflow", _full, lambda c: c.update_unchecked(0, *kv(1)), ValueError,
     "max_seq_len is 10"),
]


@pytest.mark.parametrize("setup, action, exc, fragment",
                         [e[1:] for e in PROTOCOL_ERRORS], ids=[e[0] for e in PROTOCOL_ERRORS])
def test_update_unchecked_keeps_the_protocol_checks(setup, action, exc, fragment):
    cache = setup()
    with pytest.raises(exc, match=fragment):
        action(cache)


def test_advance_by_the_wrong_count():
    cache = _fresh()
    for layer in range(L):
        cache.update(layer, *kv(2))
    with pytest.raises(ValueError, match="wrote 2 token"):
        cache.advance(1)
    cache.advance(2)
    assert cache.seq_len == 2


@pytest.mark.parametrize("kwargs, exc", [
    (dict(batch_size=0), ValueError),
    (dict(max_seq_len=-1), ValueError),
    (dict(num_layers=1.0), TypeError),
    (dict(num_heads=True), TypeError),
    (dict(dtype=np.int64), TypeError),
    (dict(dtype="nonsense"), TypeError),
])
def test_constructor_errors(kwargs, exc):
    args = dict(batch_size=1, max_seq_len=4, num_layers=1, num_heads=1, head_dim=1)
    args.update(kwargs)
    with pytest.raises(exc):
        KVCache(**args)


@pytest.mark.parametrize("args", [(2, 7, 3, 4, 5), (1, 16, 1, 2, 8, np.float64)])
def test_kv_cache_bytes_takes_kvcache_arguments_in_the_same_order(args):
    assert kv_cache_bytes(*args) == KVCache(*args).memory_usage()["total"]
    names = ["batch_size", "max_seq_len", "num_layers", "num_heads", "head_dim"]
    for i, name in enumerate(names):
        bad = list(args)
        bad[i] = 0
        with pytest.raises(ValueError, match=name):
            kv_cache_bytes(*bad)
