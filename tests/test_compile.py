"""End to end: the emitted C for every host target agrees with the reference."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import small_ir
from small_ir.builder import NetworkBuilder
from small_ir.compiler import target_spec
from small_ir.strategies import LayerCase, layer_cases, network_chains
from small_ir.testing import (
    assert_close,
    assert_pipeline_preserves_semantics,
    expressible_layer_module,
    interpret,
    target_params,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
import tiny_cnn  # noqa: E402

HOST_TARGETS = target_params()
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("target", HOST_TARGETS)
@SETTINGS
@given(case=layer_cases(max_channels=40, max_size=14, max_filter=5))
def test_single_layer_c_matches_reference(target: str, case: LayerCase):
    module = expressible_layer_module(case)
    inputs = case.random_inputs(np.random.default_rng(0))
    (output,) = small_ir.compile(module, target=target).run(*inputs)
    assert_close(output, case.reference(*inputs))


@pytest.mark.parametrize("target", HOST_TARGETS)
@settings(max_examples=8, deadline=None)
@given(case=layer_cases(max_channels=20, max_size=9, max_filter=5))
def test_single_layer_under_sanitizers(target: str, case: LayerCase):
    """-Wall -Wextra -Werror, AddressSanitizer and UBSan on random layers: odd sizes probe the border tiles."""
    module = expressible_layer_module(case)
    inputs = case.random_inputs(np.random.default_rng(0))
    (output,) = small_ir.compile(module, target=target).run_sanitized(*inputs)
    assert_close(output, case.reference(*inputs))


@pytest.mark.parametrize("target", HOST_TARGETS)
@settings(max_examples=10, deadline=None)
@given(case=layer_cases(max_channels=20, max_size=9, max_filter=3))
def test_nhwc_io_layout(target: str, case: LayerCase):
    """io_layout=nhwc: 4-D inputs and outputs are 1xHxWxC at the C boundary, the same computation inside."""
    module = expressible_layer_module(case)
    inputs = case.random_inputs(np.random.default_rng(0))
    compiled = small_ir.compile(module, target=target, io_layout="nhwc")
    to_nhwc = lambda x: x.transpose(0, 2, 3, 1) if x.ndim == 4 else x  # noqa: E731
    (output,) = compiled.run(*[to_nhwc(x) for x in inputs])
    assert_close(output, to_nhwc(case.reference(*inputs)))


@pytest.mark.parametrize("target", HOST_TARGETS)
def test_an_nhwc_image_is_read_in_place(target: str):
    """
    A TFLite-style NHWC image of 3 channels is, as it is, one block of 3: the
    first conv reads the model's input (still const) instead of a copy, and
    16 channels out are one block of 16 where C_ob is 16 (no arena at all).
    """
    rng = np.random.default_rng(5)
    net = NetworkBuilder("net", (1, 3, 9, 11))
    weight = rng.uniform(-1, 1, (16, 3, 3, 3)).astype(np.float32)
    module = net.build(net.relu(net.conv2d(net.input, weight, pads=(1, 1, 1, 1), strides=(2, 2))))
    image = rng.uniform(-1, 1, (1, 3, 9, 11)).astype(np.float32)
    (expected,) = interpret(module, [image])
    compiled = small_ir.compile(module, target=target, name="net", io_layout="nhwc")
    (output,) = compiled.run_sanitized(image.transpose(0, 2, 3, 1))
    assert_close(output, expected.transpose(0, 2, 3, 1))
    assert "void net_run(const float *restrict" in compiled.c_source
    output_bytes = 5 * 6 * 16 * 4
    assert compiled.arena_bytes == (0 if target_spec(target).c_ob == 16 else output_bytes)


@pytest.mark.parametrize("target", HOST_TARGETS)
@settings(max_examples=15, deadline=None)
@given(chain=network_chains())
def test_chains_match_interpreter_and_reference(target: str, chain):
    module, image = chain
    (expected,) = interpret(module, [image])
    (output,) = small_ir.compile(module, target=target).run(image)
    assert_close(output, expected)


@pytest.mark.parametrize("target", HOST_TARGETS)
def test_tiny_cnn_under_sanitizers(target: str):
    """-Wall -Wextra -Werror and -fsanitize=address,undefined, on the whole bundled network."""
    module, reference = tiny_cnn.build()
    image = np.random.default_rng(3).standard_normal(tiny_cnn.INPUT_SHAPE).astype(np.float32)
    compiled = small_ir.compile(module, target=target)
    (output,) = compiled.run_sanitized(image)
    assert_close(output, reference(image))
    assert "malloc" not in compiled.c_source


@settings(max_examples=15, deadline=None)
@given(case=layer_cases(max_channels=5, max_size=6, max_filter=3))
def test_every_pass_preserves_semantics_in_the_interpreter(case: LayerCase):
    """The whole pipeline down to scalar kernels, interpreted after each pass (tiny blocking: c_ob=4, w_ob=2)."""
    module = expressible_layer_module(case)
    inputs = case.random_inputs(np.random.default_rng(0))
    pipeline = small_ir.pipeline_spec("scalar", c_ob=4, w_ob=2)
    assert_pipeline_preserves_semantics(module, pipeline, inputs, [case.reference(*inputs)])


def test_compile_reports_arena_and_macs():
    module, _ = tiny_cnn.build()
    compiled = small_ir.compile(module, target="scalar", name="net", winograd_min_channels=0)
    assert compiled.macs == 1_324_272
    assert 0 < compiled.arena_bytes <= 2 * 16 * 16 * 16 * 4 * 2  # direct convs: a few activations of at most 16x16x16
    with_winograd = small_ir.compile(module, target="scalar", name="net")
    assert with_winograd.macs == compiled.macs  # the network's MACs, however they are computed
    assert with_winograd.arena_bytes > compiled.arena_bytes  # the Winograd buffers live in the arena too
    assert "void net_run(const float *input0, float *output0);" in compiled.header
    assert "#define NET_ARENA_BYTES" in compiled.header
