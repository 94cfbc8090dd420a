"""tokenize_dataset and LanguageModelDataset: exact windows, views, batches, errors."""

import numpy as np
import pytest

from tinytorch.text import BPETokenizer, CharTokenizer, LanguageModelDataset, tokenize_dataset

# ------------------------------------------------------------ tokenize_dataset


def test_tokenize_dataset_encodes_each_text_as_int64():
    tok = CharTokenizer().build_vocab("abc ")
    out = tokenize_dataset(["abc", "", "c b a"], tok)
    assert [a.tolist() for a in out] == [[1, 2, 3], [], [3, 0, 2, 0, 1]]
    assert all(a.dtype == np.int64 and a.ndim == 1 for a in out)


@pytest.mark.parametrize(
    "max_length, expected", [(None, [5, 2, 0]), (1, [1, 1, 0]), (3, [3, 2, 0]), (10, [5, 2, 0])]
)
def test_tokenize_dataset_truncates(max_length, expected):
    tok = CharTokenizer().build_vocab("abcde")
    out = tokenize_dataset(["abcde", "ab", ""], tok, max_length=max_length)
    assert [len(a) for a in out] == expected
    assert out[0].tolist() == [0, 1, 2, 3, 4][: expected[0]]  # the first tokens are kept


def test_tokenize_dataset_with_bpe_and_plain_encode_tokenizer():
    bpe = BPETokenizer(260).train("the the the cat")
    out = tokenize_dataset(iter(["the cat", "🙂"]), bpe, max_length=2)
    assert out[0].tolist() == bpe.encode("the cat")[:2]
    assert out[1].tolist() == [0xF0, 0x9F]

    class ListTokenizer:  # only encode(), returning a list
        def encode(self, text):
            return [len(text), 7]

    assert [a.tolist() for a in tokenize_dataset(["xyz"], ListTokenizer())] == [[3, 7]]


@pytest.mark.parametrize(
    "texts, tokenizer, max_length, exc, pattern",
    [
        ("a single string", "tok", None, TypeError, "not a single str"),
        (["ok", 3], "tok", None, TypeError, r"texts\[1\] must be a str"),
        (["ok"], object(), None, TypeError, "encode"),
        (["ok"], "tok", 0, ValueError, "max_length must be positive"),
        (["ok"], "tok", -2, ValueError, "max_length must be positive"),
        (["ok"], "tok", 2.0, TypeError, "max_length must be an int"),
    ],
)
def test_tokenize_dataset_errors(texts, tokenizer, max_length, exc, pattern):
    if tokenizer == "tok":
        tokenizer = CharTokenizer().build_vocab("ok")
    with pytest.raises(exc, match=pattern):
        tokenize_dataset(texts, tokenizer, max_length=max_length)


# --------------------------------------------------------- LanguageModelDataset


@pytest.mark.parametrize(
    "n, block, stride, expected_starts",
    [
        (10, 3, None, [0, 3, 6]),  # 6 + 3 + 1 = 10 tokens: the last window just fits
        (9, 3, None, [0, 3]),  # 6 + 4 = 10 > 9: no third window
        (4, 3, None, [0]),  # exactly block_size + 1
        (10, 3, 1, [0, 1, 2, 3, 4, 5, 6]),
        (10, 3, 2, [0, 2, 4, 6]),
        (10, 2, 5, [0, 5]),
        (10, 9, None, [0]),
        (2, 1, None, [0]),
    ],
)
def test_windows_and_targets_are_exact(n, block, stride, expected_starts):
    stream = np.arange(100, 100 + n)
    ds = LanguageModelDataset(stream, block, stride=stride)
    assert len(ds) == len(expected_starts)
    for i, s in enumerate(expected_starts):
        x, y = ds[i]
        assert x.dtype == np.int64 and y.dtype == np.int64
        assert x.tolist() == list(range(100 + s, 100 + s + block))
        assert y.tolist() == list(range(101 + s, 101 + s + block))
        neg_x, neg_y = ds[i - len(ds)]
        assert neg_x.tolist() == x.tolist() and neg_y.tolist() == y.tolist()


def test_items_are_read_only_views_of_the_stream():
    stream = np.arange(20, dtype=np.int64)
    ds = LanguageModelDataset(stream, 4)
    x, y = ds[1]
    assert np.shares_memory(x, stream) and np.shares_memory(y, stream)
    assert not x.flags.writeable and not y.flags.writeable
    with pytest.raises(ValueError):
        x[0] = 99
    stream[0] = 42  # the caller's own array stays writable (and shared, no copy was made)
    assert ds[0][0][0] == 42


