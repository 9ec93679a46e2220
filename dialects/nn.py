"""
The `nn` dialect: network layers with ONNX semantics, batch 1, on memrefs.

Ops follow destination-passing style: the last operand (after `into`) is the
memref the layer writes. Activations are NCHW (`memref<1xCxHxWxf32>`) or
`memref<1xNxf32>`; weights are memrefs too, usually from `memref.get_global`.

    func.func @net(%x: memref<1x3x8x8xf32>, %y: memref<1x4x8x8xf32>) {
      %w = memref.get_global @w : memref<4x3x3x3xf32>
      %t = memref.alloc() : memref<1x4x8x8xf32>
      nn.conv2d %x, %w into %t {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
          dilations = array<i64: 1, 1>, group = 1 : i64}
          : memref<1x3x8x8xf32>, memref<4x3x3x3xf32> into memref<1x4x8x8xf32>
      nn.relu %t into %y : memref<1x4x8x8xf32> into memref<1x4x8x8xf32>
      func.return
    }

Verifiers check every shape and name the mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

from xdsl.dialects.builtin import (
    BoolAttr,
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    MemRefType,
    f32,
    i64,
)
from xdsl.ir import Dialect, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    var_operand_def,
)
from xdsl.utils.exceptions import VerifyException

MAX_ELEMENTS = 2**31 - 1
"""Elements of one tensor: C indexes stay within 32 bits, the arena within reason."""

Pair = tuple[int, int]
Pads = tuple[int, int, int, int]


def shape_of(value: SSAValue) -> tuple[int, ...]:
    memref_type = value.type
    assert isinstance(memref_type, MemRefType)
    return tuple(memref_type.get_shape())


def fmt(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape)


def window_output_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int) -> int:
    """Output extent of a conv or pooling window along one axis (floor mode)."""
    extent = dilation * (kernel - 1) + 1
    return (size + pad_begin + pad_end - extent) // stride + 1


def every_window_reads_input(size: int, kernel: int, stride: int, pad_begin: int, dilation: int, out: int) -> bool:
    """Whether every output position along an axis has at least one tap inside the input."""
    return all(
        any(0 <= o * stride - pad_begin + k * dilation < size for k in range(kernel)) for o in range(out)
    )


def i64_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, list(values))


class NNOp(IRDLOperation):
    """Base of all nn ops: f32 memrefs of static shape, then each op's `verify_shapes`."""

    irdl_options = (ParsePropInAttrDict(),)

    def verify_(self) -> None:
        for index, operand in enumerate(self.operands):
            memref_type = operand.type
            assert isinstance(memref_type, MemRefType)
            if memref_type.get_element_type() != f32:
                self.fail(f"operand {index} has element type {memref_type.get_element_type()}; small-ir compiles f32 networks")
            if any(dim < 0 for dim in memref_type.get_shape()):
                self.fail(f"operand {index} has a dynamic shape; small-ir needs static shapes")
            if prod(memref_type.get_shape()) > MAX_ELEMENTS:
                self.fail(f"operand {index} has {prod(memref_type.get_shape())} elements; small-ir supports up to {MAX_ELEMENTS}")
        self.verify_shapes()

    def verify_shapes(self) -> None:
        raise NotImplementedError

    def fail(self, message: str) -> None:
        raise VerifyException(f"{self.name}: {message}")

    def check_nchw(self, what: str, value: SSAValue) -> tuple[int, int, int]:
        shape = shape_of(value)
        if len(shape) != 4 or shape[0] != 1:
            self.fail(f"{what} must be 1xCxHxW (batch 1), got {fmt(shape)}")
        return shape[1], shape[2], shape[3]

    def check_shape(self, what: str, value: SSAValue, expected: Sequence[int]) -> None:
        shape = shape_of(value)
        if shape != tuple(expected):
            self.fail(f"{what} shape {fmt(shape)} does not match the expected {fmt(expected)}")

    def check_pair(self, what: str, values: DenseArrayBase, minimum: int) -> None:
        data = values.get_values()
        if len(data) != 2 or min(data) < minimum:
            self.fail(f"{what} must be two integers >= {minimum}, got {list(data)}")


