"""small-winograd and its lowering in small-tile: Winograd F(2x2, 3x3) and F(4x4, 3x3) against the direct conv."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from xdsl.dialects.builtin import IntegerAttr, i64
from xdsl.utils.exceptions import PassFailedException, VerifyException

import small_ir
from small_ir import winograd
from small_ir.builder import NetworkBuilder
from small_ir.compiler import run_pipeline
from small_ir.dialects import small
from small_ir.strategies import winograd_convs
from small_ir.testing import (
    assert_close,
    assert_pipeline_preserves_semantics,
    interpret,
    planned_winograd_tile,
    target_params,
    winograd_tile_in_c,
)

HOST_TARGETS = target_params()


def apply_program(matrix: np.ndarray, data: np.ndarray) -> np.ndarray:
    """matrix @ data as small-tile computes it: the matrix's `Program` on each column of data."""
    return np.array([winograd.program(matrix).evaluate(column) for column in data.T]).T


@pytest.mark.parametrize("transform", [winograd.F2, winograd.F4], ids=["F2", "F4"])
def test_transforms_compute_an_m_by_m_tile_of_a_3x3_conv(transform: winograd.Transform):
    rng = np.random.default_rng(0)
    m, window = transform.tile, transform.window
    d, g = rng.standard_normal((window, window)), rng.standard_normal((3, 3))
    direct = np.array([[np.sum(d[r : r + 3, c : c + 3] * g) for c in range(m)] for r in range(m)])
    u = transform.transform_filters(g.reshape(1, 1, 3, 3, 1, 1)).reshape(window, window)
    v = apply_program(transform.b_t, apply_program(transform.b_t, d).T).T  # T = B^T d, then V = T B
    np.testing.assert_allclose(v, transform.b_t @ d @ transform.b_t.T, rtol=1e-6, atol=1e-6)
    y = apply_program(transform.a_t, apply_program(transform.a_t, u * v).T).T
    np.testing.assert_allclose(y, direct, rtol=1e-4, atol=1e-4)


def test_a_stride_2_tile_is_the_sum_over_the_phases_of_the_input():
    """F(4x4, 2x2) on the pixels (2i + p, 2j + q) with the taps (2a + p, 2b + q): a 4x4 tile of a stride-2 3x3 conv."""
    transform, rng = winograd.F4_STRIDE2, np.random.default_rng(1)
    d, g = rng.standard_normal((10, 10)), rng.standard_normal((3, 3))
    direct = np.array([[np.sum(d[2 * r : 2 * r + 3, 2 * c : 2 * c + 3] * g) for c in range(4)] for r in range(4)])
    u = transform.transform_filters(g.reshape(1, 1, 3, 3, 1, 1)).reshape(5, 5, 4)  # positions x phases
    m = np.zeros((5, 5))
    for phase, (p, q) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        window = d[p::2, q::2][:5, :5]
        m += u[:, :, phase] * apply_program(transform.b_t, apply_program(transform.b_t, window).T).T
    y = apply_program(transform.a_t, apply_program(transform.a_t, m).T).T
    np.testing.assert_allclose(y, direct, rtol=1e-4, atol=1e-4)


def operations(program: winograd.Program) -> int:
    """Adds, subtracts and FMAs (and a multiply for a sum without a +1 term)."""
    return sum(len(terms) - (terms[0][0] == 1) for terms in program.sums)


@pytest.mark.parametrize(
    ("matrix", "count"),
    [
        (winograd.F2.b_t, 4),
        (winograd.F2.a_t, 4),
        (winograd.F4.b_t, 12),
        (winograd.F4.a_t, 10),
        (winograd.F4_STRIDE2.b_t, 11),
        (winograd.F4_STRIDE2.a_t, 8),
    ],
    ids=["F2 B^T", "F2 A^T", "F4 B^T", "F4 A^T", "F4 stride 2 B^T", "F4 stride 2 A^T"],
)
def test_programs_share_sums_between_rows(matrix: np.ndarray, count: int):
    program = winograd.program(matrix)
    assert operations(program) == count
    assert all(terms[0][0] == 1 for terms in program.sums)
    assert all(value < program.inputs + index for index, terms in enumerate(program.sums) for _, value in terms)


