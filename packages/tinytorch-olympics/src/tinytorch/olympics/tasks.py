"""What a submission is measured on: a classification task or a generation task.

The ``data`` argument of :func:`~tinytorch.olympics.generate_submission` is
one of two task types, and the task decides what "a query", "accuracy" and
"the predictions" mean:

================  =====================================  ===============================
task              one SingleStream query                 accuracy / predictions hashed
================  =====================================  ===============================
classification    one input sample ``(1, ...)`` ->       ``argmax(logits) == label`` over
                  logits ``(1, C)``                      every sample; the argmax ids
generation        one prompt ``(1, T0)`` -> the prompt   next-token accuracy on held-out
                  plus ``max_new_tokens`` greedy tokens  windows, computed through the
                                                         model's own inference path; the
                                                         argmax ids and the continuations
================  =====================================  ===============================

For generation the models are :class:`TextGenerator` objects: a language
model together with *how* it generates (with or without a KV cache). Both
sides of a comparison must generate the same number of tokens per query:
the work measured has to be the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.kvcache import disable_kv_cache, enable_kv_cache, generate, is_kv_cache_enabled
from tinytorch.nn import Module
from tinytorch.tensor import Tensor, wrap

__all__ = ["ClassificationData", "GenerationData", "TextGenerator", "as_task_data"]


def _as_array(x, what: str) -> np.ndarray:
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype == object:
        raise TypeError(f"{what} must be a numeric array, got objects")
    return arr


def _int_ids(x, what: str, ndim: int) -> np.ndarray:
    arr = _as_array(x, what)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iu":
        raise TypeError(f"{what} must hold integer ids, got dtype {arr.dtype}")
    if arr.ndim != ndim or 0 in arr.shape:
        raise ValueError(f"{what} must be a non-empty {ndim}-D array, got shape {arr.shape}")
    if int(arr.min()) < 0:
        raise ValueError(f"{what} holds a negative id ({int(arr.min())})")
    return arr.astype(np.int64, copy=False)


@dataclass(frozen=True, eq=False)
class ClassificationData:
    """Evaluation data of a classifier.

    Args:
        inputs: ``(N, ...)`` samples (float; converted as TinyTorch does,
            float64 becomes float32). One sample is one SingleStream query.
        labels: ``(N,)`` integer class ids.
        name: what the data is (recorded in the submission).

    Raises:
        TypeError: non-numeric inputs, non-integer labels.
        ValueError: no samples, labels whose length differs from the inputs'.
    """

    inputs: np.ndarray
    labels: np.ndarray
    name: str = "classification"

    def __post_init__(self) -> None:
        inputs = _as_array(self.inputs, "ClassificationData.inputs")
        if inputs.dtype.kind not in "fiu" or inputs.dtype == np.bool_:
            raise TypeError(f"ClassificationData.inputs must be numeric, got dtype {inputs.dtype}")
        if inputs.ndim < 1 or inputs.shape[0] == 0:
            raise ValueError(f"ClassificationData.inputs must hold at least one sample, "
                             f"got shape {inputs.shape}")
        if inputs.dtype.kind == "f" and not np.all(np.isfinite(inputs)):
            raise ValueError("ClassificationData.inputs contains NaN or infinity")
        labels = _int_ids(self.labels, "ClassificationData.labels", 1)
        if labels.shape[0] != inputs.shape[0]:
            raise ValueError(f"ClassificationData: {inputs.shape[0]} inputs but "
                             f"{labels.shape[0]} labels")
        if not isinstance(self.name, str) or not self.name.strip():
            raise TypeError(f"ClassificationData.name must be a non-empty str, got {self.name!r}")
        object.__setattr__(self, "inputs", Tensor(inputs).data)
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def describe(self) -> dict:
        """The ``task`` section of a submission."""
        return {
            "type": "classification",
            "name": self.name,
            "metric": "accuracy",
            "samples": len(self),
            "input_shape": [int(d) for d in self.inputs.shape[1:]],
            "num_classes": int(self.labels.max()) + 1,
        }


@dataclass(frozen=True, eq=False)
class GenerationData:
    """Evaluation data of a language model.

    Args:
        prompts: ``(P, T0)`` int ids. Each row is one SingleStream query:
            continue it by ``max_new_tokens`` tokens (greedy).
        tokens: ``(M, T)`` int ids, held-out windows of text.
        targets: ``(M, T)`` int ids, the token that follows each position of
            ``tokens`` (``tokens`` shifted left by one). Next-token accuracy
            is ``argmax(logits[:, t]) == targets[:, t]`` over all ``M * T``
            positions.
        name: what the text is (recorded in the submission).

    Build it from a token stream with :meth:`from_token_stream`.

    Raises:
        TypeError: non-integer ids.
        ValueError: empty or mis-shaped arrays, negative ids.
    """

    prompts: np.ndarray
    tokens: np.ndarray
    targets: np.ndarray
    name: str = "generation"

    def __post_init__(self) -> None:
        prompts = _int_ids(self.prompts, "GenerationData.prompts", 2)
        tokens = _int_ids(self.tokens, "GenerationData.tokens", 2)
        targets = _int_ids(self.targets, "GenerationData.targets", 2)
        if tokens.shape != targets.shape:
            raise ValueError(f"GenerationData: tokens {tokens.shape} and targets "
                             f"{targets.shape} must have the same shape")
        if not isinstance(self.name, str) or not self.name.strip():
            raise TypeError(f"GenerationData.name must be a non-empty str, got {self.name!r}")
        object.__setattr__(self, "prompts", prompts)
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "targets", targets)

    @classmethod
    def from_token_stream(cls, ids, *, prompt_len: int, num_prompts: int, window: int,
                          num_windows: int | None = None,
                          name: str = "generation") -> GenerationData:
        """Cut held-out ``ids`` (1-D) into evaluation windows and prompts.

        ``num_windows`` non-overlapping windows of ``window + 1`` tokens give
        ``tokens`` (the first ``window``) and ``targets`` (the last
        ``window``); ``num_prompts`` prompts of ``prompt_len`` tokens are
        taken at evenly spaced offsets. Default ``num_windows``: as many as fit.

        Raises:
            ValueError: the stream is too short for what is asked.
        """
        stream = _int_ids(ids, "token stream", 1)
        for value, label in ((prompt_len, "prompt_len"), (num_prompts, "num_prompts"),
                             (window, "window")):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{label} must be an int >= 1, got {value!r}")
        fit = (stream.size - 1) // (window + 1)
        m = fit if num_windows is None else int(num_windows)
        if m < 1 or m > fit:
            raise ValueError(f"a stream of {stream.size} tokens holds {fit} windows of "
                             f"{window} + 1 tokens; asked for {m}")
        if stream.size < prompt_len + num_prompts:
            raise ValueError(f"a stream of {stream.size} tokens is too short for "
                             f"{num_prompts} prompts of {prompt_len} tokens")
        rows = stream[: m * (window + 1)].reshape(m, window + 1)
        starts = np.linspace(0, stream.size - prompt_len, num_prompts).astype(np.int64)
        prompts = stream[starts[:, None] + np.arange(prompt_len)]  # (P, T0) gather
        return cls(prompts, rows[:, :-1], rows[:, 1:], name)

    def __len__(self) -> int:
        return int(self.prompts.shape[0])

    def describe(self, max_new_tokens: int) -> dict:
        """The ``task`` section of a submission."""
        return {
            "type": "generation",
            "name": self.name,
            "metric": "next_token_accuracy",
            "samples": int(self.tokens.shape[0]),
            "prompts": int(self.prompts.shape[0]),
            "prompt_length": int(self.prompts.shape[1]),
            "window_length": int(self.tokens.shape[1]),
            "max_new_tokens": int(max_new_tokens),
        }


def as_task_data(data) -> ClassificationData | GenerationData:
    """``data`` as a task: a :class:`ClassificationData`, a
    :class:`GenerationData`, or an ``(inputs, labels)`` pair (a classifier's).

    Raises:
        TypeError: anything else.
    """
    if isinstance(data, (ClassificationData, GenerationData)):
        return data
    if isinstance(data, tuple) and len(data) == 2:
        return ClassificationData(data[0], data[1])
    raise TypeError(f"data must be ClassificationData, GenerationData or an (inputs, labels) "
                    f"pair; got {type(data).__name__}")


class TextGenerator(Module):
    """A language model together with how it generates: the unit a generation
    submission measures.

    Args:
        model: a ``tinytorch.transformers.GPT`` (any model with ``generate``
            and ``forward(tokens, start_pos)``, and ``max_seq_len``).
        max_new_tokens: tokens generated per query (greedy decoding, so
            the work and the output are deterministic).
        use_kv_cache: generate with ``tinytorch.kvcache`` (prefill once,
            then one token per step against cached keys and values) instead
            of re-running the whole context at every step.

    ``forward(prompt)``: ``(B, T0)`` int ids -> ``(B, T0 + max_new_tokens)``
    int64 ids. With the cache, it is enabled for the call and removed
    afterwards, so the model's structure (and its architecture signature)
    is the same either way; the cache's memory counts in the call's peak.

    :meth:`next_token_logits` scores text through the same path: without a
    cache, one forward over the window; with it, one cached decode step per
    position (what generation runs), so a cache that corrupts its keys
    shows up as lost accuracy.

    Raises:
        TypeError: ``model`` is not GPT-like, non-int ``max_new_tokens``.
        ValueError: ``max_new_tokens < 0``.
    """

    def __init__(self, model, max_new_tokens: int, use_kv_cache: bool = False) -> None:
        super().__init__()
        if not isinstance(model, Module) or not callable(getattr(model, "generate", None)):
            raise TypeError(f"TextGenerator needs a GPT-like Module with generate(), got "
                            f"{type(model).__name__}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)):
            raise TypeError(f"max_new_tokens must be an int, got {max_new_tokens!r}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        if not isinstance(use_kv_cache, bool):
            raise TypeError(f"use_kv_cache must be a bool, got {use_kv_cache!r}")
        self.model = model
        self.max_new_tokens = int(max_new_tokens)
        self.use_kv_cache = use_kv_cache

    def forward(self, prompt) -> Tensor:
        """Greedy continuation of ``prompt`` ``(B, T0)`` by ``max_new_tokens`` ids."""
        return generate(self.model, prompt, self.max_new_tokens, temperature=0.0,
                        use_cache=self.use_kv_cache)

    def next_token_logits(self, tokens) -> Tensor:
        """Logits ``(B, T, V)`` of the token after each position of ``tokens``
        ``(B, T)``, in evaluation mode under ``no_grad``.

        Cost: one forward of ``T`` tokens without the cache; ``T`` decode
        steps of one token each with it (a Python step per position, as in
        generation; the batch is processed at once).

        Raises:
            ValueError: ``T`` beyond the model's ``max_seq_len``.
        """
        ids = tokens.data if isinstance(tokens, Tensor) else np.asarray(tokens)
        if ids.ndim != 2:
            raise ValueError(f"next_token_logits: tokens must be (B, T), got shape {ids.shape}")
        limit = getattr(self.model, "max_seq_len", None)
        if limit is not None and ids.shape[1] > limit:
            raise ValueError(f"next_token_logits: windows of {ids.shape[1]} tokens exceed the "
                             f"model's max_seq_len={limit}")
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                if not self.use_kv_cache:
                    return self.model(ids)
                return self._cached_logits(ids)
        finally:
            self.model.train(was_training)

    def _cached_logits(self, ids: np.ndarray) -> Tensor:
        b, t = ids.shape
        enabled_here = not is_kv_cache_enabled(self.model)
        enable_kv_cache(self.model, batch_size=b)  # idempotent; sized for this batch
        try:
            first = self.model(ids[:, :1], start_pos=0).data  # (B, 1, V); resets the cache
            out = np.empty((b, t, first.shape[-1]), dtype=first.dtype)
            out[:, 0] = first[:, 0]
            for pos in range(1, t):  # sequential by nature: step pos attends to 0..pos
                out[:, pos] = self.model(ids[:, pos:pos + 1], start_pos=pos).data[:, 0]
        finally:
            if enabled_here:
                disable_kv_cache(self.model)
        return wrap(out)

    def extra_repr(self) -> str:
        return f"max_new_tokens={self.max_new_tokens}, use_kv_cache={self.use_kv_cache}"

