"""BenchmarkResult statistics against NumPy, and the t quantile against known values."""

import json
import math

import numpy as np
import pytest

from tinytorch.perf import BenchmarkResult, t_cdf, t_quantile

# Reference quantiles of Student's t (scipy.stats.t.ppf, shown to 15+ digits;
# the 0.975 column is the familiar table 12.706, 4.303, 3.182, 2.571, ...).
T_TABLE = [
    (0.975, 1, 12.706204736174694),
    (0.975, 2, 4.302652729749462),
    (0.975, 3, 3.1824463052837078),
    (0.975, 5, 2.5705818356363146),
    (0.975, 9, 2.262157162798205),
    (0.975, 10, 2.228138851986274),
    (0.975, 30, 2.0422724563012378),
    (0.975, 63, 1.998340542520741),
    (0.975, 99, 1.9842169515864174),
    (0.975, 1000, 1.9623390808264083),
    (0.975, 5000, 1.9604385517065073),
    (0.975, 2.5, 3.5746548420036817),
    (0.95, 1, 6.313751514675037),
    (0.95, 4, 2.1318467863266495),
    (0.95, 20, 1.7247182429207866),
    (0.995, 3, 5.840909309733355),
    (0.995, 12, 3.0545395893929013),
    (0.999, 7, 4.785289628638333),
    (0.9, 15, 1.3406056078504558),
    (0.6, 6, 0.2648345329335734),
    (0.025, 8, -2.3060041352041662),
    (1e-06, 5, -24.771029720515948),
    (0.975, math.inf, 1.959963984540054),
]


