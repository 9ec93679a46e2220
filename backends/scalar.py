"""
lower-kernel-to-scalar: portable C. The register tile is a local
`float tile[W_ob][C_ob]` (a `memref.alloca`), each kernel op a loop nest of
scalar loads, arithmetic and stores that the C compiler may vectorise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import f32
from xdsl.ir import SSAValue

from small_ir.backends.microkernel import Access, LowerKernel, Microkernel, TargetSpec, Tile, scalar_sigmoid
from small_ir.loops import Index

TARGET = TargetSpec("scalar", c_ob=8, w_ob=4)


class ScalarKernel(Microkernel):
    def declare(self, pixels: int, lanes: int) -> SSAValue:
        return self.loops.insert(memref.AllocaOp.get(f32, shape=[pixels, lanes])).memref

    def each(self, tile: Tile, body: Callable[[Index, Index], None]) -> None:
        loops = self.loops
        loops.for_(0, tile.pixels, lambda p: loops.for_(0, tile.lanes, lambda c: body(p, c)))

    def get(self, memref_value: SSAValue, indices) -> SSAValue:
        return self.loops.insert(memref.LoadOp.get(memref_value, self.loops.values(indices))).res

    def put(self, value: SSAValue, memref_value: SSAValue, indices) -> None:
        self.loops.insert(memref.StoreOp.get(value, memref_value, self.loops.values(indices)))

    def element(self, access: Access, p: Index, c: Index, pixel_stride: int, pixel_axis: bool = True) -> list[SSAValue]:
        loops = self.loops
        indices: list[Index] = list(access.indices)
        if pixel_axis:
            indices[-2] = loops.add(indices[-2], loops.mul(p, pixel_stride))
        indices[-1] = loops.add(indices[-1], c)
        return loops.values(indices)

    def update(self, tile: Tile, p: Index, c: Index, combine: Callable[[SSAValue], SSAValue]) -> None:
        self.put(combine(self.get(tile.storage, [p, c])), tile.storage, [p, c])

    def fill(self, tile: Tile, value: float) -> None:
        constant = self.loops.f32(value)
        self.each(tile, lambda p, c: self.put(constant, tile.storage, [p, c]))

    def broadcast(self, tile: Tile, source: Access) -> None:
        self.each(tile, lambda p, c: self.put(self.get(source.memref, self.element(source, p, c, 0, False)), tile.storage, [p, c]))

    def load(self, tile: Tile, source: Access, pixel_stride: int) -> None:
        self.each(tile, lambda p, c: self.put(self.get(source.memref, self.element(source, p, c, pixel_stride)), tile.storage, [p, c]))

    def store(self, tile: Tile, target: Access, pixel_stride: int) -> None:
        self.each(tile, lambda p, c: self.put(self.get(tile.storage, [p, c]), target.memref, self.element(target, p, c, pixel_stride)))

    def fma(self, tile: Tile, input: Access, weights: Access, pixel_stride: int) -> None:
        self.multiply_accumulate(tile, input, weights, pixel_stride, lane_wise_input=False)

    def lane_fma(self, tile: Tile, input: Access, weights: Access, pixel_stride: int) -> None:
        self.multiply_accumulate(tile, input, weights, pixel_stride, lane_wise_input=True)

    def multiply_accumulate(self, tile: Tile, input: Access, weights: Access, pixel_stride: int, lane_wise_input: bool) -> None:
        def step(p: Index, c: Index) -> None:
            x = self.get(input.memref, self.element(input, p, c if lane_wise_input else 0, pixel_stride))
            w = self.get(weights.memref, self.element(weights, p, c, 0, False))
            product = self.loops.insert(arith.MulfOp(x, w)).result
            self.update(tile, p, c, lambda acc: self.loops.insert(arith.AddfOp(acc, product)).result)

        self.each(tile, step)

    def lanewise(self, tile: Tile, operation: str, source: Access, pixel_stride: int) -> None:
        op_class = {"max": arith.MaximumfOp, "add": arith.AddfOp, "sub": arith.SubfOp, "mul": arith.MulfOp}[operation]

        def step(p: Index, c: Index) -> None:
            x = self.get(source.memref, self.element(source, p, c, pixel_stride))
            self.update(tile, p, c, lambda acc: self.loops.insert(op_class(acc, x)).result)

        self.each(tile, step)

    def scale(self, tile: Tile, factor: SSAValue) -> None:
        self.each(tile, lambda p, c: self.update(tile, p, c, lambda acc: self.loops.insert(arith.MulfOp(acc, factor)).result))

    def clamp(self, tile: Tile, low: float, high: float) -> None:
        def bound(acc: SSAValue) -> SSAValue:
            if low != float("-inf"):
                acc = self.loops.insert(arith.MaximumfOp(acc, self.loops.f32(low))).result
            if high != float("inf"):
                acc = self.loops.insert(arith.MinimumfOp(acc, self.loops.f32(high))).result
            return acc

        self.each(tile, lambda p, c: self.update(tile, p, c, bound))

    def leaky(self, tile: Tile, alpha: float) -> None:
        def activate(acc: SSAValue) -> SSAValue:
            scaled = self.loops.insert(arith.MulfOp(acc, self.loops.f32(alpha))).result
            positive = self.loops.insert(arith.CmpfOp(acc, self.loops.f32(0.0), "oge")).result
            return self.loops.insert(arith.SelectOp(positive, acc, scaled)).result

        self.each(tile, lambda p, c: self.update(tile, p, c, activate))

    def copy_tile(self, destination: Tile, source: Tile, scale: float) -> None:
        def copy(p: Index, c: Index) -> None:
            value = self.get(source.storage, [p, c])
            if scale != 1:
                value = self.loops.insert(arith.MulfOp(value, self.loops.f32(scale))).result
            self.put(value, destination.storage, [p, c])

        self.each(destination, copy)

    def add_tile(self, destination: Tile, source: Tile, scale: float) -> None:
        def add(p: Index, c: Index) -> None:
            value = self.get(source.storage, [p, c])
            if abs(scale) != 1:
                value = self.loops.insert(arith.MulfOp(value, self.loops.f32(scale))).result
            operation = arith.SubfOp if scale == -1 else arith.AddfOp
            self.update(destination, p, c, lambda acc: self.loops.insert(operation(acc, value)).result)

        self.each(destination, add)

    def sigmoid(self, tile: Tile) -> None:
        self.each(tile, lambda p, c: self.update(tile, p, c, lambda acc: scalar_sigmoid(self.loops, acc)))



@dataclass(frozen=True)
class LowerKernelToScalar(LowerKernel):
    name = "lower-kernel-to-scalar"
    isa = ScalarKernel


LOWERING = LowerKernelToScalar