def test_list_and_other_integer_dtypes_are_accepted():
    for tokens in ([5, 6, 7, 8], np.array([5, 6, 7, 8], dtype=np.uint16)):
        ds = LanguageModelDataset(tokens, 3)
        x, y = ds[0]
        assert x.dtype == np.int64 and x.tolist() == [5, 6, 7] and y.tolist() == [6, 7, 8]


@pytest.mark.parametrize("index", [3, -4, 100])
def test_index_out_of_range(index):
    ds = LanguageModelDataset(np.arange(10), 3)  # 3 windows
    with pytest.raises(
        IndexError, match=f"index {index} is out of range for a dataset of 3 windows"
    ):
        ds[index]


def test_numpy_integer_index_and_bad_index_type():
    ds = LanguageModelDataset(np.arange(10), 3)
    assert ds[np.int64(2)][0].tolist() == [6, 7, 8]
    with pytest.raises(TypeError, match="indices must be integers"):
        ds[1.0]


@pytest.mark.parametrize(
    "tokens, block, stride, exc, pattern",
    [
        (np.arange(3), 3, None, ValueError, "3 tokens, fewer than block_size \\+ 1 = 4"),
        ([], 1, None, ValueError, "0 tokens"),
        (np.arange(10), 0, None, ValueError, "block_size must be positive"),
        (np.arange(10), 3, 0, ValueError, "stride must be positive"),
        (np.arange(10), 3.0, None, TypeError, "block_size must be an int"),
        (np.arange(10), 3, 1.5, TypeError, "stride must be an int"),
        (np.zeros((2, 5), dtype=np.int64), 2, None, ValueError, "1-D"),
        (np.linspace(0, 1, 10), 3, None, TypeError, "integer ids"),
        ([0, 1, -1, 3, 4], 2, None, ValueError, "non-negative ids, got -1 at position 2"),
        ("abcdef", 2, None, TypeError, "sequence of int ids"),
    ],
)
def test_dataset_errors(tokens, block, stride, exc, pattern):
    with pytest.raises(exc, match=pattern):
        LanguageModelDataset(tokens, block, stride=stride)


# ----------------------------------------------------------------- random_batch


def test_random_batch_shapes_shift_and_contiguity():
    stream = np.arange(50, dtype=np.int64) * 3  # value 3*i at position i
    ds = LanguageModelDataset(stream, 8)
    x, y = ds.random_batch(16, np.random.default_rng(0))
    assert x.shape == y.shape == (16, 8)
    assert x.dtype == np.int64 and y.dtype == np.int64
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
    starts = x[:, 0] // 3
    np.testing.assert_array_equal(x, stream[starts[:, None] + np.arange(8)])
    np.testing.assert_array_equal(y[:, -1], stream[starts + 8])
    assert not np.shares_memory(x, stream)


def test_random_batch_is_reproducible_and_covers_every_start():
    ds = LanguageModelDataset(np.arange(12), 4)  # starts 0..7 (last window is 7..11)
    a = ds.random_batch(400, np.random.default_rng(123))
    b = ds.random_batch(400, np.random.default_rng(123))
    np.testing.assert_array_equal(a[0], b[0])
    assert set(a[0][:, 0].tolist()) == set(range(8))
    assert a[1].max() == 11


@pytest.mark.parametrize(
    "batch_size, rng, exc, pattern",
    [
        (0, np.random.default_rng(0), ValueError, "batch_size must be positive"),
        (2, 0, TypeError, "numpy.random.Generator"),
        (2, [1], TypeError, "generator must be"),
        (2, np.random.RandomState(0), TypeError, "numpy.random.Generator"),
        (2.0, np.random.default_rng(0), TypeError, "batch_size must be an int"),
    ],
)
def test_random_batch_errors(batch_size, rng, exc, pattern):
    ds = LanguageModelDataset(np.arange(12), 4)
    with pytest.raises(exc, match=pattern):
        ds.random_batch(batch_size, rng)


def test_random_batch_generator_keyword_and_deprecated_rng():
    from tinytorch.tensor import Generator

    ds = LanguageModelDataset(np.arange(50), 4)
    new = ds.random_batch(8, generator=Generator(5))
    np.testing.assert_array_equal(new[0], ds.random_batch(8, np.random.default_rng(5))[0])
    with pytest.warns(DeprecationWarning, match="generator="):
        old = ds.random_batch(8, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(old[0], new[0])
    with pytest.raises(TypeError, match="generator= and rng="):
        ds.random_batch(8, generator=Generator(5), rng=np.random.default_rng(5))
