"""
The `small` dialect: SMaLL's abstract layer.

`small.layer` describes every tiled layer by a kernel kind and its
dimensions: groups G, output channels per group K, reduction channels F_c,
input H x W, filter Fh x Fw, strides, dilations and four paddings; plus its
blocking: the channel block C_ob (0 while the layer still works on plain NCHW
memrefs) and the register tile width W_ob. Kinds:

* `conv`   - rank-1 FMA updates, G = 1 (G_b = 1, K_b = C_ob);
* `dwconv` - lane-wise FMA, K = F_c = 1 (G_b = C_ob, K_b = 1);
* `max`, `avg` - lane-wise pooling windows;
* `copy`   - a 1x1 identity window: element-wise layers live in its epilogue.

The epilogue runs on the register tile before it is stored: `other` is
combined into it (`combine` = add | sub | mul: tile op other; residual adds,
element-wise ops),
then `clamp_min` / `clamp_max` (either may be absent: relu has no max),
`leaky = alpha` or `sigmoid`.

A stride-1 3x3 `conv` may carry `winograd = m` (set by small-winograd, m = 2
or 4), a stride-2 one `winograd = 4`: small-tile then computes it as Winograd
F(m x m, 3x3) (stride 2: F(4x4, 2x2) on the four phases of its input)
instead of directly, with the same result up to rounding.

    small.layer "conv" %x : memref<1x9x9x16xf32> weights %w : memref<1x1x3x3x16x16xf32>
        bias %b : memref<1x16xf32> into %y : memref<1x4x4x16xf32> {g = 1 : i64, k = 8 : i64,
        f_c = 3 : i64, in_hw = array<i64: 9, 9>, filter = array<i64: 3, 3>, strides = array<i64: 2, 2>,
        dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 0, 0>, c_ob = 16 : i64, w_ob = 6 : i64,
        clamp_min = 0.0 : f32, clamp_max = 6.0 : f32}

Layers that are not a register-tile loop nest have their own ops:
`small.convert` (layout changes at the model boundary, reshapes),
`small.softmax` and `small.concat`.

Activation memrefs are either plain (`1xCxHxW` or `1xN`, C order) or blocked
`[C / Cb][H][W][Cb]`; the ops carry the logical channel counts because a
blocked type pads them to a multiple of Cb. Cb is a property of each
activation (a narrow one may have a smaller block): a layer's `c_ob` is its
output's, a conv reads its input in the input's own block (the type's last
dimension), and the lane-wise kinds and `other` share the output's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import (
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    MemRefType,
    StringAttr,
    UnitAttr,
    i64,
)
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    var_operand_def,
)
from xdsl.utils.exceptions import VerifyException

from small_ir.dialects.nn import fmt, i64_array, shape_of, window_output_size
from small_ir.winograd import Transform, transforms

KINDS = ("conv", "dwconv", "max", "avg", "copy")
COMBINES = ("add", "sub", "mul")


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Activation:
    """Logical view of an activation memref: C x H x W, plain or blocked by `block`."""

    channels: int
    height: int
    width: int
    block: int = 0
    nhwc: bool = False
    """Plain activations only: stored 1xHxWxC (a TFLite model's inputs and outputs)."""

    def __str__(self) -> str:
        layout = f"blocked by {self.block}" if self.block else ("plain NHWC" if self.nhwc else "plain")
        return f"{self.channels} channels x {self.height} x {self.width} ({layout})"

    def memref_shape(self) -> tuple[int, ...]:
        if self.block:
            return (ceil_div(self.channels, self.block), self.height, self.width, self.block)
        if self.nhwc:
            return (1, self.height, self.width, self.channels)
        return (1, self.channels, self.height, self.width)

    def offsets(self) -> np.ndarray:
        """The memory offset of each element [c, h, w], in elements."""
        c, h, w = np.ogrid[: self.channels, : self.height, : self.width]
        if self.block:
            return ((c // self.block * self.height + h) * self.width + w) * self.block + c % self.block
        if self.nhwc:
            return (h * self.width + w) * self.channels + c
        return (c * self.height + h) * self.width + w

    def matches(self, shape: Sequence[int]) -> bool:
        if self.block:
            return tuple(shape) == self.memref_shape()
        plain = plain_activation(shape, self.nhwc)
        return plain is not None and plain == self


def plain_activation(shape: Sequence[int], nhwc: bool = False) -> Activation | None:
    """The logical C x H x W of a plain memref: 1xN, 1xAxB (W = 1), 1xCxHxW, or 1xHxWxC if `nhwc`."""
    if len(shape) not in (2, 3, 4) or shape[0] != 1:
        return None
    if nhwc and len(shape) == 4:
        return Activation(shape[3], shape[1], shape[2], nhwc=True)
    channels, height, width = (*shape[1:], 1, 1)[:3]
    return Activation(channels, height, width)


def activation_of(value: SSAValue, channels: int, block: int, nhwc: bool = False) -> Activation:
    """The logical C x H x W of `value` given its logical channel count."""
    shape = shape_of(value)
    if block:
        return Activation(channels, shape[1], shape[2], block)
    plain = plain_activation(shape, nhwc)
    if plain is None:
        raise VerifyException(f"activation {fmt(shape)}: small-ir supports 1xN, 1xAxB and 1xCxHxW tensors")
    return plain


def _optional(value: SSAValue | None) -> list[SSAValue]:
    return [value] if value is not None else []


def _pair(values: DenseArrayBase) -> tuple[int, ...]:
    return tuple(values.get_values())  # type: ignore[return-value]


@irdl_op_definition
class LayerOp(IRDLOperation):
    """The abstract layer (see the module docstring for an example)."""

    name = "small.layer"

    input = operand_def(MemRefType)
    weights = opt_operand_def(MemRefType)
    bias = opt_operand_def(MemRefType)
    other = opt_operand_def(MemRefType)
    output = operand_def(MemRefType)

    kind = prop_def(StringAttr)
    g = prop_def(IntegerAttr[i64])
    k = prop_def(IntegerAttr[i64])
    f_c = prop_def(IntegerAttr[i64])
    in_hw = prop_def(DenseArrayBase.constr(i64))
    filter = prop_def(DenseArrayBase.constr(i64))
    strides = prop_def(DenseArrayBase.constr(i64))
    dilations = prop_def(DenseArrayBase.constr(i64))
    pads = prop_def(DenseArrayBase.constr(i64))
    c_ob = prop_def(IntegerAttr[i64])
    w_ob = prop_def(IntegerAttr[i64])
    combine = opt_prop_def(StringAttr)
    clamp_min = opt_prop_def(FloatAttr)
    clamp_max = opt_prop_def(FloatAttr)
    leaky = opt_prop_def(FloatAttr)
    sigmoid = opt_prop_def(UnitAttr)
    count_include_pad = opt_prop_def(UnitAttr)
    winograd = opt_prop_def(IntegerAttr[i64])

    irdl_options = (AttrSizedOperandSegments(as_property=True), ParsePropInAttrDict())
    assembly_format = (
        "$kind $input `:` type($input) (`weights` $weights^ `:` type($weights))? "
        "(`bias` $bias^ `:` type($bias))? (`other` $other^ `:` type($other))? "
        "`into` $output `:` type($output) attr-dict"
    )

    def __init__(
        self,
        kind: str,
        input: SSAValue,
        output: SSAValue,
        *,
        g: int,
        k: int,
        f_c: int,
        in_hw: tuple[int, int],
        weights: SSAValue | None = None,
        bias: SSAValue | None = None,
        other: SSAValue | None = None,
        filter: tuple[int, int] = (1, 1),
        strides: tuple[int, int] = (1, 1),
        dilations: tuple[int, int] = (1, 1),
        pads: tuple[int, int, int, int] = (0, 0, 0, 0),
        c_ob: int = 0,
        w_ob: int = 1,
        extra: dict[str, Attribute] | None = None,
    ):
        properties: dict[str, Attribute] = {
            "kind": StringAttr(kind),
            "g": IntegerAttr(g, i64),
            "k": IntegerAttr(k, i64),
            "f_c": IntegerAttr(f_c, i64),
            "in_hw": i64_array(in_hw),
            "filter": i64_array(filter),
            "strides": i64_array(strides),
            "dilations": i64_array(dilations),
            "pads": i64_array(pads),
            "c_ob": IntegerAttr(c_ob, i64),
            "w_ob": IntegerAttr(w_ob, i64),
        }
        properties |= extra or {}
        super().__init__(
            operands=[input, _optional(weights), _optional(bias), _optional(other), output],
            properties=properties,
        )

    def rebuild(self, *, other: SSAValue | None, output: SSAValue, properties: dict[str, Attribute]) -> LayerOp:
        """A copy with another `other`, output and properties (e.g. a fused epilogue)."""
        properties = {name: value for name, value in properties.items() if name != "operandSegmentSizes"}
        new = LayerOp.__new__(LayerOp)
        IRDLOperation.__init__(
            new,
            operands=[self.input, _optional(self.weights), _optional(self.bias), _optional(other), output],
            properties=properties,
        )
        return new

    # Logical dimensions, the same before and after blocking.
    @property
    def in_channels(self) -> int:
        return self.g.value.data * self.f_c.value.data

    @property
    def out_channels(self) -> int:
        return self.g.value.data * self.k.value.data

    @property
    def clamp_bounds(self) -> tuple[float, float] | None:
        """(low, high) of the clamp epilogue, +-inf where a bound is absent; None without clamp."""
        if self.clamp_min is None and self.clamp_max is None:
            return None
        low = self.clamp_min.value.data if self.clamp_min is not None else float("-inf")
        high = self.clamp_max.value.data if self.clamp_max is not None else float("inf")
        return low, high

    @property
    def block(self) -> int:
        return self.c_ob.value.data

    @property
    def out_hw(self) -> tuple[int, int]:
        (h, w), (fh, fw) = _pair(self.in_hw), _pair(self.filter)
        (sh, sw), (dh, dw) = _pair(self.strides), _pair(self.dilations)
        top, left, bottom, right = _pair(self.pads)
        return (
            window_output_size(h, fh, sh, top, bottom, dh),
            window_output_size(w, fw, sw, left, right, dw),
        )

    @property
    def input_block(self) -> int:
        """
        The input's channel block: the layer's, except that a conv reads its
        input in whatever block that activation has (its type's last
        dimension): a narrow one (see small-layout's narrow_block), or one
        exact block for a network input of 1 or 3 channels.
        """
        input_shape = shape_of(self.input)
        if self.kind.data == "conv" and self.block and len(input_shape) == 4 and input_shape[-1] > 0:
            return input_shape[-1]
        return self.block

    def winograd_transforms(self) -> dict[int, Transform]:
        """The Winograd transforms for this layer's stride, by output tile m (see small_ir/winograd.py); empty: none."""
        strides = _pair(self.strides)
        return transforms(strides[0]) if strides[0] == strides[1] else {}

    def winograd_applies(self) -> bool:
        """Whether Winograd can compute this layer (see small-winograd)."""
        return (
            self.kind.data == "conv"
            and self.block > 0
            and self.input_block == self.block
            and _pair(self.filter) == (3, 3)
            and bool(self.winograd_transforms())
            and _pair(self.dilations) == (1, 1)
        )

    def input_activation(self) -> Activation:
        h, w = _pair(self.in_hw)
        return Activation(self.in_channels, h, w, self.input_block)

    def output_activation(self) -> Activation:
        return Activation(self.out_channels, *self.out_hw, self.block)

    def weight_shape(self) -> tuple[int, ...]:
        fh, fw = _pair(self.filter)
        kind, block = self.kind.data, self.block
        if kind == "conv" and block:
            input_block = self.input_block
            blocks = (ceil_div(self.out_channels, block), ceil_div(self.in_channels, input_block))
            return (*blocks, fh, fw, input_block, block)
        if kind == "conv":
            return (self.out_channels, self.in_channels, fh, fw)
        if block:
            return (ceil_div(self.out_channels, block), fh, fw, block)
        return (self.out_channels, 1, fh, fw)

    def bias_shape(self) -> tuple[int, ...]:
        if self.block:
            return (ceil_div(self.out_channels, self.block), self.block)
        return (self.out_channels,)

    def fail(self, message: str) -> None:
        raise VerifyException(f"small.layer {self.kind.data}: {message}")

    def verify_(self) -> None:
        kind = self.kind.data
        if kind not in KINDS:
            self.fail(f"unknown kind; expected one of {', '.join(KINDS)}")
        if kind != "conv" and (self.k.value.data != 1 or self.f_c.value.data != 1):
            self.fail("lane-wise kinds need k = 1 and f_c = 1")
        if kind == "conv" and self.g.value.data != 1:
            self.fail("conv layers have g = 1 (grouped convs are expanded or depthwise)")
        if self.w_ob.value.data < 1 or self.block < 0:
            self.fail("w_ob must be >= 1 and c_ob >= 0")
        if min(self.out_hw) < 1:
            self.fail(f"the window does not fit the input {fmt(_pair(self.in_hw))}")
        needs_weights = kind in ("conv", "dwconv")
        if needs_weights != (self.weights is not None):
            self.fail("conv and dwconv take weights, the other kinds do not")
        if self.bias is not None and not needs_weights:
            self.fail("only conv and dwconv take a bias")
        self._verify_window(kind)
        if self.count_include_pad is not None and kind != "avg":
            self.fail("count_include_pad applies to avg only")
        if self.winograd is not None and not self.winograd_applies():
            self.fail("winograd needs a blocked stride-1 or stride-2 3x3 conv without dilation whose input has the layer's block")
        tiles = self.winograd_transforms()
        if self.winograd is not None and self.winograd.value.data not in tiles:
            self.fail(f"winograd is the output tile size m of F(m x m, 3x3): one of {', '.join(map(str, tiles))} at this stride")
        if (self.clamp_bounds is not None) + (self.leaky is not None) + (self.sigmoid is not None) > 1:
            self.fail("one activation at most: clamp, leaky or sigmoid")
        if self.clamp_bounds is not None and self.clamp_bounds[0] > self.clamp_bounds[1]:
            self.fail(f"clamp_min {self.clamp_bounds[0]} is greater than clamp_max {self.clamp_bounds[1]}")
        if (self.combine is not None) != (self.other is not None):
            self.fail("`other` and `combine` go together")
        if self.combine is not None and self.combine.data not in COMBINES:
            self.fail(f"combine must be one of {', '.join(COMBINES)}")
        self._verify_types()

    def _verify_window(self, kind: str) -> None:
        filter, pads = _pair(self.filter), _pair(self.pads)
        if kind == "copy" and (filter != (1, 1) or _pair(self.strides) != (1, 1) or any(pads)):
            self.fail("copy is a 1x1 window with stride 1 and no padding")
        if kind == "avg" and _pair(self.dilations) != (1, 1):
            self.fail("avg pooling has no dilation")
        if kind in ("max", "avg") and (max(pads[0], pads[2]) >= filter[0] or max(pads[1], pads[3]) >= filter[1]):
            self.fail(f"pads {list(pads)} must be smaller than the window {fmt(filter)}")

    def _verify_types(self) -> None:
        expected_in, expected_out = self.input_activation(), self.output_activation()
        if not expected_in.matches(shape_of(self.input)):
            self.fail(f"input type {fmt(shape_of(self.input))} does not hold {expected_in}")
        if not expected_out.matches(shape_of(self.output)):
            self.fail(f"output type {fmt(shape_of(self.output))} does not hold {expected_out}")
        if self.other is not None and shape_of(self.other) != shape_of(self.output):
            self.fail(f"other {fmt(shape_of(self.other))} must have the output's type {fmt(shape_of(self.output))}")
        if self.weights is not None and shape_of(self.weights) != self.weight_shape():
            self.fail(f"weights {fmt(shape_of(self.weights))} should be {fmt(self.weight_shape())}")
        if self.bias is not None and shape_of(self.bias) != self.bias_shape():
            self.fail(f"bias {fmt(shape_of(self.bias))} should be {fmt(self.bias_shape())}")


class _ActivationOp(IRDLOperation):
    """Shared checks for the small ops that are not register-tile layers."""

    irdl_options = (ParsePropInAttrDict(),)

    def check(self, value: SSAValue, channels: int, block: int, what: str) -> Activation:
        activation = activation_of(value, channels, block)
        if not activation.matches(shape_of(value)):
            raise VerifyException(f"{self.name}: {what} type {fmt(shape_of(value))} does not hold {activation}")
        return activation


@irdl_op_definition
class ConvertOp(_ActivationOp):
    """
    Copies C x H x W data between layouts or shapes, in C order of the logical
    tensor (layout conversion at the model boundary, reshapes).

        small.convert %x into %y {src_channels = 3, src_block = 0, dst_channels = 3, dst_block = 16}
            : memref<1x3x8x8xf32> into memref<1x8x8x16xf32>
    """

    name = "small.convert"
    input = operand_def(MemRefType)
    output = operand_def(MemRefType)
    src_channels = prop_def(IntegerAttr[i64])
    src_block = prop_def(IntegerAttr[i64])
    dst_channels = prop_def(IntegerAttr[i64])
    dst_block = prop_def(IntegerAttr[i64])
    nhwc = opt_prop_def(UnitAttr)
    """The plain side is stored NHWC (model boundary of a TFLite model)."""
    assembly_format = "$input `into` $output attr-dict `:` type($input) `into` type($output)"

    def __init__(
        self, input: SSAValue, output: SSAValue, src: tuple[int, int], dst: tuple[int, int], nhwc: bool = False
    ):
        properties: dict[str, Attribute] = {
            "src_channels": IntegerAttr(src[0], i64),
            "src_block": IntegerAttr(src[1], i64),
            "dst_channels": IntegerAttr(dst[0], i64),
            "dst_block": IntegerAttr(dst[1], i64),
        }
        if nhwc:
            properties["nhwc"] = UnitAttr()
        super().__init__(operands=[input, output], properties=properties)

    def source(self) -> Activation:
        block = self.src_block.value.data
        return activation_of(self.input, self.src_channels.value.data, block, self.nhwc is not None and not block)

    def destination(self) -> Activation:
        block = self.dst_block.value.data
        return activation_of(self.output, self.dst_channels.value.data, block, self.nhwc is not None and not block)

    def copies_nothing(self) -> bool:
        """Both sides are memrefs of one type that hold each element at the same offset (an NHWC image as one block of its channels)."""
        if self.input.type != self.output.type:
            return False
        return np.array_equal(self.source().offsets(), self.destination().offsets())

    def verify_(self) -> None:
        if self.nhwc is not None and bool(self.src_block.value.data) == bool(self.dst_block.value.data):
            raise VerifyException("small.convert: nhwc needs exactly one plain side (a layout conversion)")
        src, dst = self.source(), self.destination()
        for what, value, activation in (("input", self.input, src), ("output", self.output, dst)):
            if not activation.matches(shape_of(value)):
                raise VerifyException(f"small.convert: {what} type {fmt(shape_of(value))} does not hold {activation}")
        sizes = (src.channels * src.height * src.width, dst.channels * dst.height * dst.width)
        if sizes[0] != sizes[1]:
            raise VerifyException(f"small.convert: {sizes[0]} elements in, {sizes[1]} out")


@irdl_op_definition
class SoftmaxOp(_ActivationOp):
    """
    Softmax over the channels of each pixel.

        small.softmax %x into %y {channels = 10, c_ob = 16} : memref<1x1x1x16xf32> into memref<1x1x1x16xf32>
    """

    name = "small.softmax"
    input = operand_def(MemRefType)
    output = operand_def(MemRefType)
    channels = prop_def(IntegerAttr[i64])
    c_ob = prop_def(IntegerAttr[i64])
    assembly_format = "$input `into` $output attr-dict `:` type($input) `into` type($output)"

    def __init__(self, input: SSAValue, output: SSAValue, channels: int, c_ob: int = 0):
        super().__init__(
            operands=[input, output],
            properties={"channels": IntegerAttr(channels, i64), "c_ob": IntegerAttr(c_ob, i64)},
        )

    def verify_(self) -> None:
        channels, block = self.channels.value.data, self.c_ob.value.data
        self.check(self.input, channels, block, "input")
        self.check(self.output, channels, block, "output")
        if shape_of(self.input) != shape_of(self.output):
            raise VerifyException("small.softmax: input and output types differ")


@irdl_op_definition
class ConcatOp(_ActivationOp):
    """
    Concatenation on channels. `c_ob` is the output's block; each blocked
    input has its own (its type's last dimension).

        small.concat %a, %b into %y {channels = array<i64: 3, 5>, c_ob = 8}
            : memref<1x4x4x8xf32>, memref<1x4x4x8xf32> into memref<1x4x4x8xf32>
    """

    name = "small.concat"
    inputs = var_operand_def(MemRefType)
    output = operand_def(MemRefType)
    channels = prop_def(DenseArrayBase.constr(i64))
    c_ob = prop_def(IntegerAttr[i64])
    assembly_format = "$inputs `into` $output attr-dict `:` type($inputs) `into` type($output)"

    def __init__(self, inputs: Sequence[SSAValue], output: SSAValue, channels: Sequence[int], c_ob: int = 0):
        super().__init__(
            operands=[inputs, output],
            properties={"channels": i64_array(channels), "c_ob": IntegerAttr(c_ob, i64)},
        )

    def parts(self) -> list[Activation]:
        """The inputs' logical views, each in its own block."""
        block = self.c_ob.value.data
        return [
            activation_of(value, count, block and shape_of(value)[-1])
            for value, count in zip(self.inputs, _pair(self.channels))
        ]

    def verify_(self) -> None:
        counts, block = _pair(self.channels), self.c_ob.value.data
        if len(counts) != len(self.inputs):
            raise VerifyException(f"small.concat: {len(self.inputs)} inputs but {len(counts)} channel counts")
        parts = [
            self.check(value, part.channels, part.block, f"input {i}")
            for i, (value, part) in enumerate(zip(self.inputs, self.parts()))
        ]
        out = self.check(self.output, sum(counts), block, "output")
        if any((p.height, p.width) != (out.height, out.width) for p in parts):
            raise VerifyException("small.concat: inputs and output differ in H x W")


Small = Dialect("small", [LayerOp, ConvertOp, SoftmaxOp, ConcatOp], [])
