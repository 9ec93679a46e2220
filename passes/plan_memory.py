"""
plan-memory: places every intermediate buffer (`memref.alloc`) of a function
in one static arena, by liveness.

A buffer lives from the first to the last top-level op of the function that
uses it; buffers whose lives overlap get disjoint byte ranges (first fit,
largest first, `alignment`-byte aligned). The arena is an uninitialized
`memref.global` of i8 and each buffer becomes a `memref.view` into it:

    memref.global "private" @net_arena : memref<4096xi8> = uninitialized
    ...
    %arena = memref.get_global @net_arena : memref<4096xi8>
    %buf = memref.view %arena[%c1024][] : memref<4096xi8> to memref<2x8x8x16xf32>

The arena size is recorded on the function as `small.arena_bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from xdsl.context import Context
from xdsl.dialects import arith, func, memref
from xdsl.dialects.builtin import IndexType, IntegerAttr, IntegerType, ModuleOp, StringAttr, UnitAttr, i64
from xdsl.ir import Block, Operation
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException


@dataclass(frozen=True)
class Buffer:
    alloc: memref.AllocOp
    size: int
    first: int
    last: int


def top_level_op(op: Operation, block: Block) -> Operation:
    while op.parent_block() is not block:
        parent = op.parent_op()
        assert parent is not None
        op = parent
    return op


def live_buffers(block: Block) -> list[Buffer]:
    position = {op: index for index, op in enumerate(block.ops)}
    buffers = []
    for op in block.ops:
        if not isinstance(op, memref.AllocOp):
            continue
        memref_type = op.memref.type
        size = prod(memref_type.get_shape()) * memref_type.get_element_type().bitwidth // 8
        users = [position[top_level_op(use.operation, block)] for use in op.memref.uses]
        start = position[op]
        buffers.append(Buffer(op, size, start, max(users, default=start)))
    return buffers


def round_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def first_fit(buffers: list[Buffer], alignment: int) -> tuple[dict[Buffer, int], int]:
    offsets: dict[Buffer, int] = {}
    for buffer in sorted(buffers, key=lambda b: (-b.size, b.first)):
        clashes = sorted(
            (offsets[other], offsets[other] + other.size)
            for other in offsets
            if other.first <= buffer.last and buffer.first <= other.last
        )
        offset = 0
        for start, end in clashes:
            if offset + buffer.size <= start:
                break
            offset = max(offset, round_up(end, alignment))
        offsets[buffer] = offset
    total = max((offsets[b] + b.size for b in buffers), default=0)
    return offsets, round_up(total, alignment)


@dataclass(frozen=True)
class PlanMemory(ModulePass):
    name = "plan-memory"

    alignment: int = 64
    """Byte alignment of every buffer in the arena."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.alignment < 4 or self.alignment & (self.alignment - 1):
            raise PassFailedException(f"plan-memory: alignment must be a power of two >= 4, got {self.alignment}")
        for function in list(op.ops):
            if isinstance(function, func.FuncOp) and function.body.blocks:
                self.plan(op, function)

    def plan(self, module: ModuleOp, function: func.FuncOp) -> None:
        block = function.body.block
        buffers = live_buffers(block)
        offsets, total = first_fit(buffers, self.alignment)
        function.attributes["small.arena_bytes"] = IntegerAttr(total, i64)
        if not buffers:
            return
        arena_type = memref.MemRefType(IntegerType(8), [total])
        arena = memref.GlobalOp.get(
            StringAttr(f"{function.sym_name.data}_arena"),
            arena_type,
            UnitAttr(),
            sym_visibility=StringAttr("private"),
            alignment=self.alignment,
        )
        Rewriter.insert_op(arena, InsertPoint.before(function))
        for buffer in buffers:
            get = memref.GetGlobalOp(arena.sym_name.data, arena_type)
            shift = arith.ConstantOp(IntegerAttr(offsets[buffer], IndexType()))
            view = memref.ViewOp(get, shift, [], buffer.alloc.memref.type)
            Rewriter.replace_op(buffer.alloc, [get, shift, view], [view.result])