def test_f4_input_transform_pairs_the_points_plus_and_minus_2():
    program = winograd.program(winograd.F4.b_t)
    e, o = [program.inputs + program.sums.index(terms) for terms in (((1.0, 4), (-1.0, 2)), ((1.0, 3), (-1.0, 1)))]
    assert program.sums[program.outputs[3] - program.inputs] == ((1.0, e), (2.0, o))
    assert program.sums[program.outputs[4] - program.inputs] == ((1.0, e), (-2.0, o))


@pytest.mark.parametrize("seed", range(5))
def test_a_program_computes_its_matrix_and_what_some_rows_need(seed: int):
    rng = np.random.default_rng(seed)
    matrix = rng.choice([-4.0, -2.0, -1.0, 0.0, 0.0, 1.0, 2.0, 4.0], size=(6, 6))
    matrix[1], matrix[2, ::2], matrix[2, 1::2] = matrix[0], matrix[0, ::2], -matrix[0, 1::2]
    matrix[:, 5] = -matrix[:, 4]
    program, x = winograd.program(matrix), rng.standard_normal(6)
    np.testing.assert_allclose(program.evaluate(x), matrix @ x, rtol=1e-12, atol=1e-12)
    one_row_at_a_time = sum(np.count_nonzero(row) - (1 in row) for row in matrix)
    assert operations(program) < one_row_at_a_time
    for row in range(6):  # the values a row needs are enough to compute it
        values: dict[int, float] = {}
        for value in sorted(program.needed([row])):
            values[value] = x[value] if value < 6 else sum(c * values[v] for c, v in program.sums[value - 6])
        assert values[program.outputs[row]] == pytest.approx((matrix @ x)[row], abs=1e-12)


def check_forced_winograd(target: str, conv, sanitized: bool = False) -> None:
    """The conv compiled with Winograd wherever it applies: the tile the pass chose, and the interpreter's outputs."""
    (expected,) = interpret(conv.module, conv.inputs)
    compiled = small_ir.compile(conv.module, target=target, winograd_min_channels=1, winograd_max_stride=2)
    assert winograd_tile_in_c(compiled) == planned_winograd_tile(conv.module, target)
    (output,) = (compiled.run_sanitized if sanitized else compiled.run)(*conv.inputs)
    assert_close(output, expected)


@pytest.mark.parametrize("target", HOST_TARGETS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv=winograd_convs())
def test_winograd_matches_the_interpreter(target: str, conv):
    check_forced_winograd(target, conv)


@pytest.mark.parametrize("target", HOST_TARGETS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv=winograd_convs(max_channels=12, max_size=10))
def test_winograd_under_sanitizers(target: str, conv):
    check_forced_winograd(target, conv, sanitized=True)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv=winograd_convs(max_channels=6, max_size=7))
def test_every_pass_preserves_semantics_in_the_interpreter(conv):
    module, inputs = conv.module, conv.inputs
    pipeline = small_ir.pipeline_spec("scalar", c_ob=4, w_ob=2, winograd_min_channels=1, winograd_max_stride=2)
    assert "small-winograd{min_channels=1 max_stride=2}" in pipeline
    assert_pipeline_preserves_semantics(module, pipeline, inputs)


def blocked_conv(module, min_channels: int = 16, options: str = "") -> small.LayerOp:
    """The module's one conv after small-layout{c_ob=4 w_ob=2} and small-winograd{min_channels=... options}."""
    run_pipeline(
        module,
        f"nn-to-small,small-fuse,small-layout{{c_ob=4 w_ob=2}},small-winograd{{min_channels={min_channels} {options}}}",
    )
    (conv,) = [op for op in module.walk() if isinstance(op, small.LayerOp) and op.kind.data == "conv"]
    return conv


