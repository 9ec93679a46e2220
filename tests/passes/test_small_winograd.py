"""small-winograd and its lowering in small-tile: Winograd F(2x2, 3x3) against the direct conv."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from xdsl.dialects.builtin import UnitAttr
from xdsl.utils.exceptions import PassFailedException, VerifyException

import small_ir
from small_ir import winograd
from small_ir.backends import targets
from small_ir.builder import NetworkBuilder
from small_ir.compiler import run_pipeline
from small_ir.dialects import small
from small_ir.strategies import winograd_convs
from small_ir.testing import assert_close, assert_pipeline_preserves_semantics, interpret, target_params

HOST_TARGETS = target_params()


def test_transforms_compute_a_2x2_tile_of_a_3x3_conv():
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    direct = np.array([[np.sum(d[r : r + 3, c : c + 3] * g) for c in range(2)] for r in range(2)])
    u = winograd.transform_filters(g.reshape(1, 1, 3, 3, 1, 1)).reshape(4, 4)
    v = np.array([[sum(sign * d[a, b] for sign, a, b in winograd.input_terms(i, j)) for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(v, winograd.B_T @ d @ winograd.B_T.T, rtol=1e-6)
    m = u * v
    y = np.array([[sum(sign * m[i, j] for sign, i, j in winograd.output_terms(r, c)) for c in range(2)] for r in range(2)])
    np.testing.assert_allclose(y, direct, rtol=1e-5, atol=1e-5)


def test_terms_start_with_a_positive_one():
    assert winograd.input_terms(0, 0) == [(1.0, 0, 0), (1.0, 2, 2), (-1.0, 0, 2), (-1.0, 2, 0)]
    assert all(terms[0][0] > 0 for terms in (winograd.output_terms(r, c) for r in range(2) for c in range(2)))


def ran_as_winograd(compiled) -> bool:
    return "wino0" in compiled.c_source  # the transformed filters


def takes_winograd(target: str, in_channels: int, out_channels: int) -> bool:
    """Whether the conv's input and output have one channel block: both narrow (at most narrow_block channels) or neither."""
    narrow = targets()[target].narrow_block
    return (in_channels <= narrow) == (out_channels <= narrow)


@pytest.mark.parametrize("target", HOST_TARGETS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv=winograd_convs())
def test_winograd_matches_the_interpreter(target: str, conv):
    module, inputs = conv.module, conv.inputs
    (expected,) = interpret(module, inputs)
    compiled = small_ir.compile(module, target=target, winograd_min_channels=1)
    assert ran_as_winograd(compiled) == takes_winograd(target, inputs[0].shape[1], expected.shape[1])
    (output,) = compiled.run(*inputs)
    assert_close(output, expected)


@pytest.mark.parametrize("target", HOST_TARGETS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv=winograd_convs(max_channels=12, max_size=6))
def test_winograd_under_sanitizers(target: str, conv):
    module, inputs = conv.module, conv.inputs
    (expected,) = interpret(module, inputs)
    compiled = small_ir.compile(module, target=target, winograd_min_channels=1)
    assert ran_as_winograd(compiled) == takes_winograd(target, inputs[0].shape[1], expected.shape[1])
    (output,) = compiled.run_sanitized(*inputs)
    assert_close(output, expected)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv=winograd_convs(max_channels=6, max_size=7))
def test_every_pass_preserves_semantics_in_the_interpreter(conv):
    module, inputs = conv.module, conv.inputs
    pipeline = small_ir.pipeline_spec("scalar", c_ob=4, w_ob=2, winograd_min_channels=1)
    assert "small-winograd{min_channels=1}" in pipeline
    assert_pipeline_preserves_semantics(module, pipeline, inputs)


def blocked_layers(module, min_channels: int) -> list[small.LayerOp]:
    run_pipeline(module, f"nn-to-small,small-fuse,small-layout{{c_ob=4 w_ob=2}},small-winograd{{min_channels={min_channels}}}")
    return [op for op in module.walk() if isinstance(op, small.LayerOp)]


def conv_module(c_in: int, c_out: int, **conv):
    net = NetworkBuilder("net", (1, c_in, 8, 8))
    return net.build(net.conv2d(net.input, np.ones((c_out, c_in, *conv.pop("kernel", (3, 3))), np.float32), **conv))


@pytest.mark.parametrize(
    ("channels", "conv", "marked"),
    [
        ((16, 16), {"pads": (1, 1, 1, 1)}, True),
        ((16, 8), {}, False),  # too few output channels
        ((8, 16), {}, False),  # too few input channels
        ((16, 16), {"strides": (2, 2)}, False),
        ((16, 16), {"dilations": (2, 2)}, False),
        ((16, 16), {"kernel": (5, 5)}, False),
    ],
)
def test_the_pass_marks_only_layers_it_can_compute(channels: tuple[int, int], conv: dict, marked: bool):
    (layer,) = [op for op in blocked_layers(conv_module(*channels, **conv), 16) if op.kind.data == "conv"]
    assert (layer.winograd is not None) == marked


def test_a_narrow_input_conv_stays_direct_even_with_min_channels_1():
    (layer,) = [op for op in blocked_layers(conv_module(3, 16), 1) if op.kind.data == "conv"]
    assert layer.input_block == 3 and layer.winograd is None


def test_winograd_on_a_layer_it_cannot_compute_does_not_verify():
    (layer,) = [op for op in blocked_layers(conv_module(16, 16, strides=(2, 2)), 16) if op.kind.data == "conv"]
    layer.winograd = UnitAttr()
    with pytest.raises(VerifyException, match="winograd needs a blocked stride-1 3x3 conv"):
        layer.verify()


def test_min_channels_below_1_is_a_clear_error():
    with pytest.raises(PassFailedException, match="min_channels must be >= 1"):
        blocked_layers(conv_module(16, 16), 0)