class WindowOp(NNOp):
    """A layer that slides a window over H and W (conv, pooling)."""

    strides = prop_def(DenseArrayBase.constr(i64))
    pads = prop_def(DenseArrayBase.constr(i64))

    @property
    def stride_pair(self) -> Pair:
        return tuple(self.strides.get_values())  # type: ignore[return-value]

    @property
    def pad_quad(self) -> Pads:
        return tuple(self.pads.get_values())  # type: ignore[return-value]

    def check_window(self, input: SSAValue, kernel: Pair, dilations: Pair) -> tuple[int, int]:
        """Checks the window attributes; returns the output height and width."""
        self.check_pair("strides", self.strides, 1)
        pads = self.pad_quad
        if len(pads) != 4 or min(pads) < 0:
            self.fail(f"pads must be four integers >= 0 (top, left, bottom, right), got {list(pads)}")
        _, height, width = self.check_nchw("input", input)
        out_h = window_output_size(height, kernel[0], self.stride_pair[0], pads[0], pads[2], dilations[0])
        out_w = window_output_size(width, kernel[1], self.stride_pair[1], pads[1], pads[3], dilations[1])
        if out_h < 1 or out_w < 1:
            self.fail(
                f"the {kernel[0]}x{kernel[1]} window (dilation {dilations[0]}x{dilations[1]}) "
                f"does not fit the {height}x{width} input with pads {list(pads)}"
            )
        return out_h, out_w


@irdl_op_definition
class Conv2dOp(WindowOp):
    """
    2-D convolution (ONNX Conv), grouped and depthwise included, optional bias.
    Weight: K x (C / group) x Fh x Fw.

        nn.conv2d %x, %w, %b into %y {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>,
            dilations = array<i64: 1, 1>, group = 1 : i64}
            : memref<1x3x9x9xf32>, memref<8x3x3x3xf32>, memref<8xf32> into memref<1x8x4x4xf32>
    """

    name = "nn.conv2d"
    input = operand_def(MemRefType)
    weight = operand_def(MemRefType)
    bias = opt_operand_def(MemRefType)
    output = operand_def(MemRefType)
    dilations = prop_def(DenseArrayBase.constr(i64))
    group = prop_def(IntegerAttr[i64])
    assembly_format = (
        "$input `,` $weight (`,` $bias^)? `into` $output attr-dict "
        "`:` type($input) `,` type($weight) (`,` type($bias)^)? `into` type($output)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue,
        bias: SSAValue | None,
        output: SSAValue,
        strides: Pair = (1, 1),
        pads: Pads = (0, 0, 0, 0),
        dilations: Pair = (1, 1),
        group: int = 1,
    ):
        super().__init__(
            operands=[input, weight, [bias] if bias else [], output],
            properties={
                "strides": i64_array(strides),
                "pads": i64_array(pads),
                "dilations": i64_array(dilations),
                "group": IntegerAttr(group, i64),
            },
        )

    def verify_shapes(self) -> None:
        self.check_pair("dilations", self.dilations, 1)
        channels, _, _ = self.check_nchw("input", self.input)
        weight = shape_of(self.weight)
        group = self.group.value.data
        if len(weight) != 4:
            self.fail(f"weight must be K x C/group x Fh x Fw, got {fmt(weight)}")
        if group < 1 or channels % group or weight[0] % group:
            self.fail(f"group {group} must divide the input channels {channels} and output channels {weight[0]}")
        if weight[1] != channels // group:
            self.fail(f"weight has {weight[1]} input channels per group, the input gives {channels // group}")
        dilations = tuple(self.dilations.get_values())
        out_h, out_w = self.check_window(self.input, (weight[2], weight[3]), dilations)  # type: ignore[arg-type]
        if self.bias is not None:
            self.check_shape("bias", self.bias, (weight[0],))
        self.check_shape("output", self.output, (1, weight[0], out_h, out_w))


