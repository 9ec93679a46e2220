"""
nn-to-small: every nn layer becomes an abstract layer (`small.layer`) or one of
the small ops that are not register-tile layers.

* conv2d: `conv`; depthwise (one filter per channel) becomes `dwconv`; other
  grouped convs are expanded to a `conv` with zero blocks in the weights;
* dense: a `conv` with a 1x1 filter on a 1x1 image, or, when its input is a
  flattened C x H x W tensor, an H x W filter on that tensor (no reshape);
* pooling: `max` / `avg`, lane-wise; global average pooling is `avg` over H x W;
* add, sub, mul: a `copy` layer combining `other`; relu, clip, leaky relu,
  sigmoid: a `copy` layer with that epilogue;
* softmax, reshape, concat: `small.softmax`, `small.convert`, `small.concat`.

The input must be in destination-passing SSA style: each buffer written by
one layer, which does not read it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func, memref
from xdsl.dialects.builtin import FloatAttr, ModuleOp, StringAttr, UnitAttr, f32
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.utils.exceptions import PassFailedException

from small_ir.dialects import nn, small
from small_ir.dialects.nn import shape_of
from small_ir.weights import add_constant, constant_array, erase_unused_globals


def window(op: Operation, *names: str) -> dict[str, tuple[int, ...]]:
    return {name: tuple(getattr(op, name).get_values()) for name in names}


def lanewise(kind: str, input: SSAValue, output: SSAValue, **kwargs) -> small.LayerOp:
    activation = small.activation_of(input, 0, 0)
    return small.LayerOp(
        kind, input, output, g=activation.channels, k=1, f_c=1, in_hw=(activation.height, activation.width), **kwargs
    )


def conv_layer(input: SSAValue, output: SSAValue, weights: SSAValue, weight_shape, bias: SSAValue | None, in_hw, **window) -> small.LayerOp:
    out_channels, in_channels, fh, fw = weight_shape
    return small.LayerOp(
        "conv", input, output, g=1, k=out_channels, f_c=in_channels, in_hw=tuple(in_hw),
        weights=weights, bias=bias, filter=(fh, fw), **window,
    )


def expand_groups(weight: np.ndarray, group: int) -> np.ndarray:
    """K x C/g x Fh x Fw grouped weights as a dense K x C x Fh x Fw tensor with zero blocks."""
    out_channels, per_group, fh, fw = weight.shape
    per_out = out_channels // group
    dense = np.zeros((out_channels, per_group * group, fh, fw), np.float32)
    for g in range(group):
        dense[g * per_out : (g + 1) * per_out, g * per_group : (g + 1) * per_group] = weight[g * per_out : (g + 1) * per_out]
    return dense


def writer_of(buffer: SSAValue) -> Operation | None:
    """The layer that writes `buffer` (destination passing: its `output` operand)."""
    return next((use.operation for use in buffer.uses if getattr(use.operation, "output", None) is buffer), None)


@dataclass
class LowerConv(RewritePattern):
    module: ModuleOp

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.Conv2dOp, rewriter: PatternRewriter):
        weight = constant_array(op.weight, op)
        channels = shape_of(op.input)[1]
        group = op.group.value.data
        attributes = window(op, "strides", "dilations", "pads")
        if group > 1 and group == channels == weight.shape[0]:
            layer = lanewise("dwconv", op.input, op.output, weights=op.weight, bias=op.bias, filter=weight.shape[2:], **attributes)
            rewriter.replace(op, layer)
            return
        weights = op.weight
        if group > 1:
            weight = expand_groups(weight, group)
            weights = add_constant(self.module, op, weight, "w")
        layer = conv_layer(op.input, op.output, weights, weight.shape, op.bias, shape_of(op.input)[2:], **attributes)
        rewriter.replace(op, layer)


@dataclass
class LowerDense(RewritePattern):
    module: ModuleOp

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.DenseOp, rewriter: PatternRewriter):
        weight = constant_array(op.weight, op)
        flatten = writer_of(op.input)
        absorbs_flatten = (
            isinstance(flatten, nn.ReshapeOp)
            and isinstance(op.input.owner, memref.AllocOp)
            and len(shape_of(flatten.input)) == 4
            and len(list(op.input.uses)) == 2
        )
        input = flatten.input if absorbs_flatten else op.input
        shape = shape_of(input) if absorbs_flatten else (1, weight.shape[1], 1, 1)
        weight = weight.reshape(weight.shape[0], *shape[1:])
        weights = add_constant(self.module, op, weight, "w")
        rewriter.replace(op, conv_layer(input, op.output, weights, weight.shape, op.bias, shape[2:]))
        if absorbs_flatten:
            buffer = flatten.output
            rewriter.erase(flatten)
            rewriter.erase(buffer.owner)


class LowerMaxPool(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.MaxPool2dOp, rewriter: PatternRewriter):
        attributes = window(op, "strides", "dilations", "pads")
        rewriter.replace(op, lanewise("max", op.input, op.output, filter=op.kernel_pair, **attributes))


class LowerAvgPool(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.AvgPool2dOp, rewriter: PatternRewriter):
        extra = {"count_include_pad": UnitAttr()} if op.count_include_pad.value.data else {}
        layer = lanewise("avg", op.input, op.output, filter=op.kernel_pair, extra=extra, **window(op, "strides", "pads"))
        rewriter.replace(op, layer)


class LowerGlobalAvgPool(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.GlobalAvgPoolOp, rewriter: PatternRewriter):
        _, _, height, width = shape_of(op.input)
        rewriter.replace(op, lanewise("avg", op.input, op.output, filter=(height, width)))


class LowerBinary(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.AddOp | nn.SubOp | nn.MulOp, rewriter: PatternRewriter):
        combine = StringAttr(op.name.removeprefix("nn."))
        rewriter.replace(op, lanewise("copy", op.lhs, op.output, other=op.rhs, extra={"combine": combine}))


def activation_epilogue(op: Operation) -> dict[str, Attribute] | None:
    if isinstance(op, nn.ReluOp):
        return {"clamp_min": FloatAttr(0.0, f32)}
    if isinstance(op, nn.ClipOp):
        return {"clamp_min": FloatAttr(op.min.value.data, f32), "clamp_max": FloatAttr(op.max.value.data, f32)}
    if isinstance(op, nn.LeakyReluOp):
        return {"leaky": FloatAttr(op.alpha.value.data, f32)}
    if isinstance(op, nn.SigmoidOp):
        return {"sigmoid": UnitAttr()}
    return None


class LowerActivation(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter):
        epilogue = activation_epilogue(op)
        if epilogue is None:
            return
        rewriter.replace(op, lanewise("copy", op.input, op.output, extra=epilogue))


class LowerSoftmax(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.SoftmaxOp, rewriter: PatternRewriter):
        rewriter.replace(op, small.SoftmaxOp(op.input, op.output, shape_of(op.input)[1]))


class LowerReshape(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ReshapeOp, rewriter: PatternRewriter):
        src, dst = small.activation_of(op.input, 0, 0), small.activation_of(op.output, 0, 0)
        rewriter.replace(op, small.ConvertOp(op.input, op.output, (src.channels, 0), (dst.channels, 0)))


class LowerConcat(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.ConcatOp, rewriter: PatternRewriter):
        channels = [shape_of(value)[1] for value in op.inputs]
        rewriter.replace(op, small.ConcatOp(list(op.inputs), op.output, channels))


def check_single_assignment(block: Block) -> None:
    """Every buffer is written by one layer, which does not read it (the passes rely on it)."""
    writers: dict[SSAValue, Operation] = {}
    for op in block.ops:
        output = getattr(op, "output", None)
        if op.dialect_name() != "nn" or output is None:
            continue
        if output in writers:
            raise PassFailedException(
                f"{op.name}: writes a buffer that {writers[output].name} already wrote; write each buffer once (use a new memref.alloc)"
            )
        if output in op.operands[:-1]:
            raise PassFailedException(f"{op.name}: reads the buffer it writes; in-place layers are not supported, write to a new memref.alloc")
        writers[output] = op


@dataclass(frozen=True)
class NNToSmall(ModulePass):
    """Lowers nn layers to small abstract layers (plain NCHW memrefs, c_ob = 0)."""

    name = "nn-to-small"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for function in op.ops:
            if isinstance(function, func.FuncOp) and function.body.blocks:
                check_single_assignment(function.body.block)
        # Dense first, so that it can absorb the flatten before it.
        PatternRewriteWalker(LowerDense(op), apply_recursively=False).rewrite_module(op)
        patterns = [
            LowerConv(op), LowerMaxPool(), LowerAvgPool(), LowerGlobalAvgPool(), LowerBinary(),
            LowerActivation(), LowerSoftmax(), LowerReshape(), LowerConcat(),
        ]
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns), apply_recursively=False).rewrite_module(op)
        erase_unused_globals(op)
