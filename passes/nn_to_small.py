"""
nn-to-small: every nn layer becomes an abstract layer (`small.layer`) or one of
the small ops that are not register-tile layers.

* conv2d: `conv`; depthwise (one filter per channel) becomes `dwconv`; other
  grouped convs are expanded to a `conv` with zero blocks in the weights;
* dense: a `conv` with a 1x1 filter on a 1x1 image, or, when its input is a
  flattened C x H x W tensor, an H x W filter on that tensor (no reshape);
* pooling: `max` / `avg`, lane-wise; global average pooling is `avg` over H x W;
* add, mul: a `copy` layer combining `other`; relu, clip, leaky relu: a `copy`
  layer with that epilogue;
* softmax, reshape, concat: `small.softmax`, `small.convert`, `small.concat`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import FloatAttr, ModuleOp, StringAttr, UnitAttr, f32
from xdsl.dialects.builtin import DenseArrayBase
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from small_ir.dialects import nn, small
from small_ir.dialects.nn import shape_of
from small_ir.weights import add_constant, constant_array, erase_unused_globals


def _pairs(op: Operation, *names: str) -> dict:
    return {name: tuple(getattr(op, name).get_values()) for name in names}


def _lanewise(kind: str, op: Operation, input: SSAValue, output: SSAValue, **kwargs) -> small.LayerOp:
    activation = small.activation_of(input, 0, 0)
    return small.LayerOp(kind, input, output, g=activation.channels, k=1, f_c=1, in_hw=(activation.height, activation.width), **kwargs)


def _writer(buffer: SSAValue) -> Operation | None:
    """The nn op that writes `buffer` (destination-passing: its `output` operand)."""
    for use in buffer.uses:
        if getattr(use.operation, "output", None) is buffer:
            return use.operation
    return None


@dataclass
class LowerConv(RewritePattern):
    module: ModuleOp

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.Conv2dOp, rewriter: PatternRewriter):
        weight = constant_array(op.weight)
        _, channels, h, w = shape_of(op.input)
        group = op.group.value.data
        window = _pairs(op, "strides", "dilations", "pads")
        window["filter"] = weight.shape[2:]
        if group > 1 and group == channels == weight.shape[0]:
            rewriter.replace(
                op,
                small.LayerOp(
                    "dwconv", op.input, op.output, g=channels, k=1, f_c=1, in_hw=(h, w),
                    weights=op.weight, bias=op.bias, **window,
                ),
            )
            return
        weights = op.weight
        if group > 1:
            weights = add_constant(self.module, op, _expand_groups(weight, group), "w")
        rewriter.replace(
            op,
            small.LayerOp(
                "conv", op.input, op.output, g=1, k=weight.shape[0], f_c=channels, in_hw=(h, w),
                weights=weights, bias=op.bias, **window,
            ),
        )


def _expand_groups(weight: np.ndarray, group: int) -> np.ndarray:
    """K x C/g x Fh x Fw grouped weights as a dense K x C x Fh x Fw tensor with zero blocks."""
    out_channels, per_group, fh, fw = weight.shape
    per_out = out_channels // group
    dense = np.zeros((out_channels, per_group * group, fh, fw), np.float32)
    for g in range(group):
        dense[g * per_out : (g + 1) * per_out, g * per_group : (g + 1) * per_group] = weight[g * per_out : (g + 1) * per_out]
    return dense


@dataclass
class LowerDense(RewritePattern):
    module: ModuleOp

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: nn.DenseOp, rewriter: PatternRewriter):
        weight = constant_array(op.weight)
        input = op.input
        channels, h, w = weight.shape[1], 1, 1
        flatten = _writer(op.input)
        if isinstance(flatten, nn.ReshapeOp) and len(shape_of(flatten.input)) == 4 and len(list(op.input.uses)) == 2:
            input = flatten.input
            _, channels, h, w = shape_of(input)
        weights = add_constant(self.module, op, weight.reshape(weight.shape[0], channels, h, w), "w")
        rewriter.replace(
            op,
            small.LayerOp(
                "conv", input, op.output, g=1, k=weight.shape[0], f_c=channels, in_hw=(h, w),
                weights=weights, bias=op.bias, filter=(h, w),
            ),
        )
        if input is not op.input:
            buffer = flatten.output
            rewriter.erase(flatten)
            rewriter.erase(buffer.owner)


class LowerPools(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter):
        if isinstance(op, nn.MaxPool2dOp):
            window = _pairs(op, "strides", "dilations", "pads")
            rewriter.replace(op, _lanewise("max", op, op.input, op.output, filter=op.kernel_pair, **window))
        elif isinstance(op, nn.AvgPool2dOp):
            window = _pairs(op, "strides", "pads")
            extra = {"count_include_pad": UnitAttr()} if op.count_include_pad.value.data else {}
            rewriter.replace(op, _lanewise("avg", op, op.input, op.output, filter=op.kernel_pair, extra=extra, **window))
        elif isinstance(op, nn.GlobalAvgPoolOp):
            _, _, h, w = shape_of(op.input)
            rewriter.replace(op, _lanewise("avg", op, op.input, op.output, filter=(h, w)))


class LowerElementwise(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter):
        extra: dict[str, Attribute]
        if isinstance(op, nn.AddOp | nn.MulOp):
            combine = "add" if isinstance(op, nn.AddOp) else "mul"
            layer = _lanewise("copy", op, op.lhs, op.output, other=op.rhs, extra={"combine": StringAttr(combine)})
        elif isinstance(op, nn.ReluOp):
            layer = _lanewise("copy", op, op.input, op.output, extra={"clamp": DenseArrayBase.from_list(f32, [0.0, float("inf")])})
        elif isinstance(op, nn.ClipOp):
            bounds = [op.min.value.data, op.max.value.data]
            layer = _lanewise("copy", op, op.input, op.output, extra={"clamp": DenseArrayBase.from_list(f32, bounds)})
        elif isinstance(op, nn.LeakyReluOp):
            layer = _lanewise("copy", op, op.input, op.output, extra={"leaky": FloatAttr(op.alpha.value.data, f32)})
        else:
            return
        rewriter.replace(op, layer)


class LowerDataMovement(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter):
        if isinstance(op, nn.SoftmaxOp):
            rewriter.replace(op, small.SoftmaxOp(op.input, op.output, shape_of(op.input)[1]))
        elif isinstance(op, nn.ReshapeOp):
            src, dst = small.activation_of(op.input, 0, 0), small.activation_of(op.output, 0, 0)
            rewriter.replace(op, small.ConvertOp(op.input, op.output, (src.channels, 0), (dst.channels, 0)))
        elif isinstance(op, nn.ConcatOp):
            channels = [shape_of(value)[1] for value in op.inputs]
            rewriter.replace(op, small.ConcatOp(list(op.inputs), op.output, channels))


@dataclass(frozen=True)
class NNToSmall(ModulePass):
    """Lowers nn layers to small abstract layers (plain NCHW memrefs, c_ob = 0)."""

    name = "nn-to-small"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        # Dense first, so that it can absorb the flatten before it.
        PatternRewriteWalker(LowerDense(op), apply_recursively=False).rewrite_module(op)
        patterns = [LowerConv(op), LowerPools(), LowerElementwise(), LowerDataMovement()]
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns), apply_recursively=False).rewrite_module(op)
        erase_unused_globals(op)
