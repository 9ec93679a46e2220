"""The interpreter runs every IR level like the reference, and small_ir.testing catches broken passes.

Blocked layouts are packed here with explicit loops over the layout formulas,
independently of the interpreter's numpy reshapes; padding channels are filled
with large garbage so that any use of them shows.
"""

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, reject, settings
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.parser import Parser
from xdsl.passes import ModulePass
from xdsl.transforms.canonicalize import CanonicalizePass
from xdsl.utils.exceptions import VerifyException

from small_ir import reference
from small_ir.context import make_context
from small_ir.dialects import small
from small_ir.passes.nn_to_small import NNToSmall
from small_ir.strategies import LayerCase, layer_cases
from small_ir.testing import (
    assert_pipeline_preserves_semantics,
    expressible_layer_module,
    interpret,
    single_layer_module,
)

TINY = layer_cases(max_channels=5, max_size=6, max_filter=3)
EXAMPLES = settings(max_examples=25, deadline=None)
GARBAGE = 1e6
BLOCK = 4


def parse(text: str) -> ModuleOp:
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


def random(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


# region single layers, nn and nn-to-small


@EXAMPLES
@given(case=TINY)
def test_nn_layer_matches_reference(case: LayerCase):
    module = expressible_layer_module(case)
    inputs = case.random_inputs(np.random.default_rng(0))
    (output,) = interpret(module, inputs)
    np.testing.assert_allclose(output, case.reference(*inputs), rtol=1e-6, atol=1e-6)


@EXAMPLES
@given(case=TINY)
def test_nn_to_small_preserves_semantics(case: LayerCase):
    if case.op == "reshape" and len(case.params["shape"]) > 4:
        reject()  # small-ir supports 1xN, 1xAxB and 1xCxHxW tensors
    module = expressible_layer_module(case)
    text = str(module)
    inputs = case.random_inputs(np.random.default_rng(1))
    lowered = assert_pipeline_preserves_semantics(module, [NNToSmall()], inputs)
    assert str(module) == text
    assert any(op.dialect_name() == "small" for op in lowered.walk())


def test_single_layer_module_keeps_max_pool_dilations():
    params = {"kernel_shape": (1, 2), "strides": (1, 2), "pads": (0, 1, 0, 0), "dilations": (1, 2)}
    case = LayerCase("max_pool2d", ((1, 1, 1, 2),), params)
    inputs = [np.array([[[[1.0, -1.0]]]], np.float32)]
    np.testing.assert_allclose(interpret(single_layer_module(case), inputs)[0], case.reference(*inputs))


def test_reference_outputs_are_checked_before_any_pass():
    case = LayerCase("relu", ((1, 3),), {})
    inputs = [np.array([[-1.0, 0.5, 2.0]], np.float32)]
    with pytest.raises(AssertionError, match="before any pass"):
        assert_pipeline_preserves_semantics(single_layer_module(case), [], inputs, reference_outputs=[inputs[0]])


def test_pipeline_string():
    case = LayerCase("relu", ((1, 3),), {})
    inputs = [np.array([[-1.0, 0.5, 2.0]], np.float32)]
    assert_pipeline_preserves_semantics(single_layer_module(case), "nn-to-small,canonicalize", inputs)


@dataclass(frozen=True)
class MulBecomesAdd(ModulePass):
    """A broken pass: turns the combine of every multiplying copy layer into an add."""

    name = "mul-becomes-add"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for layer in op.walk():
            if isinstance(layer, small.LayerOp) and layer.combine == StringAttr("mul"):
                layer.combine = StringAttr("add")


def test_wrong_pass_is_caught_and_named():
    module = parse(
        """
        func.func @mul(%a: memref<1x2x3x3xf32>, %b: memref<1x2x3x3xf32>, %y: memref<1x2x3x3xf32>) {
          small.layer "copy" %a : memref<1x2x3x3xf32> other %b : memref<1x2x3x3xf32> into %y : memref<1x2x3x3xf32>
              {g = 2 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 3, 3>, filter = array<i64: 1, 1>,
               strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
               c_ob = 0 : i64, w_ob = 1 : i64, combine = "mul"}
          func.return
        }
        """
    )
    inputs = [random(1, 2, 3, 3), random(1, 2, 3, 3, seed=1)]
    with pytest.raises(AssertionError, match=r"output 0 diverged after pass 2 `mul-becomes-add`"):
        assert_pipeline_preserves_semantics(module, [CanonicalizePass(), MulBecomesAdd()], inputs)


# endregion
# region blocked small ops


def block_activation(x: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """1 x C x H x W -> [ceil(C/Cb)][H][W][Cb]; padding channels hold garbage."""
    _, c, h, w = x.shape
    packed = np.full((-(-c // block), h, w, block), GARBAGE, np.float32)
    for cb, i, j, lane in np.ndindex(*packed.shape):
        if cb * block + lane < c:
            packed[cb, i, j, lane] = x[0, cb * block + lane, i, j]
    return packed


def unblock_activation(packed: np.ndarray, channels: int, block: int = BLOCK) -> np.ndarray:
    _, h, w, _ = packed.shape
    x = np.zeros((1, channels, h, w), np.float32)
    for c, i, j in np.ndindex(channels, h, w):
        x[0, c, i, j] = packed[c // block, i, j, c % block]
    return x


def block_conv_weights(weight: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """K x F_c x Fh x Fw -> [ceil(K/Cb)][ceil(F_c/Cb)][Fh][Fw][Cb_in][Cb_out]."""
    k, f_c, fh, fw = weight.shape
    packed = np.full((-(-k // block), -(-f_c // block), fh, fw, block, block), GARBAGE, np.float32)
    for kb, cb, i, j, ci, co in np.ndindex(*packed.shape):
        if kb * block + co < k and cb * block + ci < f_c:
            packed[kb, cb, i, j, ci, co] = weight[kb * block + co, cb * block + ci, i, j]
    return packed


def block_dw_weights(weight: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """C x 1 x Fh x Fw -> [ceil(C/Cb)][Fh][Fw][Cb]."""
    c, _, fh, fw = weight.shape
    packed = np.full((-(-c // block), fh, fw, block), GARBAGE, np.float32)
    for cb, i, j, lane in np.ndindex(*packed.shape):
        if cb * block + lane < c:
            packed[cb, i, j, lane] = weight[cb * block + lane, 0, i, j]
    return packed


def block_bias(bias: np.ndarray, block: int = BLOCK) -> np.ndarray:
    packed = np.full((-(-len(bias) // block), block), GARBAGE, np.float32)
    for k, value in enumerate(bias):
        packed[k // block, k % block] = value
    return packed


def test_blocked_conv_with_bias_residual_and_relu6():
    # 3 -> 5 channels, 5x5, 3x3 filter, stride 2, pads (1, 0, 1, 1): output 3x2.
    module = parse(
        """
        func.func @conv(%x: memref<1x5x5x4xf32>, %w: memref<2x1x3x3x4x4xf32>, %b: memref<2x4xf32>,
                        %r: memref<2x3x2x4xf32>, %y: memref<2x3x2x4xf32>) {
          small.layer "conv" %x : memref<1x5x5x4xf32> weights %w : memref<2x1x3x3x4x4xf32>
              bias %b : memref<2x4xf32> other %r : memref<2x3x2x4xf32> into %y : memref<2x3x2x4xf32>
              {g = 1 : i64, k = 5 : i64, f_c = 3 : i64, in_hw = array<i64: 5, 5>, filter = array<i64: 3, 3>,
               strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 0, 1, 1>,
               c_ob = 4 : i64, w_ob = 2 : i64, combine = "add", clamp_min = 0.0 : f32, clamp_max = 0.5 : f32}
          func.return
        }
        """
    )
    x, weight, bias = random(1, 3, 5, 5), random(5, 3, 3, 3, seed=1), random(5, seed=2)
    residual = random(1, 5, 3, 2, seed=3)
    inputs = [block_activation(x), block_conv_weights(weight), block_bias(bias), block_activation(residual)]
    (y,) = interpret(module, inputs)
    conv = reference.conv2d(x, weight, bias, strides=(2, 2), pads=(1, 0, 1, 1))
    expected = reference.clip(reference.add(conv, residual), min=0.0, max=0.5)
    np.testing.assert_allclose(unblock_activation(y, 5), expected, rtol=1e-5, atol=1e-6)


def test_blocked_dwconv_with_leaky_relu():
    # 6 channels, 4x5, 2x3 filter, dilations 2x1, pads (1, 1, 1, 1): output 4x5.
    module = parse(
        """
        func.func @dw(%x: memref<2x4x5x4xf32>, %w: memref<2x2x3x4xf32>, %y: memref<2x4x5x4xf32>) {
          small.layer "dwconv" %x : memref<2x4x5x4xf32> weights %w : memref<2x2x3x4xf32> into %y : memref<2x4x5x4xf32>
              {g = 6 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 5>, filter = array<i64: 2, 3>,
               strides = array<i64: 1, 1>, dilations = array<i64: 2, 1>, pads = array<i64: 1, 1, 1, 1>,
               c_ob = 4 : i64, w_ob = 3 : i64, leaky = 0.25 : f32}
          func.return
        }
        """
    )
    x, weight = random(1, 6, 4, 5), random(6, 1, 2, 3, seed=1)
    (y,) = interpret(module, [block_activation(x), block_dw_weights(weight)])
    conv = reference.conv2d(x, weight, pads=(1, 1, 1, 1), dilations=(2, 1), group=6)
    expected = reference.leaky_relu(conv, alpha=0.25)
    np.testing.assert_allclose(unblock_activation(y, 6), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_blocked_pooling(kind: str):
    # 5 channels, 5x5, 3x2 window (max: dilated to 3x3), stride 2x1, pads (1, 1, 0, 1): output 2x6 (max: 2x5).
    extra = "dilations = array<i64: 1, 1>, count_include_pad" if kind == "avg" else "dilations = array<i64: 1, 2>"
    out_w = 6 if kind == "avg" else 5
    module = parse(
        f"""
        func.func @pool(%x: memref<2x5x5x4xf32>, %y: memref<2x2x{out_w}x4xf32>) {{
          small.layer "{kind}" %x : memref<2x5x5x4xf32> into %y : memref<2x2x{out_w}x4xf32>
              {{g = 5 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 5, 5>, filter = array<i64: 3, 2>,
               strides = array<i64: 2, 1>, pads = array<i64: 1, 1, 0, 1>, c_ob = 4 : i64, w_ob = 1 : i64, {extra}}}
          func.return
        }}
        """
    )
    x = random(1, 5, 5, 5)
    (y,) = interpret(module, [block_activation(x)])
    window = {"kernel_shape": (3, 2), "strides": (2, 1), "pads": (1, 1, 0, 1)}
    if kind == "max":
        expected = reference.max_pool2d(x, dilations=(1, 2), **window)
    else:
        expected = reference.avg_pool2d(x, count_include_pad=True, **window)
    np.testing.assert_allclose(unblock_activation(y, 5), expected, rtol=1e-6)


def test_blocked_copy_multiplies_other():
    module = parse(
        """
        func.func @mul(%x: memref<2x2x3x4xf32>, %o: memref<2x2x3x4xf32>, %y: memref<2x2x3x4xf32>) {
          small.layer "copy" %x : memref<2x2x3x4xf32> other %o : memref<2x2x3x4xf32> into %y : memref<2x2x3x4xf32>
              {g = 7 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 2, 3>, filter = array<i64: 1, 1>,
               strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
               c_ob = 4 : i64, w_ob = 3 : i64, combine = "mul"}
          func.return
        }
        """
    )
    a, b = random(1, 7, 2, 3), random(1, 7, 2, 3, seed=1)
    (y,) = interpret(module, [block_activation(a), block_activation(b)])
    np.testing.assert_allclose(unblock_activation(y, 7), a * b, rtol=1e-6)


def test_convert_between_layouts_and_shapes():
    # plain 1x5x2x2 -> blocked (5, 2, 2) -> blocked (20, 1, 1) -> plain 1x20.
    module = parse(
        """
        func.func @convert(%x: memref<1x5x2x2xf32>, %b: memref<2x2x2x4xf32>, %v: memref<5x1x1x4xf32>, %y: memref<1x20xf32>) {
          small.convert %x into %b {src_channels = 5 : i64, src_block = 0 : i64, dst_channels = 5 : i64, dst_block = 4 : i64}
              : memref<1x5x2x2xf32> into memref<2x2x2x4xf32>
          small.convert %b into %v {src_channels = 5 : i64, src_block = 4 : i64, dst_channels = 20 : i64, dst_block = 4 : i64}
              : memref<2x2x2x4xf32> into memref<5x1x1x4xf32>
          small.convert %v into %y {src_channels = 20 : i64, src_block = 4 : i64, dst_channels = 20 : i64, dst_block = 0 : i64}
              : memref<5x1x1x4xf32> into memref<1x20xf32>
          func.return
        }
        """
    )
    x = random(1, 5, 2, 2)
    blocked, vector, flat = interpret(module, [x])
    np.testing.assert_array_equal(unblock_activation(blocked, 5), x)
    np.testing.assert_array_equal(unblock_activation(vector, 20), x.reshape(1, 20, 1, 1))
    np.testing.assert_array_equal(flat, x.reshape(1, 20))


def test_blocked_softmax_and_concat():
    module = parse(
        """
        func.func @f(%a: memref<1x2x2x4xf32>, %b: memref<2x2x2x4xf32>, %s: memref<2x2x2x4xf32>, %y: memref<2x2x2x4xf32>) {
          small.softmax %b into %s {channels = 5 : i64, c_ob = 4 : i64} : memref<2x2x2x4xf32> into memref<2x2x2x4xf32>
          small.concat %a, %s into %y {channels = array<i64: 2, 5>, c_ob = 4 : i64}
              : memref<1x2x2x4xf32>, memref<2x2x2x4xf32> into memref<2x2x2x4xf32>
          func.return
        }
        """
    )
    a, b = random(1, 2, 2, 2), random(1, 5, 2, 2, seed=1)
    soft, y = interpret(module, [block_activation(a), block_activation(b)])
    expected = reference.softmax(b, axis=1)
    np.testing.assert_allclose(unblock_activation(soft, 5), expected, rtol=1e-6)
    np.testing.assert_allclose(unblock_activation(y, 7), np.concatenate([a, expected], axis=1), rtol=1e-6)


# endregion
# region kernel ops

TILE = "!kernel.tile<3x4xf32>"
X_TYPES = f"{TILE}, memref<1x2x7x4xf32>"
W_TYPE = "memref<2x4xf32>"
KERNEL_MODULE = """
func.func @kernel(%x: memref<1x2x7x4xf32>, %w: memref<2x4xf32>, %y: memref<1x2x7x4xf32>) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %t = kernel.tile : !kernel.tile<3x4xf32>
  {body}
  kernel.store %t, %y[%c0, %c1, %c1, %c0] pixel_stride 2 : !kernel.tile<3x4xf32>, memref<1x2x7x4xf32>
  func.return
}}
"""
ROW_0 = "%x[%c0, %c0, %c2, %c0] pixel_stride 2"  # pixels 2, 4, 6 of row 0
X_ROW_0 = (0, 0, slice(2, 7, 2), slice(0, 4))
LOAD = f"kernel.load %t, {ROW_0} : {X_TYPES}"
BIAS_0 = f"kernel.broadcast %t, %w[%c0, %c0] : {TILE}, {W_TYPE}"


def fill(value: float) -> str:
    return f"kernel.fill %t {{value = {value} : f32}} : {TILE}"


KERNEL_CASES = {
    "fill": ([fill(1.5)], lambda x, w: np.full((3, 4), 1.5, np.float32)),
    "broadcast": ([f"kernel.broadcast %t, %w[%c1, %c0] : {TILE}, {W_TYPE}"], lambda x, w: np.tile(w[1], (3, 1))),
    "load": ([LOAD], lambda x, w: x[X_ROW_0]),
    "max": (
        [fill(-0.25), f"kernel.max %t, {ROW_0} : {X_TYPES}"],
        lambda x, w: np.maximum(x[X_ROW_0], np.float32(-0.25)),
    ),
    "add": ([BIAS_0, f"kernel.add %t, {ROW_0} : {X_TYPES}"], lambda x, w: w[0] + x[X_ROW_0]),
    "mul": ([BIAS_0, f"kernel.mul %t, {ROW_0} : {X_TYPES}"], lambda x, w: w[0] * x[X_ROW_0]),
    "fma": (
        # One input channel (lane 2) of pixels 1, 3, 5 of row 1 times the weight vector.
        [fill(0.5), f"kernel.fma %t, %x[%c0, %c1, %c1, %c2] pixel_stride 2, %w[%c1, %c0] : {X_TYPES}, {W_TYPE}"],
        lambda x, w: np.float32(0.5) + x[0, 1, 1:6:2, 2][:, None] * w[1][None, :],
    ),
    "lane_fma": (
        [fill(0.5), f"kernel.lane_fma %t, {ROW_0}, %w[%c0, %c0] : {X_TYPES}, {W_TYPE}"],
        lambda x, w: np.float32(0.5) + x[X_ROW_0] * w[0],
    ),
    "scale": (
        [LOAD, "%f = arith.constant 0.75 : f32", f"kernel.scale %t, %f : {TILE}"],
        lambda x, w: x[X_ROW_0] * np.float32(0.75),
    ),
    "clamp": (
        [LOAD, f"kernel.clamp %t {{min = -0.25 : f32, max = 0.5 : f32}} : {TILE}"],
        lambda x, w: np.clip(x[X_ROW_0], np.float32(-0.25), np.float32(0.5)),
    ),
    "leaky": (
        [LOAD, f"kernel.leaky %t {{alpha = 0.125 : f32}} : {TILE}"],
        lambda x, w: np.where(x[X_ROW_0] >= 0, x[X_ROW_0], np.float32(0.125) * x[X_ROW_0]),
    ),
}


@pytest.mark.parametrize("name", KERNEL_CASES)
def test_kernel_op(name: str):
    body, expected_tile = KERNEL_CASES[name]
    x, w = random(1, 2, 7, 4), random(2, 4, seed=1)
    (y,) = interpret(parse(KERNEL_MODULE.format(body="\n  ".join(body))), [x, w])
    expected = np.zeros_like(x)
    expected[0, 1, 1:6:2, :] = expected_tile(x, w)  # the store: pixels 1, 3, 5 of row 1
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=0)


def test_tile_pixels_past_the_end_of_a_row_continue_on_the_next():
    body = f"kernel.load %t, %x[%c0, %c0, %c2, %c0] pixel_stride 3 : {X_TYPES}"  # W 2, 5, 8: the last is row 1's pixel 1
    x = random(1, 2, 7, 4)
    (y,) = interpret(parse(KERNEL_MODULE.format(body=body)), [x, random(2, 4)])
    np.testing.assert_array_equal(y[0, 1, 1:6:2], np.stack([x[0, 0, 2], x[0, 0, 5], x[0, 1, 1]]))


def test_tile_pixels_past_the_last_row_fail():
    body = f"kernel.load %t, %x[%c0, %c1, %c2, %c0] pixel_stride 3 : {X_TYPES}"
    with pytest.raises(Exception, match="dimension 1"):
        interpret(parse(KERNEL_MODULE.format(body=body)), [random(1, 2, 7, 4), random(2, 4)])


def test_kernel_access_out_of_bounds_fails():
    body = f"kernel.load %t, %x[%c0, %c0, %c2, %c1] pixel_stride 2 : {X_TYPES}"  # lanes 1..4 of 4
    with pytest.raises(Exception, match="dimension 3"):
        interpret(parse(KERNEL_MODULE.format(body=body)), [random(1, 2, 7, 4), random(2, 4)])


# endregion
# region std ops


def test_memref_view_aliases_its_source():
    module = parse(
        """
        func.func @view(%y: memref<4x4xf32>, %z: memref<3x4xf32>) {
          %c0 = arith.constant 0 : index
          %c1 = arith.constant 1 : index
          %c3 = arith.constant 3 : index
          %c16 = arith.constant 16 : index
          %seven = arith.constant 7.0 : f32
          %buffer = memref.alloca() : memref<64xi8>
          %all = memref.view %buffer[%c0][] : memref<64xi8> to memref<4x4xf32>
          %tail = memref.view %buffer[%c16][%c3] : memref<64xi8> to memref<?x4xf32>
          memref.store %seven, %tail[%c0, %c1] : memref<?x4xf32>
          %t = kernel.tile : !kernel.tile<1x4xf32>
          kernel.fill %t {value = 2.0 : f32} : !kernel.tile<1x4xf32>
          kernel.store %t, %all[%c3, %c0] pixel_stride 1 : !kernel.tile<1x4xf32>, memref<4x4xf32>
          scf.for %i = %c0 to %c3 step %c1 {
            scf.for %j = %c0 to %c3 step %c1 {
              %v = memref.load %all[%i, %j] : memref<4x4xf32>
              memref.store %v, %y[%i, %j] : memref<4x4xf32>
              %u = memref.load %tail[%i, %j] : memref<?x4xf32>
              memref.store %u, %z[%i, %j] : memref<3x4xf32>
            }
          }
          %last = memref.load %all[%c3, %c3] : memref<4x4xf32>
          memref.store %last, %y[%c3, %c3] : memref<4x4xf32>
          func.return
        }
        """
    )
    y, z = interpret(module, [])
    expected_y, expected_z = np.zeros((4, 4), np.float32), np.zeros((3, 4), np.float32)
    expected_y[1, 1] = expected_z[0, 1] = 7.0  # stored through %tail, read through %all
    expected_y[3, 3] = 2.0  # stored through %all
    expected_z[2, :3] = 2.0  # read through %tail
    np.testing.assert_array_equal(y, expected_y)
    np.testing.assert_array_equal(z, expected_z)


def test_uninitialized_global_is_one_zeroed_buffer():
    module = parse(
        """
        "memref.global"() <{sym_name = "scratch", sym_visibility = "private", type = memref<4xf32>, initial_value}> : () -> ()
        func.func @globals(%y: memref<4xf32>) {
          %c1 = arith.constant 1 : index
          %c2 = arith.constant 2 : index
          %three = arith.constant 3.0 : f32
          %a = memref.get_global @scratch : memref<4xf32>
          memref.store %three, %a[%c2] : memref<4xf32>
          %b = memref.get_global @scratch : memref<4xf32>
          %v = memref.load %b[%c2] : memref<4xf32>
          memref.store %v, %y[%c2] : memref<4xf32>
          %z = memref.load %b[%c1] : memref<4xf32>
          memref.store %z, %y[%c1] : memref<4xf32>
          func.return
        }
        """
    )
    (y,) = interpret(module, [])
    np.testing.assert_array_equal(y, [0.0, 0.0, 3.0, 0.0])


def test_arith_ops_added_to_xdsl():
    module = parse(
        """
        func.func @arith(%i: memref<5xindex>, %f: memref<5xf32>) {
          %c0 = arith.constant 0 : index
          %c1 = arith.constant 1 : index
          %c2 = arith.constant 2 : index
          %c3 = arith.constant 3 : index
          %c4 = arith.constant 4 : index
          %m7 = arith.constant -7 : index
          %p2 = arith.constant 2 : index
          %max = arith.maxsi %m7, %p2 : index
          %min = arith.minsi %m7, %p2 : index
          %div = arith.divui %c4, %c3 : index
          %rem = arith.remui %c4, %c3 : index
          %ceil = arith.ceildivsi %m7, %p2 : index
          memref.store %max, %i[%c0] : memref<5xindex>
          memref.store %min, %i[%c1] : memref<5xindex>
          memref.store %div, %i[%c2] : memref<5xindex>
          memref.store %rem, %i[%c3] : memref<5xindex>
          memref.store %ceil, %i[%c4] : memref<5xindex>
          %one = arith.constant 1.0 : f32
          %three = arith.constant 3.0 : f32
          %zero = arith.constant 0.0 : f32
          %third = arith.divf %one, %three : f32
          %inf = arith.divf %one, %zero : f32
          %neg = arith.negf %three : f32
          %n = arith.constant -5 : i32
          %s = arith.sitofp %n : i32 to f32
          %u8 = arith.constant -1 : i8
          %u = arith.uitofp %u8 : i8 to f32
          memref.store %third, %f[%c0] : memref<5xf32>
          memref.store %inf, %f[%c1] : memref<5xf32>
          memref.store %neg, %f[%c2] : memref<5xf32>
          memref.store %s, %f[%c3] : memref<5xf32>
          memref.store %u, %f[%c4] : memref<5xf32>
          func.return
        }
        """
    )
    integers, floats = interpret(module, [])
    np.testing.assert_array_equal(integers, [2, -7, 1, 1, -3])
    np.testing.assert_array_equal(floats, np.array([1 / 3, np.inf, -3.0, -5.0, 255.0], np.float32))


# endregion


def test_check_dominance_finds_a_use_before_its_definition():
    from xdsl.parser import Parser

    from small_ir.context import make_context
    from small_ir.testing import check_dominance

    module = Parser(make_context(), """
    func.func @f(%m: memref<4xf32>) {
      %c0 = arith.constant 0 : index
      %v = memref.load %m[%c0] : memref<4xf32>
      memref.store %v, %m[%c0] : memref<4xf32>
      func.return
    }
    """).parse_module()
    check_dominance(module)  # in order: fine
    block = module.body.block.first_op.body.block
    load = list(block.ops)[1]
    load.detach()
    block.insert_op_before(load, block.last_op)  # the load now comes after its user
    with pytest.raises(VerifyException, match="memref.store uses a value before its definition"):
        check_dominance(module)
