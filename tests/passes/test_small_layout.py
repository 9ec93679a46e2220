"""small-layout's narrow blocks: activations of few channels blocked by narrow_block instead of c_ob (see small-layout-narrow.mlir)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from xdsl.utils.exceptions import PassFailedException

import small_ir
from small_ir.builder import NetworkBuilder
from small_ir.compiler import run_pipeline
from small_ir.dialects import small
from small_ir.strategies import layer_cases, network_chains
from small_ir.testing import (
    assert_close,
    assert_pipeline_preserves_semantics,
    expressible_layer_module,
    interpret,
    target_params,
)

NARROW_SCALAR = (
    "nn-to-small,small-fuse,small-layout{c_ob=8 w_ob=2 narrow_block=4 narrow_w_ob=3},small-winograd{min_channels=1},small-tile{split_k=4},"
    "small-lower-nontiled,plan-memory,lower-kernel-to-scalar"
)


def separable_block(channels: int, expanded: int):
    """conv 3x3 -> depthwise 3x3 -> pointwise: MobileNet's first layers, at `channels` wide."""
    rng = np.random.default_rng(channels)
    w = lambda *shape: rng.uniform(-1, 1, shape).astype(np.float32)  # noqa: E731
    net = NetworkBuilder("separable", (1, 3, 11, 10))
    x = net.relu(net.conv2d(net.input, w(channels, 3, 3, 3), w(channels), strides=(2, 2), pads=(1, 1, 1, 1)))
    x = net.relu(net.conv2d(x, w(channels, 1, 3, 3), w(channels), pads=(1, 1, 1, 1), group=channels))
    x = net.relu(net.conv2d(x, w(expanded, channels, 1, 1), w(expanded)))
    return net.build(x), rng.uniform(-1, 1, (1, 3, 11, 10)).astype(np.float32)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=layer_cases(max_channels=10, max_size=6, max_filter=3))
def test_every_pass_preserves_semantics_with_narrow_blocks(case):
    module = expressible_layer_module(case)
    inputs = case.random_inputs(np.random.default_rng(0))
    assert_pipeline_preserves_semantics(module, NARROW_SCALAR, inputs, [case.reference(*inputs)])


# Up to 12 channels (narrow, one and two blocks of c_ob = 8) and 8 pixels: the interpreter runs every pass's IR.
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chain=network_chains(max_channels=12, max_size=8))
def test_chains_preserve_semantics_with_narrow_blocks(chain):
    module, image = chain
    assert_pipeline_preserves_semantics(module, NARROW_SCALAR, [image])


def test_narrow_activations_take_the_narrow_block_and_tile_width():
    module, _ = separable_block(channels=4, expanded=12)
    run_pipeline(module, "nn-to-small,small-fuse,small-layout{c_ob=8 w_ob=2 narrow_block=4 narrow_w_ob=5}")
    layers = [op for op in module.walk() if isinstance(op, small.LayerOp)]
    assert [(op.kind.data, op.block, op.w_ob.value.data, op.input_block) for op in layers] == [
        ("conv", 4, 5, 3),  # the 3-channel network input: one exact block
        ("dwconv", 4, 5, 4),
        ("conv", 8, 2, 4),
    ]


def test_no_narrow_block_at_or_above_c_ob():
    module, _ = separable_block(channels=4, expanded=12)
    run_pipeline(module, "nn-to-small,small-fuse,small-layout{c_ob=4 w_ob=2 narrow_block=4 narrow_w_ob=5}")
    assert {(op.block, op.w_ob.value.data) for op in module.walk() if isinstance(op, small.LayerOp)} == {(4, 2)}


@pytest.mark.parametrize("target", target_params(only=["avx512"]))
def test_avx512_runs_8_lane_tiles_as_avx2(target: str):
    module, image = separable_block(channels=8, expanded=24)
    (expected,) = interpret(module, [image])
    compiled = small_ir.compile(module, target=target)
    assert "__m256 " in compiled.c_source and "__m512 " in compiled.c_source
    (output,) = compiled.run_sanitized(image)
    assert_close(output, expected)


def test_negative_narrow_block_is_an_error():
    module, _ = separable_block(channels=4, expanded=12)
    with pytest.raises(PassFailedException, match="narrow_block and narrow_w_ob must be >= 0"):
        run_pipeline(module, "nn-to-small,small-fuse,small-layout{c_ob=8 w_ob=2 narrow_block=-1}")
