"""Discrete tokenizer: exact round trip, row-major order, no silent wraps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp

from gato.tokenizers import discrete

ints = hnp.arrays(
    hnp.integer_dtypes(endianness="=") | hnp.unsigned_integer_dtypes(endianness="="),
    hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
    elements={"min_value": 0, "max_value": 127},
)


@settings(max_examples=100, deadline=None)
@given(ints)
def test_exact_round_trip(x):
    ids = discrete.tokenize(x)
    assert ids.dtype == np.int32 and ids.shape == (x.size,)
    np.testing.assert_array_equal(discrete.detokenize(ids, x.shape), x)


def test_row_major_and_full_range():
    x = np.array([[0, 1023], [7, 8]], dtype=np.int64)
    assert discrete.tokenize(x).tolist() == [0, 1023, 7, 8]
    assert discrete.tokenize(np.array([True, False])).tolist() == [1, 0]


@pytest.mark.parametrize("value", [-1, 1024, 70000])
def test_out_of_range_raises_naming_key(value):
    with pytest.raises(ValueError, match=f"'buttons'.*{value}"):
        discrete.tokenize(np.array([0, value]), key="buttons")


def test_float_dtype_raises_naming_key():
    with pytest.raises(ValueError, match="'ram'.*integer dtype"):
        discrete.tokenize(np.array([1.0]), key="ram")


def test_detokenize_checks_ids_and_shape():
    with pytest.raises(ValueError, match="must be in"):
        discrete.detokenize(np.array([2000]), (1,))
    with pytest.raises(ValueError, match="reshaped"):
        discrete.detokenize(np.array([1, 2, 3]), (2, 2))


def test_cells_combine_components_in_mixed_radix():
    """BabyAI's cells (object, colour, state; radix 11, 6, 3) as one id each; bad input named."""
    view = np.array([[[2, 5, 0], [6, 0, 0]], [[4, 1, 2], [10, 5, 2]]], np.uint8)
    assert discrete.cells(view, (11, 6, 3)).tolist() == [[57, 6], [4 + 11 + 132, 197]]
    with pytest.raises(ValueError, match="'image'.*component value 6"):
        discrete.cells(np.array([[1, 6, 0]]), (11, 6, 3), key="image")
    with pytest.raises(ValueError, match="'image'.*last axis of 3"):
        discrete.cells(np.zeros((7, 7)), (11, 6, 3), key="image")
