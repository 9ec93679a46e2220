"""
small-layout: puts every activation in the one shared blocked layout
`[C / Cb][H][W][Cb]` (Cb = `c_ob`, a target parameter; `narrow_block` for
activations of few channels), packs weights at compile time and converts
layout only at the function's inputs and outputs.

* intermediate buffers change type, plain -> blocked;
* each input argument is converted once into a blocked buffer, each output
  argument is written through a blocked buffer converted at the end (with
  `io_layout=blocked` the arguments themselves become blocked buffers);
* conv weights become `[K/Cb][F_c/Cb_in][Fh][Fw][Cb_in][Cb]` (Cb_in: the input's
  block), depthwise weights
  `[C/Cb][Fh][Fw][Cb]`, biases `[K/Cb][Cb]`, zero-padded;
* every small op records `c_ob` (and `small.layer` the tile width `w_ob`);
* with `narrow_block`, an activation of at most that many channels is
  blocked by it instead of by Cb (MobileNet's 8-channel layers: no lanes of
  zeros), and the layers writing it get the tile width `narrow_w_ob`;
* a reshape that does not move data in the blocked layout (`1xCx1x1` <->
  `1xC`) disappears: its output aliases its input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func, memref
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from small_ir.builder import memref_type
from small_ir.dialects import small
from small_ir.dialects.nn import shape_of
from small_ir.dialects.small import Activation, activation_of, ceil_div
from small_ir.weights import add_constant, constant_array, erase_unused_globals


def blocked_type(value: SSAValue, block: int) -> memref.MemRefType:
    plain = activation_of(value, 0, 0)
    return memref_type(Activation(plain.channels, plain.height, plain.width, block).memref_shape())


def pack_conv(weight: np.ndarray, block: int, input_block: int) -> np.ndarray:
    out_channels, in_channels, fh, fw = weight.shape
    kb, cb = ceil_div(out_channels, block), ceil_div(in_channels, input_block)
    padded = np.zeros((kb * block, cb * input_block, fh, fw), np.float32)
    padded[:out_channels, :in_channels] = weight
    # [kb, co, cb, ci, h, w] -> [kb, cb, h, w, ci, co]
    return padded.reshape(kb, block, cb, input_block, fh, fw).transpose(0, 2, 4, 5, 3, 1).copy()


def pack_depthwise(weight: np.ndarray, block: int) -> np.ndarray:
    channels, _, fh, fw = weight.shape
    padded = np.zeros((ceil_div(channels, block) * block, fh, fw), np.float32)
    padded[:channels] = weight[:, 0]
    return padded.reshape(-1, block, fh, fw).transpose(0, 2, 3, 1).copy()


def pack_bias(bias: np.ndarray, block: int) -> np.ndarray:
    padded = np.zeros(ceil_div(bias.shape[0], block) * block, np.float32)
    padded[: bias.shape[0]] = bias
    return padded.reshape(-1, block)


IO_LAYOUTS = ("nchw", "nhwc", "blocked")


def is_small_op(op: Operation) -> bool:
    return isinstance(op, small.LayerOp | small.ConvertOp | small.SoftmaxOp | small.ConcatOp)


@dataclass(frozen=True)
class SmallLayout(ModulePass):
    name = "small-layout"

    c_ob: int = 16
    """Channel block Cb: the lanes of the register tile."""

    w_ob: int = 6
    """Register tile width: output pixels per microkernel call."""

    narrow_block: int = 0
    """Channel block of the activations with at most this many channels, if smaller than c_ob (0: none)."""

    narrow_w_ob: int = 0
    """Tile width of the layers writing a narrow activation (0: w_ob)."""

    io_layout: str = "nchw"
    """Layout of the function's inputs and outputs: nchw; nhwc (4-D ones become 1xHxWxC);
    or blocked (the arguments are the blocked buffers: no conversion, e.g. to chain compiled parts)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.io_layout not in IO_LAYOUTS:
            raise PassFailedException(f"small-layout: io_layout must be one of {', '.join(IO_LAYOUTS)}, got {self.io_layout}")
        if self.c_ob < 1 or self.w_ob < 1:
            raise PassFailedException(f"small-layout: c_ob and w_ob must be >= 1, got c_ob={self.c_ob} w_ob={self.w_ob}")
        if self.narrow_block < 0 or self.narrow_w_ob < 0:
            raise PassFailedException(
                f"small-layout: narrow_block and narrow_w_ob must be >= 0, got {self.narrow_block} and {self.narrow_w_ob}"
            )
        for function in op.ops:
            if isinstance(function, func.FuncOp) and function.body.blocks:
                self.block_function(op, function.body.block)
        erase_unused_globals(op)

    def block_function(self, module: ModuleOp, block: Block) -> None:
        layers = [op for op in block.ops if is_small_op(op)]
        if not layers:
            return
        if any(isinstance(op, small.LayerOp) and op.block for op in layers):
            raise PassFailedException("small-layout: the function is already blocked")
        blocked: set[SSAValue] = set()
        for alloc in [op for op in block.ops if isinstance(op, memref.AllocOp)]:
            blocked |= self.retype_buffer(alloc)
        for index in range(len(block.args)):
            blocked |= self.convert_argument(block, index)
        for op in layers:
            self.block_op(module, op, blocked)
        for op in [op for op in block.ops if isinstance(op, small.ConvertOp)]:
            self.drop_if_noop(op)

    def block_of(self, channels: int) -> int:
        """The channel block of an activation of `channels` channels."""
        return self.narrow_block if 0 < channels <= self.narrow_block < self.c_ob else self.c_ob

    def blocked(self, value: SSAValue) -> memref.MemRefType:
        """The blocked type of activation `value`, in its block."""
        return blocked_type(value, self.block_of(activation_of(value, 0, 0).channels))

    def retype_buffer(self, alloc: memref.AllocOp) -> set[SSAValue]:
        if not any(is_small_op(use.operation) for use in alloc.memref.uses):
            return set()
        new = memref.AllocOp([], [], self.blocked(alloc.memref))
        Rewriter.replace_op(alloc, new)
        return {new.memref}

    def convert_argument(self, block: Block, index: int) -> set[SSAValue]:
        argument = block.args[index]
        users = [use.operation for use in argument.uses if is_small_op(use.operation)]
        if not users:
            return set()
        plain = activation_of(argument, 0, 0)
        if self.io_layout == "blocked":
            return {self.block_argument(block, index)}
        channel_block = self.block_of(plain.channels)
        if plain.channels < channel_block and all(self.reads_as_conv_input(op, argument) for op in users):
            channel_block = plain.channels  # a narrow network input read only by convs: one exact block
        buffer = memref.AllocOp([], [], blocked_type(argument, channel_block))
        nhwc = self.io_layout == "nhwc" and len(shape_of(argument)) == 4
        if nhwc:
            function = block.parent_op()
            assert isinstance(function, func.FuncOp)
            function.replace_argument_type(argument, memref_type((1, plain.height, plain.width, plain.channels)), Rewriter())
            argument = block.args[index]
        if any(getattr(op, "output", None) is argument for op in users):
            convert = small.ConvertOp(buffer.memref, argument, (plain.channels, channel_block), (plain.channels, 0), nhwc)
            first_user = min(users, key=lambda op: block.get_operation_index(op))
            Rewriter.insert_op([buffer], InsertPoint.before(first_user))
            Rewriter.insert_op([convert], InsertPoint.before(block.last_op))
        else:
            convert = small.ConvertOp(argument, buffer.memref, (plain.channels, 0), (plain.channels, channel_block), nhwc)
            Rewriter.insert_op([buffer, convert], InsertPoint.at_start(block))
        for op in users:
            for index, operand in enumerate(op.operands):
                if operand is argument:
                    op.operands[index] = buffer.memref
        return {buffer.memref}

    @staticmethod
    def reads_as_conv_input(op: Operation, value: SSAValue) -> bool:
        if not isinstance(op, small.LayerOp) or op.kind.data != "conv":
            return False
        return [operand is value for operand in op.operands] == [operand is op.input for operand in op.operands]

    def block_argument(self, block: Block, index: int) -> SSAValue:
        """io_layout=blocked: the argument itself becomes the blocked buffer (no conversion)."""
        function = block.parent_op()
        assert isinstance(function, func.FuncOp)
        function.replace_argument_type(block.args[index], self.blocked(block.args[index]), Rewriter())
        return block.args[index]

    def block_op(self, module: ModuleOp, op: Operation, blocked: set[SSAValue]) -> None:
        def block_attr(channels: int) -> IntegerAttr:
            return IntegerAttr(self.block_of(channels), i64)

        if isinstance(op, small.ConvertOp):  # the argument conversions come with their blocks
            if op.input in blocked and not op.src_block.value.data:
                op.src_block = block_attr(op.src_channels.value.data)
            if op.output in blocked and not op.dst_block.value.data:
                op.dst_block = block_attr(op.dst_channels.value.data)
            return
        if isinstance(op, small.SoftmaxOp):
            op.c_ob = block_attr(op.channels.value.data)
            return
        if isinstance(op, small.ConcatOp):
            op.c_ob = block_attr(sum(op.channels.get_values()))
            return
        assert isinstance(op, small.LayerOp)
        block = self.block_of(op.out_channels)
        op.c_ob = IntegerAttr(block, i64)
        op.w_ob = IntegerAttr(self.narrow_w_ob if block < self.c_ob and self.narrow_w_ob else self.w_ob, i64)
        if op.weights is not None:
            weight = constant_array(op.weights, op)
            packed = pack_conv(weight, block, op.input_block) if op.kind.data == "conv" else pack_depthwise(weight, block)
            op.operands[1] = add_constant(module, op, packed, "w")
        if op.bias is not None:
            op.operands[2] = add_constant(module, op, pack_bias(constant_array(op.bias, op), block), "b")

    def drop_if_noop(self, op: small.ConvertOp) -> None:
        src, dst = op.source(), op.destination()
        if not (src.block and dst.block and src == dst and isinstance(op.output.owner, memref.AllocOp)):
            return
        buffer = op.output
        Rewriter.erase_op(op)
        buffer.replace_all_uses_with(op.input)
        Rewriter.erase_op(buffer.owner)