@pytest.mark.parametrize("p, df, expected", T_TABLE)
def test_t_quantile_known_values(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("p, df, expected", T_TABLE)
def test_t_cdf_inverts_the_quantile(p, df, expected):
    assert t_cdf(expected, df) == pytest.approx(p, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("df", [1, 2, 3, 7.5, 40, 3000])
@pytest.mark.parametrize("p", [0.01, 0.2, 0.5, 0.8, 0.99])
def test_t_quantile_symmetric_and_monotone(p, df):
    assert t_quantile(p, df) == pytest.approx(-t_quantile(1 - p, df), rel=1e-10, abs=1e-15)
    assert t_quantile(p, df) < t_quantile(min(p + 0.005, 0.999), df)


def test_t_quantile_approaches_normal_with_many_df():
    # Heavier tails with fewer degrees of freedom; the normal as df -> inf.
    values = [t_quantile(0.975, df) for df in (1, 2, 5, 30, 1000, 10**6)]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(1.959963984540054 + 2.37e-6, rel=1e-8)  # + (z^3+z)/(4 df)


@pytest.mark.parametrize("p, df, error", [
    (0.0, 5, ValueError), (1.0, 5, ValueError), (1.5, 5, ValueError), (-0.1, 5, ValueError),
    (0.5, 0, ValueError), (0.5, -3, ValueError), (0.5, math.nan, ValueError),
    ("0.9", 5, TypeError), (0.9, "5", TypeError), (True, 5, TypeError),
])
def test_t_quantile_rejects_bad_arguments(p, df, error):
    with pytest.raises(error):
        t_quantile(p, df)


SAMPLES = {
    "two": [1.0, 3.0],
    "uniform": list(np.linspace(0.5, 2.5, 17)),
    "skewed timings": list(np.random.default_rng(0).lognormal(0.0, 0.6, size=101)),
    "outlier": [1.0] * 50 + [1000.0],
    "ints": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5],
    "negative": [-2.5, -1.0, 0.0, 4.0],
}


@pytest.mark.parametrize("name", SAMPLES)
def test_statistics_match_numpy(name):
    values = np.asarray(SAMPLES[name], dtype=np.float64)
    r = BenchmarkResult("x", values)
    assert r.n == values.size
    assert r.mean == pytest.approx(np.mean(values), rel=1e-12)
    assert r.std == pytest.approx(np.std(values, ddof=1), rel=1e-12)  # sample std, ddof=1
    assert r.median == np.median(values)
    assert r.p90 == np.percentile(values, 90)                          # numpy's default "linear"
    assert r.p99 == np.percentile(values, 99)
    assert r.min == values.min() and r.max == values.max()
    for q in (0, 25, 50, 75, 95, 100):
        assert r.percentile(q) == np.percentile(values, q)


@pytest.mark.parametrize("name", SAMPLES)
def test_confidence_interval_is_mean_plus_minus_t_se(name):
    values = np.asarray(SAMPLES[name], dtype=np.float64)
    r = BenchmarkResult("x", values)
    n = values.size
    half = t_quantile(0.975, n - 1) * np.std(values, ddof=1) / math.sqrt(n)
    lo, hi = r.ci_95
    assert lo == pytest.approx(values.mean() - half, rel=1e-12, abs=1e-12)
    assert hi == pytest.approx(values.mean() + half, rel=1e-12, abs=1e-12)
    lo99, hi99 = r.confidence_interval(0.99)
    assert lo99 < lo and hi99 > hi


def test_confidence_interval_of_two_values_uses_twelve_point_seven():
    lo, hi = BenchmarkResult("x", [1.0, 3.0]).ci_95
    # mean 2, std sqrt(2), se 1, t(0.975, 1) = 12.7062
    assert (lo, hi) == pytest.approx((2 - 12.706204736174694, 2 + 12.706204736174694))


def test_single_value_has_no_interval_and_zero_std():
    r = BenchmarkResult("accuracy", [0.97])
    assert r.n == 1 and r.std == 0.0 and r.ci_95 is None
    assert r.median == r.p90 == r.p99 == r.min == r.max == 0.97


@pytest.mark.parametrize("values, error", [
    ([], ValueError),
    ([[1.0, 2.0]], ValueError),
    ([1.0, float("nan")], ValueError),
    ([1.0, float("inf")], ValueError),
    (["a", "b"], TypeError),
])
def test_bad_values_are_rejected(values, error):
    with pytest.raises(error):
        BenchmarkResult("x", values)


def test_bad_name_metadata_and_levels_are_rejected():
    with pytest.raises(TypeError):
        BenchmarkResult("", [1.0])
    with pytest.raises(TypeError):
        BenchmarkResult("x", [1.0], metadata=[1, 2])
    r = BenchmarkResult("x", [1.0, 2.0])
    with pytest.raises(ValueError):
        r.confidence_interval(1.0)
    with pytest.raises(ValueError):
        r.percentile(101)


def test_values_are_a_read_only_copy():
    data = np.array([1.0, 2.0, 3.0])
    r = BenchmarkResult("x", data)
    data[0] = 100.0
    assert r.values[0] == 1.0
    with pytest.raises(ValueError):
        r.values[0] = 5.0


def test_to_dict_round_trip_through_json():
    r = BenchmarkResult("latency_ms", [1.0, 2.0, 4.0], {"model": "mlp", "warmup": 3})
    d = json.loads(json.dumps(r.to_dict()))
    assert d["median"] == 2.0 and d["std_ddof"] == 1 and d["values"] == [1.0, 2.0, 4.0]
    assert BenchmarkResult.from_dict(d) == r
    assert "values" not in r.to_dict(include_values=False)
    assert "median 2" in r.summary()


def test_statistics_property_against_numpy():
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    @hypothesis.settings(max_examples=200, deadline=None)
    @hypothesis.given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=60))
    def check(values):
        arr = np.asarray(values)
        r = BenchmarkResult("x", arr)
        assert r.median == np.median(arr)
        assert r.p90 == np.percentile(arr, 90) and r.p99 == np.percentile(arr, 99)
        assert r.std == pytest.approx(np.std(arr, ddof=1), rel=1e-9, abs=1e-6)
        lo, hi = r.ci_95
        assert lo <= r.mean <= hi

    check()
