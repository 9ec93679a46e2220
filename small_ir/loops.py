"""
Building loop nests with explicit index arithmetic (scf + arith on `index`).

`Index` values are Python ints while they are known at compile time and SSA
values once they depend on a loop variable, so the emitted IR only holds the
arithmetic that has to run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.builder import Builder, InsertPoint
from xdsl.dialects import arith, func, scf
from xdsl.dialects.builtin import FloatAttr, IndexType, IntegerAttr, f32
from xdsl.ir import Attribute, Block, Operation, SSAValue

Index = int | SSAValue


def known(index: Index) -> Index:
    """The value of an index constant as an int; other values unchanged."""
    if isinstance(index, SSAValue) and isinstance(index.owner, arith.ConstantOp):
        value = index.owner.value
        if isinstance(value, IntegerAttr) and isinstance(value.type, IndexType):
            return value.value.data
    return index


class Constants:
    """Each constant once, at the start of the function's entry block (so it dominates every use)."""

    def __init__(self, function_block: Block):
        self.block = function_block
        self.known: dict[Attribute, SSAValue] = {}
        self.last: Operation | None = None

    @staticmethod
    def for_op(op: Operation, pools: dict[Block, Constants]) -> Constants:
        """The pool of the function around `op`, from `pools` (one per pass run)."""
        while not isinstance(op.parent_op(), func.FuncOp):
            op = op.parent_op()
        block = op.parent_block()
        if block not in pools:
            pools[block] = Constants(block)
        return pools[block]

    def get(self, value: Attribute) -> SSAValue:
        if value in self.known:
            return self.known[value]
        # Each new constant goes after the previous one, so all stay in front of the code using them.
        point = InsertPoint.after(self.last) if self.last is not None else InsertPoint.at_start(self.block)
        self.last = Builder(point).insert(arith.ConstantOp(value))
        self.known[value] = self.last.result
        return self.known[value]


class LoopBuilder:
    """Inserts ops at an insertion point; `for_` nests loops."""

    def __init__(self, point: InsertPoint, constants: Constants | None = None):
        self.builder = Builder(point)
        self.constants = constants

    @staticmethod
    def before(op: Operation, pools: dict[Block, Constants]) -> LoopBuilder:
        """A builder inserting before `op`, sharing the function's constants through `pools`."""
        return LoopBuilder(InsertPoint.before(op), Constants.for_op(op, pools))

    def insert(self, op: Operation) -> Operation:
        return self.builder.insert(op)

    def constant(self, value: Attribute) -> SSAValue:
        if self.constants is None:
            return self.insert(arith.ConstantOp(value)).result
        return self.constants.get(value)

    def value(self, index: Index) -> SSAValue:
        if isinstance(index, int):
            return self.constant(IntegerAttr(index, IndexType()))
        return index

    def values(self, indices: Sequence[Index]) -> list[SSAValue]:
        return [self.value(index) for index in indices]

    def f32(self, number: float) -> SSAValue:
        return self.constant(FloatAttr(number, f32))

    def _binary(self, op_class, fold: Callable[[int, int], int], a: Index, b: Index) -> Index:
        a, b = known(a), known(b)
        if isinstance(a, int) and isinstance(b, int):
            return fold(a, b)
        return self.insert(op_class(self.value(a), self.value(b))).result

    def add(self, a: Index, b: Index) -> Index:
        a, b = known(a), known(b)
        if b == 0:
            return a
        if a == 0:
            return b
        return self._binary(arith.AddiOp, lambda x, y: x + y, a, b)

    def sub(self, a: Index, b: Index) -> Index:
        a, b = known(a), known(b)
        if b == 0:
            return a
        return self._binary(arith.SubiOp, lambda x, y: x - y, a, b)

    def mul(self, a: Index, b: Index) -> Index:
        a, b = known(a), known(b)
        if b == 1:
            return a
        if a == 1:
            return b
        if a == 0 or b == 0:
            return 0
        return self._binary(arith.MuliOp, lambda x, y: x * y, a, b)

    def max(self, a: Index, b: Index) -> Index:
        return self._binary(arith.MaxSIOp, max, a, b)

    def min(self, a: Index, b: Index) -> Index:
        return self._binary(arith.MinSIOp, min, a, b)

    def ceil_div(self, a: Index, b: int) -> Index:
        """ceil(a / b) for a >= 0 and a constant b > 0."""
        if b == 1:
            return a
        return self._binary(arith.DivUIOp, lambda x, y: x // y, self.add(a, b - 1), b)

    def for_(self, lower: Index, upper: Index, body: Callable[[Index], None], step: int = 1) -> None:
        """`for i in range(lower, upper, step)`; a single iteration is inlined."""
        if isinstance(lower, int) and isinstance(upper, int):
            if upper <= lower:
                return
            if upper - lower <= step:
                body(lower)
                return
        block = Block(arg_types=[IndexType()])
        loop = scf.ForOp(self.value(lower), self.value(upper), self.value(step), [], block)
        self.insert(loop)
        outer = self.builder.insertion_point
        self.builder.insertion_point = InsertPoint.at_end(block)
        body(block.args[0])
        self.insert(scf.YieldOp())
        self.builder.insertion_point = outer

    def reduce(self, lower: int, upper: int, init: SSAValue, body: Callable[[Index, SSAValue], SSAValue]) -> SSAValue:
        """`acc = init; for i in range(lower, upper): acc = body(i, acc)`; returns acc."""
        block = Block(arg_types=[IndexType(), init.type])
        loop = scf.ForOp(self.value(lower), self.value(upper), self.value(1), [init], block)
        self.insert(loop)
        outer = self.builder.insertion_point
        self.builder.insertion_point = InsertPoint.at_end(block)
        self.insert(scf.YieldOp(body(block.args[0], block.args[1])))
        self.builder.insertion_point = outer
        return loop.res[0]