class PoolOp(WindowOp):
    input = operand_def(MemRefType)
    output = operand_def(MemRefType)
    kernel_shape = prop_def(DenseArrayBase.constr(i64))
    assembly_format = "$input `into` $output attr-dict `:` type($input) `into` type($output)"

    @property
    def kernel_pair(self) -> Pair:
        return tuple(self.kernel_shape.get_values())  # type: ignore[return-value]

    def verify_pool(self, dilations: Pair) -> None:
        self.check_pair("kernel_shape", self.kernel_shape, 1)
        out_h, out_w = self.check_window(self.input, self.kernel_pair, dilations)
        pads = self.pad_quad
        kernel = self.kernel_pair
        if max(pads[0], pads[2]) >= kernel[0] or max(pads[1], pads[3]) >= kernel[1]:
            self.fail(f"pads {list(pads)} must be smaller than the kernel {fmt(kernel)} (as in ONNX)")
        channels, _, _ = self.check_nchw("input", self.input)
        self.check_shape("output", self.output, (1, channels, out_h, out_w))


@irdl_op_definition
class MaxPool2dOp(PoolOp):
    """
    Max pooling (ONNX MaxPool); padding counts as -inf.

        nn.max_pool2d %x into %y {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>,
            pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>}
            : memref<1x8x8x8xf32> into memref<1x8x4x4xf32>
    """

    name = "nn.max_pool2d"
    dilations = prop_def(DenseArrayBase.constr(i64))

    def __init__(
        self,
        input: SSAValue,
        output: SSAValue,
        kernel_shape: Pair,
        strides: Pair = (1, 1),
        pads: Pads = (0, 0, 0, 0),
        dilations: Pair = (1, 1),
    ):
        super().__init__(
            operands=[input, output],
            properties={
                "kernel_shape": i64_array(kernel_shape),
                "strides": i64_array(strides),
                "pads": i64_array(pads),
                "dilations": i64_array(dilations),
            },
        )

    def verify_shapes(self) -> None:
        self.check_pair("dilations", self.dilations, 1)
        dilations = tuple(self.dilations.get_values())
        self.verify_pool(dilations)  # type: ignore[arg-type]
        _, _, height, width = shape_of(self.input)
        _, _, out_h, out_w = shape_of(self.output)
        (kh, kw), (sh, sw), pads = self.kernel_pair, self.stride_pair, self.pad_quad
        if not (
            every_window_reads_input(height, kh, sh, pads[0], dilations[0], out_h)
            and every_window_reads_input(width, kw, sw, pads[1], dilations[1], out_w)
        ):
            self.fail("a window lies entirely in the padding (its maximum is undefined in ONNX)")


@irdl_op_definition
class AvgPool2dOp(PoolOp):
    """
    Average pooling (ONNX AveragePool); count_include_pad chooses the divisor.

        nn.avg_pool2d %x into %y {kernel_shape = array<i64: 3, 3>, strides = array<i64: 1, 1>,
            pads = array<i64: 1, 1, 1, 1>, count_include_pad = false}
            : memref<1x8x8x8xf32> into memref<1x8x8x8xf32>
    """

    name = "nn.avg_pool2d"
    count_include_pad = prop_def(BoolAttr)

    def __init__(
        self,
        input: SSAValue,
        output: SSAValue,
        kernel_shape: Pair,
        strides: Pair = (1, 1),
        pads: Pads = (0, 0, 0, 0),
        count_include_pad: bool = False,
    ):
        super().__init__(
            operands=[input, output],
            properties={
                "kernel_shape": i64_array(kernel_shape),
                "strides": i64_array(strides),
                "pads": i64_array(pads),
                "count_include_pad": BoolAttr.from_bool(count_include_pad),
            },
        )

    def verify_shapes(self) -> None:
        self.verify_pool((1, 1))


class UnaryOp(NNOp):
    """A layer with one activation input and an output of the same shape."""

    input = operand_def(MemRefType)
    output = operand_def(MemRefType)
    assembly_format = "$input `into` $output attr-dict `:` type($input) `into` type($output)"

    def __init__(self, input: SSAValue, output: SSAValue, **properties):
        super().__init__(operands=[input, output], properties=properties)

    def verify_shapes(self) -> None:
        self.check_shape("output", self.output, shape_of(self.input))


