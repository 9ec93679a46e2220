"""small-tile's tiles down the columns, which the random layers of test_compile rarely reach (see also small-tile-down.mlir)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import small_ir
from small_ir.compiler import target_spec
from small_ir.passes.small_tile import balanced_runs, runs
from small_ir.strategies import LayerCase, conv2d_cases, depthwise_cases, pool_cases
from small_ir.testing import assert_close, interpret, single_layer_module, target_params

HOST_TARGETS = target_params()


def output_hw(case: LayerCase) -> tuple[int, int]:
    return case.reference(*[np.zeros(shape, np.float32) for shape in case.input_shapes]).shape[-2:]


def tall_and_narrow(w_ob: int) -> st.SearchStrategy[LayerCase]:
    """Window layers whose output is narrower than a tile and taller than one: small-tile runs their tiles down the columns."""
    limits = {"max_channels": 20, "max_size": 3 * w_ob + 4, "max_filter": 5}
    layers = st.one_of(conv2d_cases(**limits), depthwise_cases(**limits), pool_cases(**limits))
    return layers.filter(lambda case: output_hw(case)[1] < w_ob < output_hw(case)[0] and not flat(case))


def flat(case: LayerCase) -> bool:
    """1x1, stride 1, no padding: small-tile tiles it as one flat row instead."""
    window = case.params.get("kernel_shape") or case.params["weight"].shape[2:]
    return tuple(window) == (1, 1) and tuple(case.params["strides"]) == (1, 1) and not any(case.params["pads"])


@pytest.mark.parametrize("target", HOST_TARGETS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_tiles_down_the_columns_match_the_reference(target: str, data):
    case = data.draw(tall_and_narrow(target_spec(target).w_ob))
    inputs = case.random_inputs(np.random.default_rng(0))
    (output,) = small_ir.compile(single_layer_module(case), target=target).run(*inputs)
    assert_close(output, case.reference(*inputs))


@pytest.mark.parametrize("target", HOST_TARGETS)
def test_tiles_down_the_columns_store_the_epilogue_a_row_apart(target: str):
    """A residual add and relu fused into a tall, narrow conv: `other` is read with the tile's pixel stride too."""
    rng = np.random.default_rng(0)
    net = small_ir.NetworkBuilder("net", (1, 3, 40, 4), (1, 8, 40, 2))
    weight = rng.uniform(-1, 1, (8, 3, 3, 3)).astype(np.float32)
    y = net.relu(net.add(net.conv2d(net.inputs[0], weight, pads=(1, 0, 1, 0)), net.inputs[1]))
    module = net.build(y)
    inputs = [rng.uniform(-1, 1, shape).astype(np.float32) for shape in ((1, 3, 40, 4), (1, 8, 40, 2))]
    (expected,) = interpret(module, inputs)
    (output,) = small_ir.compile(module, target=target).run(*inputs)
    assert_close(output, expected)


class Unrolled:
    """A stand-in for LoopBuilder that runs the loops in Python."""

    def for_(self, lower: int, upper: int, body, step: int = 1) -> None:
        for i in range(lower, upper, step):
            body(i)

    add = staticmethod(lambda a, b: a + b)
    mul = staticmethod(lambda a, b: a * b)


@pytest.mark.parametrize(
    ("count", "width", "tiles"),
    [(10, 4, [4, 3, 3]), (16, 14, [8, 8]), (125, 14, [14] * 8 + [13]), (3, 4, [3]), (8, 4, [4, 4])],
)
def test_balanced_runs_cover_the_range_in_near_equal_tiles(count: int, width: int, tiles: list[int]):
    seen: list[tuple[int, int]] = []
    balanced_runs(count, width, lambda start, pixels: seen.append((start, pixels)), Unrolled())
    assert [pixels for _, pixels in seen] == tiles
    assert [start for start, _ in seen] == [sum(tiles[:i]) for i in range(len(tiles))]


def test_runs_group_equal_keys():
    assert runs(0, 7, lambda i: min(i, 2) if i < 5 else 9) == [(0, 1, 0), (1, 2, 1), (2, 5, 2), (5, 7, 9)]
