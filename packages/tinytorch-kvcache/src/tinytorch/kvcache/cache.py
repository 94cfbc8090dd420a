"""``KVCache``: preallocated key/value storage for autoregressive decoding.

One pair of arrays per layer, allocated once, written in place::

    keys[layer]    (B, H, max_seq_len, D)     values[layer]  (B, H, max_seq_len, D)

                    filled (seq_len)     free
                  ├────────────────────┤├──────────────────────────┤
    position        0 1 2 ... seq_len-1  seq_len ... max_seq_len-1
                                         ▲
                                         write position of the current step

Position bookkeeping (the contract every caller follows)
--------------------------------------------------------
A *step* processes ``T >= 1`` new tokens (the whole prompt at prefill, one
token per decode step) through every layer:

1. each layer calls ``update(layer_idx, key, value)`` exactly once with its
   ``T`` new keys and values; they are copied to positions
   ``seq_len .. seq_len + T - 1`` (the write position is always
   ``seq_len``);
2. ``get(layer_idx)`` (and the return value of ``update``) are views of
   positions ``0 .. seq_len + T - 1``: the past **and** the tokens just
   written, so a query can attend to itself;
3. once every layer has written, ``advance(T)`` commits the step:
   ``seq_len += T``.

Misuse is an error, never a silent corruption: a layer writing twice in one
step, two layers writing different ``T``, ``advance(n)`` before every layer
wrote or with ``n != T``, a write past ``max_seq_len``.

Memory: ``2 * num_layers * B * H * max_seq_len * D * itemsize`` bytes, all
allocated up front (:func:`kv_cache_bytes`); writes never allocate.
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import Tensor

__all__ = ["KVCache", "kv_cache_bytes"]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"KVCache: {name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"KVCache: {name} must be >= 1, got {value}")
    return int(value)


def _float_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"KVCache: unknown dtype {dtype!r}") from exc
    if dt.kind != "f":
        raise TypeError(f"KVCache: dtype must be a floating-point dtype, got {dt}")
    return dt


def kv_cache_bytes(batch_size: int, max_seq_len: int, num_layers: int, num_heads: int,
                   head_dim: int, dtype=np.float32) -> int:
    """Bytes a :class:`KVCache` of this geometry allocates.

    Takes the arguments of ``KVCache(...)`` in the same order, so
    ``kv_cache_bytes(*args) == KVCache(*args).memory_usage()["total"]``:
    ``2 (K and V) x batch x max_seq_len x layers x heads x head_dim x itemsize``.

    Raises:
        TypeError / ValueError: as :class:`KVCache` for invalid sizes or dtype.
    """
    sizes = [_positive_int(v, n) for v, n in (
        (batch_size, "batch_size"), (max_seq_len, "max_seq_len"), (num_layers, "num_layers"),
        (num_heads, "num_heads"), (head_dim, "head_dim"))]
    return 2 * int(np.prod(sizes, dtype=np.int64)) * _float_dtype(dtype).itemsize


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class KVCache:
    """Preallocated keys and values of every layer, written in place.

    Args:
        batch_size: B, sequences decoded side by side.
        max_seq_len: capacity in positions (prompt + generated tokens).
        num_layers: one key and one value array per layer.
        num_heads: H.
        head_dim: D.
        dtype: a floating-point dtype (float32 by default); writes must match it.

    Attributes (read-only): ``batch_size``, ``max_seq_len``, ``num_layers``,
    ``num_heads``, ``head_dim``, ``dtype``, ``seq_len`` (committed positions),
    ``shape`` (``(B, H, max_seq_len, D)``, one layer's key array).

    See the module docstring for the update -> get -> advance protocol.
    ``update`` is O(B H T D) (a copy into the slot), ``get`` is O(1) (views).

    Raises:
        TypeError: a non-int size or a non-float dtype.
        ValueError: a size < 1.
    """

    def __init__(self, batch_size: int, max_seq_len: int, num_layers: int, num_heads: int,
                 head_dim: int, dtype=np.float32) -> None:
        self._num_layers = _positive_int(num_layers, "num_layers")
        self._num_heads = _positive_int(num_heads, "num_heads")
        self._head_dim = _positive_int(head_dim, "head_dim")
        self._dtype = _float_dtype(dtype)
        self._allocate(_positive_int(batch_size, "batch_size"),
                       _positive_int(max_seq_len, "max_seq_len"))

    def _allocate(self, batch_size: int, max_seq_len: int) -> None:
        self._batch_size = batch_size
        self._max_seq_len = max_seq_len
        shape = (batch_size, self._num_heads, max_seq_len, self._head_dim)
        # One contiguous array per layer and per K/V: a layer's (L, D) block
        # for a (batch, head) pair is contiguous, which is what BLAS wants.
        self._keys = [np.zeros(shape, self._dtype) for _ in range(self._num_layers)]
        self._values = [np.zeros(shape, self._dtype) for _ in range(self._num_layers)]
        # Read-only aliases of the same memory: their slices, which get() and
        # update() hand out, are read-only views without a flag set per call.
        self._keys_ro = [_read_only(k) for k in self._keys]
        self._values_ro = [_read_only(v) for v in self._values]
        self._seq_len = 0
        self._pending = [0] * self._num_layers  # tokens each layer wrote in this step
        self._step = 0  # tokens per layer of the current step (0: none written yet)

    # ------------------------------------------------------------ geometry
    batch_size = property(lambda self: self._batch_size)
    max_seq_len = property(lambda self: self._max_seq_len)
    num_layers = property(lambda self: self._num_layers)
    num_heads = property(lambda self: self._num_heads)
    head_dim = property(lambda self: self._head_dim)
    dtype = property(lambda self: self._dtype)

    @property
    def seq_len(self) -> int:
        """Committed positions: the write position of the next step."""
        return self._seq_len

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(B, H, max_seq_len, D)``: the shape of one layer's key (or value) array."""
        return self._keys[0].shape

    @property
    def pending(self) -> int:
        """Tokens written in the current, not yet advanced, step (0 if none)."""
        return self._step

    # ------------------------------------------------------------- writing
    def _check_layer(self, layer_idx) -> int:
        if type(layer_idx) is int and 0 <= layer_idx < self._num_layers:
            return layer_idx  # the common case, checked first
        if isinstance(layer_idx, bool) or not isinstance(layer_idx, (int, np.integer)):
            raise TypeError(f"KVCache: layer_idx must be an int, got {layer_idx!r}")
        if not 0 <= layer_idx < self._num_layers:
            raise IndexError(
                f"KVCache: layer_idx {layer_idx} out of range for a cache of "
                f"{self._num_layers} layer(s) (valid: 0..{self._num_layers - 1})"
            )
        return int(layer_idx)

    def _claim(self, layer: int, t: int) -> int:
        """Book ``t`` positions for ``layer`` in the current step; return the
        write position. Checks the protocol, not the data."""
        if self._pending[layer]:
            raise RuntimeError(
                f"KVCache: layer {layer} already wrote {self._pending[layer]} token(s) in this "
                f"step; call advance() once every layer has written (or reset()/crop())"
            )
        other = self._step
        if other and other != t:
            raise ValueError(
                f"KVCache: layer {layer} writes {t} token(s) but another layer wrote {other} "
                "in this step; every layer must write the same number of tokens"
            )
        end = self._seq_len + t
        if end > self._max_seq_len:
            raise ValueError(
                f"KVCache overflow: writing {t} token(s) at position {self._seq_len} needs "
                f"{end} positions but max_seq_len is {self._max_seq_len}; reset(), crop() "
                "or allocate a larger cache"
            )
        self._pending[layer] = t
        self._step = t
        return self._seq_len

    def update(self, layer_idx: int, key, value) -> tuple[np.ndarray, np.ndarray]:
        """Write ``T`` new keys and values of one layer at position ``seq_len``.

        Args:
            layer_idx: ``0 <= layer_idx < num_layers``.
            key, value: Tensors or ndarrays of shape ``(B, H, T, D)``, ``T >= 1``,
                with the cache's dtype. They are copied; the cache keeps no
                reference to them.

        Returns:
            ``(keys, values)``: read-only views ``(B, H, seq_len + T, D)`` of the
            past and the tokens just written (the same as :meth:`get`).

        Cost: O(B H T D) for the copy; no allocation.

        Raises:
            TypeError: non-array inputs, a dtype other than the cache's.
            ValueError: shapes other than ``(B, H, T, D)`` with the cache's
                B, H, D (the message names them), key and value shapes that
                differ, ``seq_len + T > max_seq_len``, a ``T`` other than the one
                another layer wrote in this step.
            IndexError: ``layer_idx`` out of range.
            RuntimeError: this layer already wrote in this step (advance first).
        """
        layer = self._check_layer(layer_idx)
        k = self._as_array(key, "key")
        v = self._as_array(value, "value")
        shape = k.shape
        b, h, _, d = self._keys[0].shape
        if len(shape) != 4 or shape[0] != b or shape[1] != h or shape[3] != d or not shape[2]:
            raise ValueError(
                f"KVCache.update: key must have shape (B={b}, H={h}, T>=1, D={d}), "
                f"got {shape}"
            )
        if v.shape != shape:
            raise ValueError(
                f"KVCache.update: value shape {v.shape} differs from key shape {shape}"
            )
        return self.update_unchecked(layer, k, v)

    def update_unchecked(self, layer_idx: int, key: np.ndarray,
                         value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`update` without its argument checks, for a caller that
        validated its arguments once instead of at every token.

        The caller guarantees what :meth:`update` would check: ``layer_idx``
        an int in ``0 .. num_layers - 1``, ``key`` and ``value`` ndarrays of
        the cache's dtype and of shape ``(B, H, T, D)`` with the cache's B,
        H and D (the fused decode step checks them when it is set up for a
        sequence). The bookkeeping is the same and still checked: a layer
        writing twice, a ``T`` other than another layer's, an overflow raise
        as in :meth:`update`. Arguments that break the guarantee are not
        diagnosed (NumPy may broadcast or cast them into the slot).

        Returns and cost: as :meth:`update`.
        """
        t = key.shape[2]
        start = self._claim(layer_idx, t)
        end = start + t
        self._keys[layer_idx][:, :, start:end] = key
        self._values[layer_idx][:, :, start:end] = value
        return self._views(layer_idx, end)

    def _as_array(self, x, name: str) -> np.ndarray:
        if type(x) is np.ndarray and x.dtype == self._dtype:
            return x  # the common case, checked first (this runs per layer and token)
        if isinstance(x, Tensor):
            x = x.data
        if not isinstance(x, np.ndarray):
            raise TypeError(
                f"KVCache.update: {name} must be a Tensor or an ndarray, got {type(x).__name__}"
            )
        if x.dtype != self._dtype:
            raise TypeError(
                f"KVCache.update: {name} has dtype {x.dtype} but the cache holds {self._dtype}; "
                "cast it, or build the cache with the model's dtype"
            )
        return x

    def _views(self, layer: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        # Read-only: a view into the cache, writing through it would corrupt it.
        return self._keys_ro[layer][:, :, :end], self._values_ro[layer][:, :, :end]

    def get(self, layer_idx: int) -> tuple[np.ndarray, np.ndarray]:
        """Keys and values of one layer, ``(B, H, L, D)`` read-only views.

        ``L = seq_len + T`` when the layer already wrote ``T`` tokens in the
        current step (they are included: a new query attends to itself),
        else ``L = seq_len``. O(1): no copy.

        Raises:
            IndexError / TypeError: ``layer_idx`` out of range / not an int.
        """
        layer = self._check_layer(layer_idx)
        return self._views(layer, self._seq_len + self._pending[layer])

    def advance(self, n: int = 1) -> None:
        """Commit the current step: ``seq_len += n``.

        Every layer must have written exactly ``n`` tokens since the last
        ``advance``/``reset``/``crop``.

        Raises:
            TypeError: ``n`` is not an int.
            ValueError: ``n < 1``, or ``n`` differs from the tokens written.
            RuntimeError: some layers have not written in this step (they are named).
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"KVCache.advance: n must be an int, got {n!r}")
        if n < 1:
            raise ValueError(f"KVCache.advance: n must be >= 1, got {n}")
        if 0 in self._pending:
            missing = [i for i, p in enumerate(self._pending) if not p]
            raise RuntimeError(
                f"KVCache.advance({n}): layer(s) {missing} have not written in this step; "
                "every layer must call update() before advance()"
            )
        if self._step != n:
            raise ValueError(
                f"KVCache.advance({n}): the layers wrote {self._step} token(s) in this "
                "step; advance by that number"
            )
        self._seq_len += int(n)
        self._pending = [0] * self._num_layers
        self._step = 0

    def reset(self) -> None:
        """Forget every position (``seq_len = 0``), keeping the storage. O(1):
        old values are overwritten by later writes, never read."""
        self._seq_len = 0
        self._pending = [0] * self._num_layers
        self._step = 0

    def crop(self, length: int) -> None:
        """Keep only the first ``length`` positions (drop the rest, and any
        uncommitted writes of the current step).

        Raises:
            TypeError: non-int ``length``.
            ValueError: ``length`` outside ``0 .. seq_len``.
        """
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)):
            raise TypeError(f"KVCache.crop: length must be an int, got {length!r}")
        if not 0 <= length <= self._seq_len:
            raise ValueError(
                f"KVCache.crop: length must be in 0..seq_len={self._seq_len}, got {length}"
            )
        self._seq_len = int(length)
        self._pending = [0] * self._num_layers
        self._step = 0

    def reallocate(self, batch_size: int | None = None, max_seq_len: int | None = None) -> None:
        """Allocate new storage for another batch size or capacity (contents
        are dropped: ``seq_len = 0``). Used when a generation call brings a
        batch of a different size; the object keeps its identity.

        Raises:
            TypeError / ValueError: invalid sizes, as the constructor.
        """
        b = self._batch_size if batch_size is None else _positive_int(batch_size, "batch_size")
        s = self._max_seq_len if max_seq_len is None else _positive_int(max_seq_len,
                                                                         "max_seq_len")
        self._allocate(b, s)

    # -------------------------------------------------------------- memory
    def memory_usage(self) -> dict:
        """Bytes really allocated: ``{"per_layer": [k.nbytes + v.nbytes, ...],
        "keys": ..., "values": ..., "total": ...}`` (equal to
        :func:`kv_cache_bytes` of the same geometry)."""
        per_layer = [k.nbytes + v.nbytes for k, v in zip(self._keys, self._values)]
        return {
            "per_layer": per_layer,
            "keys": sum(k.nbytes for k in self._keys),
            "values": sum(v.nbytes for v in self._values),
            "total": sum(per_layer),
        }

    def __repr__(self) -> str:
        return (f"KVCache(batch_size={self._batch_size}, max_seq_len={self._max_seq_len}, "
                f"num_layers={self._num_layers}, num_heads={self._num_heads}, "
                f"head_dim={self._head_dim}, dtype={self._dtype}, seq_len={self._seq_len})")