def marked_tile(size: int, options: str, strides: tuple[int, int] = (1, 1)) -> int | None:
    """The `winograd` tile of a padded 16 -> 16 conv on a size x size image (None: direct), with max_stride=2."""
    net = NetworkBuilder("net", (1, 16, size, size))
    module = net.build(net.conv2d(net.input, np.ones((16, 16, 3, 3), np.float32), pads=(1, 1, 1, 1), strides=strides))
    conv = blocked_conv(module, options=f"max_stride=2 {options}")
    return conv.winograd.value.data if conv.winograd is not None else None


def conv_module(c_in: int, c_out: int, **conv):
    net = NetworkBuilder("net", (1, c_in, 8, 8))
    return net.build(net.conv2d(net.input, np.ones((c_out, c_in, *conv.pop("kernel", (3, 3))), np.float32), **conv))


@pytest.mark.parametrize(
    ("channels", "conv", "marked"),
    [
        ((16, 16), {"pads": (1, 1, 1, 1)}, True),
        ((16, 8), {}, False),  # too few output channels
        ((8, 16), {}, False),  # too few input channels
        ((16, 16), {"strides": (2, 2), "pads": (1, 1, 1, 1)}, False),  # one 4x4 output tile
        ((16, 16), {"strides": (2, 3)}, False),
        ((16, 16), {"dilations": (2, 2)}, False),
        ((16, 16), {"kernel": (5, 5)}, False),
    ],
)
def test_the_pass_marks_only_layers_it_can_compute(channels: tuple[int, int], conv: dict, marked: bool):
    layer = blocked_conv(conv_module(*channels, **conv))
    assert (layer.winograd is not None) == marked


def test_a_narrow_input_conv_stays_direct_even_with_min_channels_1():
    layer = blocked_conv(conv_module(3, 16), 1)
    assert layer.input_block == 3 and layer.winograd is None


def test_winograd_on_a_layer_it_cannot_compute_does_not_verify():
    layer = blocked_conv(conv_module(16, 16, strides=(3, 3)))
    layer.winograd = IntegerAttr(2, i64)
    with pytest.raises(VerifyException, match="winograd needs a blocked stride-1 or stride-2 3x3 conv"):
        layer.verify()


def test_a_stride_2_conv_takes_only_4x4_tiles():
    layer = blocked_conv(conv_module(16, 16, strides=(2, 2)))
    layer.winograd = IntegerAttr(2, i64)
    with pytest.raises(VerifyException, match="one of 4 at this stride"):
        layer.verify()


def test_a_winograd_tile_other_than_2_or_4_does_not_verify():
    layer = blocked_conv(conv_module(16, 16))
    layer.winograd = IntegerAttr(3, i64)
    with pytest.raises(VerifyException, match="winograd is the output tile size m of F"):
        layer.verify()


@pytest.mark.parametrize(
    ("size", "options", "tile"),
    [
        (8, "", 4),  # 2x2 tiles of 4x4: min_tiles=4 of them
        (7, "", 4),  # 2x2 tiles, the last ones cut off by the border: 4 x 36 multiplications against 16 x 16
        (5, "", 2),  # 4 x 36 against 9 x 16 multiplications: a tie goes to the smaller tile
        (4, "", 2),  # one 4x4 tile is not enough
        (8, "max_tile=2", 2),
        (8, "min_tiles=5", 2),
        (4, "min_tiles=1", 4),  # 1 x 36 against 4 x 16 multiplications
        (12, "min_tiles=9", 4),
        (12, "min_tiles=10", 2),
    ],
)
def test_the_pass_takes_4x4_tiles_when_there_are_enough_of_them(size: int, options: str, tile: int):
    assert marked_tile(size, options) == tile


