"""
small-lower-nontiled: lowers the small ops that are not register-tile layers
to plain loops over the logical channels, rows and columns.

* `small.convert`: layout changes at the model boundary and reshapes (element
  by element in the logical C order; padding lanes are never touched). A
  convert that `copies_nothing` (a TFLite model's NHWC image, read as one
  block of its channels) goes away: the layers read the model's input
  (write its output) in place of the buffer it filled (emptied);
* `small.softmax`: per pixel, max, then exp and sum, then scale by 1 / sum;
* `small.concat`: each input copied to its channel offset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, math, memref
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from small_ir.dialects import small
from small_ir.dialects.nn import shape_of
from small_ir.dialects.small import Activation, activation_of
from small_ir.loops import Constants, Index, LoopBuilder


@dataclass
class Channel:
    """A logical channel index, with its split into block and lane when a loop over blocks of `size` made it."""

    index: Index
    block: Index | None = None
    lane: Index | None = None
    size: int = 0


def channel_loop(loops: LoopBuilder, channels: int, block: int, body: Callable[[Channel], None]) -> None:
    """Visits the real channels; blocked layouts loop over blocks and lanes."""
    if not block:
        loops.for_(0, channels, lambda c: body(Channel(c)))
        return

    def lanes(cb: Index, count: int) -> None:
        loops.for_(0, count, lambda ci: body(Channel(loops.add(loops.mul(cb, block), ci), cb, ci, block)))

    full, rest = divmod(channels, block)
    loops.for_(0, full, lambda cb: lanes(cb, block))
    if rest:
        lanes(full, rest)


def address(loops: LoopBuilder, value: SSAValue, activation: Activation, channel: Channel, h: Index, w: Index) -> list[SSAValue]:
    if activation.block:
        block, lane = channel.block, channel.lane
        if block is None or lane is None or channel.size != activation.block:  # split for another block size
            block = loops.insert(arith.DivUIOp(loops.value(channel.index), loops.value(activation.block))).result
            lane = loops.insert(arith.RemUIOp(loops.value(channel.index), loops.value(activation.block))).result
        return loops.values([block, h, w, lane])
    if activation.nhwc:
        return loops.values([0, h, w, channel.index])
    return loops.values([0, channel.index, h, w][: len(shape_of(value))])


def pixel_loops(loops: LoopBuilder, activation: Activation, body: Callable[[Index, Index], None]) -> None:
    loops.for_(0, activation.height, lambda h: loops.for_(0, activation.width, lambda w: body(h, w)))


def copy_element(loops: LoopBuilder, src: SSAValue, src_index: list[SSAValue], dst: SSAValue, dst_index: list[SSAValue]) -> None:
    element = loops.insert(memref.LoadOp.get(src, src_index)).res
    loops.insert(memref.StoreOp.get(element, dst, dst_index))


def lower_convert(loops: LoopBuilder, op: small.ConvertOp) -> None:
    src, dst = op.source(), op.destination()
    iterate = src if src.block else dst

    def same_shape(channel: Channel, h: Index, w: Index) -> None:
        copy_element(loops, op.input, address(loops, op.input, src, channel, h, w), op.output, address(loops, op.output, dst, channel, h, w))

    def reshape(channel: Channel, h: Index, w: Index) -> None:
        flat = loops.add(loops.mul(loops.add(loops.mul(channel.index, dst.height), h), dst.width), w)
        source = [loops.value(flat)]
        c_s = loops.insert(arith.DivUIOp(source[0], loops.value(src.height * src.width))).result
        hw = loops.insert(arith.RemUIOp(source[0], loops.value(src.height * src.width))).result
        h_s = loops.insert(arith.DivUIOp(hw, loops.value(src.width))).result
        w_s = loops.insert(arith.RemUIOp(hw, loops.value(src.width))).result
        copy_element(loops, op.input, address(loops, op.input, src, Channel(c_s), h_s, w_s), op.output, address(loops, op.output, dst, channel, h, w))

    if (src.channels, src.height, src.width) == (dst.channels, dst.height, dst.width):
        channel_loop(loops, iterate.channels, iterate.block, lambda c: pixel_loops(loops, iterate, lambda h, w: same_shape(c, h, w)))
    else:
        channel_loop(loops, dst.channels, dst.block, lambda c: pixel_loops(loops, dst, lambda h, w: reshape(c, h, w)))


def lower_softmax(loops: LoopBuilder, op: small.SoftmaxOp) -> None:
    activation = activation_of(op.input, op.channels.value.data, op.c_ob.value.data)
    channels = activation.channels

    def pixel(h: Index, w: Index) -> None:
        def load(value: SSAValue, c: Index) -> SSAValue:
            return loops.insert(memref.LoadOp.get(value, address(loops, value, activation, Channel(c), h, w))).res

        largest = loops.reduce(0, channels, loops.f32(float("-inf")), lambda c, m: loops.insert(arith.MaximumfOp(m, load(op.input, c))).result)

        def exp_and_sum(c: Index, total: SSAValue) -> SSAValue:
            shifted = loops.insert(arith.SubfOp(load(op.input, c), largest)).result
            e = loops.insert(math.ExpOp(shifted)).result
            loops.insert(memref.StoreOp.get(e, op.output, address(loops, op.output, activation, Channel(c), h, w)))
            return loops.insert(arith.AddfOp(total, e)).result

        total = loops.reduce(0, channels, loops.f32(0.0), exp_and_sum)
        inverse = loops.insert(arith.DivfOp(loops.f32(1.0), total)).result

        def scale(c: Index) -> None:
            scaled = loops.insert(arith.MulfOp(load(op.output, c), inverse)).result
            loops.insert(memref.StoreOp.get(scaled, op.output, address(loops, op.output, activation, Channel(c), h, w)))

        loops.for_(0, channels, scale)

    pixel_loops(loops, activation, pixel)


def copy_channels(loops: LoopBuilder, value: SSAValue, part: Activation, output: SSAValue, whole: Activation, offset: int) -> None:
    """Copies the `part` tensor into channels [offset, offset + C) of `output`."""

    def copy(channel: Channel, h: Index, w: Index) -> None:
        target = Channel(loops.add(channel.index, offset))
        if channel.block is not None and part.block == whole.block and offset % whole.block == 0:  # aligned: no division
            target = Channel(target.index, loops.add(channel.block, offset // whole.block), channel.lane, whole.block)
        copy_element(loops, value, address(loops, value, part, channel, h, w), output, address(loops, output, whole, target, h, w))

    channel_loop(loops, part.channels, part.block, lambda c: pixel_loops(loops, part, lambda h, w: copy(c, h, w)))


def lower_concat(loops: LoopBuilder, op: small.ConcatOp) -> None:
    output = activation_of(op.output, sum(op.channels.get_values()), op.c_ob.value.data)
    offset = 0
    for value, part in zip(op.inputs, op.parts()):
        copy_channels(loops, value, part, op.output, output, offset)
        offset += part.channels


def drop_copy(op: small.ConvertOp, rewriter: PatternRewriter) -> bool:
    """Replaces the buffer that a convert which copies nothing fills (else empties) by its other side, if it can."""
    if not op.copies_nothing():
        return False
    for kept, dropped in ((op.input, op.output), (op.output, op.input)):
        if isinstance(dropped.owner, memref.AllocOp):
            allocation = dropped.owner
            dropped.replace_all_uses_with(kept)
            rewriter.erase(op)
            rewriter.erase(allocation)
            return True
    return False


LOWERINGS: dict[type[Operation], Callable] = {
    small.ConvertOp: lower_convert,
    small.SoftmaxOp: lower_softmax,
    small.ConcatOp: lower_concat,
}


class LowerNonTiled(RewritePattern):
    def __init__(self):
        self.constants: dict[Block, Constants] = {}

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter):
        lowering = LOWERINGS.get(type(op))
        if lowering is None or isinstance(op, small.ConvertOp) and drop_copy(op, rewriter):
            return
        lowering(LoopBuilder.before(op, self.constants), op)
        rewriter.erase(op)


@dataclass(frozen=True)
class SmallLowerNonTiled(ModulePass):
    """Lowers small.convert, small.softmax and small.concat to loops."""

    name = "small-lower-nontiled"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(LowerNonTiled(), apply_recursively=False).rewrite_module(op)