@irdl_op_definition
class ReluOp(UnaryOp):
    """
    y = max(x, 0)

        nn.relu %x into %y : memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
    """

    name = "nn.relu"


@irdl_op_definition
class SigmoidOp(UnaryOp):
    """
    y = 1 / (1 + exp(-x))

        nn.sigmoid %x into %y : memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
    """

    name = "nn.sigmoid"


@irdl_op_definition
class ClipOp(UnaryOp):
    """
    y = min(max(x, min), max); relu6 is clip(0, 6).

        nn.clip %x into %y {min = 0.0 : f32, max = 6.0 : f32} : memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
    """

    name = "nn.clip"
    min = prop_def(FloatAttr)
    max = prop_def(FloatAttr)

    def __init__(self, input: SSAValue, output: SSAValue, min: float, max: float):
        super().__init__(input, output, min=FloatAttr(min, f32), max=FloatAttr(max, f32))

    def verify_shapes(self) -> None:
        super().verify_shapes()
        if self.min.value.data > self.max.value.data:
            self.fail(f"min {self.min.value.data} is greater than max {self.max.value.data}")


@irdl_op_definition
class LeakyReluOp(UnaryOp):
    """
    y = x if x >= 0 else alpha * x

        nn.leaky_relu %x into %y {alpha = 0.1 : f32} : memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
    """

    name = "nn.leaky_relu"
    alpha = prop_def(FloatAttr)

    def __init__(self, input: SSAValue, output: SSAValue, alpha: float = 0.01):
        super().__init__(input, output, alpha=FloatAttr(alpha, f32))


@irdl_op_definition
class SoftmaxOp(UnaryOp):
    """
    Softmax over the channel axis (axis 1), per pixel.

        nn.softmax %x into %y {axis = 1 : i64} : memref<1x10xf32> into memref<1x10xf32>
    """

    name = "nn.softmax"
    axis = prop_def(IntegerAttr[i64])

    def __init__(self, input: SSAValue, output: SSAValue, axis: int = 1):
        super().__init__(input, output, axis=IntegerAttr(axis, i64))

    def verify_shapes(self) -> None:
        super().verify_shapes()
        rank = len(shape_of(self.input))
        if self.axis.value.data not in (1, 1 - rank):
            self.fail(f"only the channel axis (1) is supported, got axis {self.axis.value.data}")


@irdl_op_definition
class GlobalAvgPoolOp(UnaryOp):
    """
    Mean over H and W.

        nn.global_avg_pool %x into %y : memref<1x8x4x4xf32> into memref<1x8x1x1xf32>
    """

    name = "nn.global_avg_pool"

    def verify_shapes(self) -> None:
        channels, _, _ = self.check_nchw("input", self.input)
        self.check_shape("output", self.output, (1, channels, 1, 1))


@irdl_op_definition
class ReshapeOp(UnaryOp):
    """
    Reshape in C order (ONNX Reshape and Flatten); the output type gives the shape.

        nn.reshape %x into %y : memref<1x8x2x2xf32> into memref<1x32xf32>
    """

    name = "nn.reshape"

    def verify_shapes(self) -> None:
        before, after = shape_of(self.input), shape_of(self.output)
        if prod(before) != prod(after):
            self.fail(f"cannot reshape {fmt(before)} ({prod(before)} elements) to {fmt(after)} ({prod(after)} elements)")
        if not after or after[0] != 1:
            self.fail(f"the output must keep batch 1 first, got {fmt(after)}")