@pytest.mark.parametrize(
    ("size", "options", "tile"),
    [
        (16, "", 4),  # 8x8 outputs: 2x2 tiles of 4x4
        (15, "", 4),  # 8x8 outputs from a 15x15 image
        (8, "", None),  # one 4x4 tile: a direct conv
        (8, "min_tiles=1", 4),
        (16, "min_tiles=5", None),
    ],
)
def test_the_pass_takes_stride_2_convs_with_enough_4x4_tiles(size: int, options: str, tile: int | None):
    assert marked_tile(size, options, strides=(2, 2)) == tile


def test_max_tile_other_than_2_or_4_is_a_clear_error():
    with pytest.raises(PassFailedException, match="max_tile must be one of 2, 4, got 3"):
        blocked_conv(conv_module(16, 16), options="max_tile=3")


def test_stride_2_convs_take_winograd_only_with_max_stride_2():
    assert marked_tile(8, "min_tiles=1", strides=(2, 2)) == 4
    assert blocked_conv(conv_module(16, 16, strides=(2, 2), pads=(1, 1, 1, 1)), options="min_tiles=1").winograd is None
    with pytest.raises(PassFailedException, match="max_stride must be 1 or 2, got 3"):
        blocked_conv(conv_module(16, 16), options="max_stride=3")


def test_min_tiles_below_1_is_a_clear_error():
    with pytest.raises(PassFailedException, match="min_tiles must be >= 1, got 0"):
        blocked_conv(conv_module(16, 16), options="min_tiles=0")


def test_min_channels_below_1_is_a_clear_error():
    with pytest.raises(PassFailedException, match="min_channels must be >= 1"):
        blocked_conv(conv_module(16, 16), 0)


def check_residual_winograd(target: str, in_hw: tuple[int, int], out_hw: tuple[int, int], pads, strides, seed: int) -> None:
    """A 12 -> 20 channel 3x3 conv with a bias, a residual add and relu, through Winograd F(4x4) under the sanitizers."""
    rng = np.random.default_rng(seed)
    in_shape, out_shape = (1, 12, *in_hw), (1, 20, *out_hw)
    net = NetworkBuilder("net", in_shape, out_shape)
    weight, bias = rng.uniform(-1, 1, (20, 12, 3, 3)).astype(np.float32), rng.uniform(-1, 1, 20).astype(np.float32)
    # through a relu: a network input read by convs only would be one exact block of 12 instead
    y = net.conv2d(net.relu(net.inputs[0]), weight, bias, pads=pads, strides=strides)
    module = net.build(net.relu(net.add(y, net.inputs[1])))
    inputs = [rng.uniform(-1, 1, shape).astype(np.float32) for shape in (in_shape, out_shape)]
    (expected,) = interpret(module, inputs)
    compiled = small_ir.compile(module, target=target, winograd_min_channels=1, winograd_max_stride=2)
    assert winograd_tile_in_c(compiled) == 4
    (output,) = compiled.run_sanitized(*inputs)
    assert_close(output, expected)


@pytest.mark.parametrize("target", HOST_TARGETS)
def test_4x4_tiles_under_sanitizers(target: str):
    """
    F(4x4, 3x3): a 30x13 image with asymmetric padding, so that the output's
    8 x 4 tiles run in several strips and the border cuts the last row and
    column of tiles off; 12 -> 20 channels pad the blocks.
    """
    check_residual_winograd(target, (30, 13), (31, 13), pads=(1, 1, 2, 1), strides=(1, 1), seed=4)


@pytest.mark.parametrize("target", HOST_TARGETS)
def test_stride_2_under_sanitizers(target: str):
    """
    F(4x4, 2x2) on the phases of a stride-2 conv: a 33x22 image with
    asymmetric padding gives 17 x 11 outputs, so several strips, and tiles
    cut off by the border; the last phase's window reaches one row and column
    past what the conv reads.
    """
    check_residual_winograd(target, (33, 22), (17, 11), pads=(1, 0, 1, 1), strides=(2, 2), seed=5)
