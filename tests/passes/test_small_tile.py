"""small-tile's tiles down the columns, which the random layers of test_compile rarely reach (see also small-tile-down.mlir)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import small_ir
from small_ir.compiler import target_spec
from small_ir.strategies import LayerCase, conv2d_cases, depthwise_cases, pool_cases
from small_ir.testing import single_layer_module, target_params

HOST_TARGETS = target_params()


def output_hw(case: LayerCase) -> tuple[int, int]:
    return case.reference(*[np.zeros(shape, np.float32) for shape in case.input_shapes]).shape[-2:]


def tall_and_narrow(w_ob: int) -> st.SearchStrategy[LayerCase]:
    """Window layers whose output is narrower than a tile and taller than one: small-tile runs their tiles down the columns."""
    limits = {"max_channels": 20, "max_size": 3 * w_ob + 4, "max_filter": 5}
    layers = st.one_of(conv2d_cases(**limits), depthwise_cases(**limits), pool_cases(**limits))
    return layers.filter(lambda case: output_hw(case)[1] < w_ob < output_hw(case)[0])


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(expected).max())))


@pytest.mark.parametrize("target", HOST_TARGETS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_tiles_down_the_columns_match_the_reference(target: str, data):
    case = data.draw(tall_and_narrow(target_spec(target).w_ob))
    inputs = case.random_inputs(np.random.default_rng(0))
    (output,) = small_ir.compile(single_layer_module(case), target=target).run(*inputs)
    assert_close(output, case.reference(*inputs))