@irdl_op_definition
class DenseOp(NNOp):
    """
    Fully connected: y = x @ weight^T + bias, weight N x K (ONNX Gemm, transB = 1).

        nn.dense %x, %w, %b into %y : memref<1x32xf32>, memref<10x32xf32>, memref<10xf32> into memref<1x10xf32>
    """

    name = "nn.dense"
    input = operand_def(MemRefType)
    weight = operand_def(MemRefType)
    bias = opt_operand_def(MemRefType)
    output = operand_def(MemRefType)
    assembly_format = (
        "$input `,` $weight (`,` $bias^)? `into` $output attr-dict "
        "`:` type($input) `,` type($weight) (`,` type($bias)^)? `into` type($output)"
    )

    def __init__(self, input: SSAValue, weight: SSAValue, bias: SSAValue | None, output: SSAValue):
        super().__init__(operands=[input, weight, [bias] if bias else [], output])

    def verify_shapes(self) -> None:
        input, weight = shape_of(self.input), shape_of(self.weight)
        if len(input) != 2 or input[0] != 1:
            self.fail(f"input must be 1xK, got {fmt(input)}")
        if len(weight) != 2 or weight[1] != input[1]:
            self.fail(f"weight must be Nx{input[1]} for a 1x{input[1]} input, got {fmt(weight)}")
        if self.bias is not None:
            self.check_shape("bias", self.bias, (weight[0],))
        self.check_shape("output", self.output, (1, weight[0]))


class BinaryOp(NNOp):
    lhs = operand_def(MemRefType)
    rhs = operand_def(MemRefType)
    output = operand_def(MemRefType)
    assembly_format = (
        "$lhs `,` $rhs `into` $output attr-dict `:` type($lhs) `,` type($rhs) `into` type($output)"
    )

    def __init__(self, lhs: SSAValue, rhs: SSAValue, output: SSAValue):
        super().__init__(operands=[lhs, rhs, output])

    def verify_shapes(self) -> None:
        self.check_shape("rhs", self.rhs, shape_of(self.lhs))
        self.check_shape("output", self.output, shape_of(self.lhs))


@irdl_op_definition
class AddOp(BinaryOp):
    """
    Element-wise sum of two tensors of the same shape.

        nn.add %a, %b into %y : memref<1x8x4x4xf32>, memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
    """

    name = "nn.add"


@irdl_op_definition
class SubOp(BinaryOp):
    """
    Element-wise difference lhs - rhs of two tensors of the same shape.

        nn.sub %a, %b into %y : memref<1x8x4x4xf32>, memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
    """

    name = "nn.sub"


@irdl_op_definition
class MulOp(BinaryOp):
    """
    Element-wise product of two tensors of the same shape.

        nn.mul %a, %b into %y : memref<1x8x4x4xf32>, memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
    """

    name = "nn.mul"


@irdl_op_definition
class ConcatOp(NNOp):
    """
    Concatenation along the channel axis.

        nn.concat %a, %b into %y {axis = 1 : i64}
            : memref<1x3x4x4xf32>, memref<1x5x4x4xf32> into memref<1x8x4x4xf32>
    """

    name = "nn.concat"
    inputs = var_operand_def(MemRefType)
    output = operand_def(MemRefType)
    axis = prop_def(IntegerAttr[i64])
    assembly_format = "$inputs `into` $output attr-dict `:` type($inputs) `into` type($output)"

    def __init__(self, inputs: Sequence[SSAValue], output: SSAValue, axis: int = 1):
        super().__init__(operands=[inputs, output], properties={"axis": IntegerAttr(axis, i64)})

    def verify_shapes(self) -> None:
        if self.axis.value.data != 1:
            self.fail(f"only concatenation on channels (axis 1) is supported, got axis {self.axis.value.data}")
        if not self.inputs:
            self.fail("needs at least one input")
        first = shape_of(self.inputs[0])
        for index, value in enumerate(self.inputs):
            shape = shape_of(value)
            if len(shape) != len(first) or shape[:1] + shape[2:] != first[:1] + first[2:]:
                self.fail(f"input {index} shape {fmt(shape)} differs from input 0 {fmt(first)} outside the channel axis")
        channels = sum(shape_of(value)[1] for value in self.inputs)
        self.check_shape("output", self.output, first[:1] + (channels,) + first[2:])


NN = Dialect(
    "nn",
    [
        Conv2dOp,
        MaxPool2dOp,
        AvgPool2dOp,
        GlobalAvgPoolOp,
        DenseOp,
        AddOp,
        SubOp,
        MulOp,
        ReluOp,
        SigmoidOp,
        ClipOp,
        LeakyReluOp,
        SoftmaxOp,
        ReshapeOp,
        ConcatOp,
    ],
    [],
)
