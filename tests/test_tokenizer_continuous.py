"""Continuous tokenizer: mu-law, bins, round-trip bounds, monotonicity, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gato.tokenizers import continuous
from gato.tokenizers.vocab import CONTINUOUS_BINS, CONTINUOUS_OFFSET

HALF_BIN = 1.0 / CONTINUOUS_BINS
floats = st.floats(-1.0, 1.0, allow_nan=False, width=64)
observations = st.floats(-continuous.M, continuous.M, allow_nan=False, width=64)


def test_mu_law_endpoints_and_inverse():
    x = np.array([-256.0, -1.0, 0.0, 0.5, 256.0])
    np.testing.assert_allclose(continuous.mu_law(x)[[0, 2, 4]], [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(continuous.inverse_mu_law(continuous.mu_law(x)), x, atol=1e-9)


def test_bins_cover_range_and_offset():
    ids = continuous.tokenize(np.array([-1.0, -1.0 + 2.0 / 1024, 0.0, 1.0]), mu_law=False)
    assert ids.dtype == np.int32
    assert ids.tolist() == [CONTINUOUS_OFFSET, CONTINUOUS_OFFSET + 1, CONTINUOUS_OFFSET + 512,
                            CONTINUOUS_OFFSET + CONTINUOUS_BINS - 1]


def test_values_beyond_range_are_clipped():
    ids = continuous.tokenize(np.array([-5.0, 5.0, -1e6, 1e6]), mu_law=False)
    assert ids.tolist() == [32000, 33023, 32000, 33023]
    assert continuous.tokenize(np.array([1e9, -1e9])).tolist() == [33023, 32000]


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4), elements=floats))
def test_direct_round_trip_within_half_bin(x):
    ids = continuous.tokenize(x, mu_law=False)
    assert ((ids >= 32000) & (ids < 33024)).all()
    back = continuous.detokenize(ids, x.shape, mu_law=False)
    assert back.shape == x.shape and back.dtype == np.float32
    assert np.all(np.abs(back - x) <= HALF_BIN + 1e-6)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 8), elements=observations))
def test_mu_law_round_trip_within_inverse_of_bin(x):
    back = continuous.detokenize(continuous.tokenize(x), x.shape).astype(np.float64)
    y = continuous.mu_law(x)
    lo = continuous.inverse_mu_law(np.clip(y - 2 * HALF_BIN, -1, 1))
    hi = continuous.inverse_mu_law(np.clip(y + 2 * HALF_BIN, -1, 1))
    tol = 1e-5 * (1 + np.abs(x))  # float32 output
    assert np.all((back >= lo - tol) & (back <= hi + tol))


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, st.integers(2, 32), elements=observations), st.booleans())
def test_bins_are_monotonic(x, mu_law):
    x = np.sort(x) if mu_law else np.sort(np.clip(x, -1, 1))
    ids = continuous.tokenize(x, mu_law=mu_law)
    assert np.all(np.diff(ids) >= 0)


def test_row_major_order():
    x = np.array([[0.0, 0.5], [-0.5, 1.0]])
    ids = continuous.tokenize(x, mu_law=False)
    np.testing.assert_array_equal(ids, continuous.tokenize(x.reshape(-1), mu_law=False))
    assert ids[1] > ids[0] > ids[2]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_raise_naming_key(bad):
    with pytest.raises(ValueError, match="'walker/height'.*NaN or inf"):
        continuous.tokenize(np.array([0.0, bad]), key="walker/height")


def test_bad_dtype_and_ids_raise():
    with pytest.raises(ValueError, match="'torque'.*dtype"):
        continuous.tokenize(np.array(["a"]), key="torque")
    with pytest.raises(ValueError, match="must be in"):
        continuous.detokenize(np.array([5]), (1,))
    with pytest.raises(ValueError, match="reshaped"):
        continuous.detokenize(np.array([32000, 32001]), (3,))
