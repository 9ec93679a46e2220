"""
What the vector backends share: a W_ob x C_ob tile of W_ob x (C_ob / lanes)
vector registers, driven through C intrinsics. An ISA names its vector type
and intrinsics and says how it broadcasts from memory and selects by sign;
everything else is here.

A conv step loads C_ob / lanes weight vectors, then per pixel broadcasts one
input value and issues C_ob / lanes FMAs into the accumulators (SMaLL's
microkernel). Accumulators live in a `memref.alloca` of vectors indexed by
constants, which the C emitter turns into plain local variables (registers).
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects import memref
from xdsl.dialects.builtin import f32
from xdsl.dialects.emitc import EmitC_CallOpaqueOp, EmitC_OpaqueType
from xdsl.ir import Attribute, SSAValue

from small_ir.backends.microkernel import Access, Microkernel, Tile, scalar_sigmoid
from small_ir.dialects.cptr import AddrOp


class SimdKernel(Microkernel):
    vector: ClassVar[EmitC_OpaqueType]
    """The C vector type, e.g. __m256."""
    intrinsics: ClassVar[dict[str, str]]
    """Names for: load, store, splat (scalar to all lanes), zero (optional), fma (a * b + acc), add, sub, mul, max, min (unless `bound` is overridden)."""

    fma_takes_scalar: ClassVar[bool] = False
    """The ISA multiplies a vector by a scalar register (NEON's vfmaq_n, RVV's vfmacc.vf): no broadcast vector."""

    # What an ISA may do differently.
    def broadcast_from(self, access: Access, pixel_offset: int) -> SSAValue:
        """All lanes = the one input value at `access` moved by `pixel_offset` pixels (or just it, see fma_takes_scalar)."""
        scalar = self.loops.insert(memref.LoadOp.get(access.memref, access.at(self.loops, pixel_offset))).res
        return scalar if self.fma_takes_scalar else self.call("splat", scalar)

    def multiply_add(self, accumulator: SSAValue, x: SSAValue, y: SSAValue) -> SSAValue:
        """accumulator + x * y, for vectors x and y; and for x from `broadcast_from`."""
        return self.call("fma", x, y, accumulator)

    def select_nonnegative(self, value: SSAValue, otherwise: SSAValue) -> SSAValue:
        """Per lane: value where value >= 0, else otherwise."""
        raise NotImplementedError

    # Plumbing.
    def call(self, intrinsic: str, *args: SSAValue, result: Attribute | None = None) -> SSAValue:
        name = self.intrinsics.get(intrinsic, intrinsic)
        result_type = [] if intrinsic == "store" else [result or self.vector]
        op = self.loops.insert(EmitC_CallOpaqueOp(name, list(args), result_type))
        return op.res[0] if op.res else None  # type: ignore[return-value]

    def address(self, access: Access, pixel_offset: int = 0, lane_offset: int = 0, read_only: bool = False) -> SSAValue:
        return self.loops.insert(AddrOp(access.memref, access.at(self.loops, pixel_offset, lane_offset), read_only)).result

    def vectors(self, tile: Tile) -> int:
        return tile.lanes // self.vector_lanes

    def each(self, tile: Tile) -> list[tuple[int, int]]:
        return [(p, j) for p in range(tile.pixels) for j in range(self.vectors(tile))]

    def get(self, tile: Tile, p: int, j: int) -> SSAValue:
        return self.loops.insert(memref.LoadOp.get(tile.storage, self.loops.values([p, j]))).res

    def put(self, tile: Tile, p: int, j: int, value: SSAValue) -> None:
        self.loops.insert(memref.StoreOp.get(value, tile.storage, self.loops.values([p, j])))

    def load_vector(self, access: Access, pixel_offset: int, j: int) -> SSAValue:
        return self.call("load", self.address(access, pixel_offset, j * self.vector_lanes, read_only=True))

    def splat(self, value: float) -> SSAValue:
        if value == 0.0 and "zero" in self.intrinsics:
            return self.call("zero")
        return self.call("splat", self.loops.f32(value))

    # The kernel ops.
    def declare(self, pixels: int, lanes: int) -> SSAValue:
        return self.loops.insert(memref.AllocaOp.get(self.vector, shape=[pixels, lanes // self.vector_lanes])).memref

    def fill(self, tile: Tile, value: float) -> None:
        vector = self.splat(value)
        for p, j in self.each(tile):
            self.put(tile, p, j, vector)

    def broadcast(self, tile: Tile, source: Access) -> None:
        rows = [self.load_vector(source, 0, j) for j in range(self.vectors(tile))]
        for p, j in self.each(tile):
            self.put(tile, p, j, rows[j])

    def load(self, tile: Tile, source: Access, pixel_stride: int) -> None:
        for p, j in self.each(tile):
            self.put(tile, p, j, self.load_vector(source, p * pixel_stride, j))

    def store(self, tile: Tile, target: Access, pixel_stride: int) -> None:
        for p, j in self.each(tile):
            pointer = self.address(target, p * pixel_stride, j * self.vector_lanes)
            self.call("store", pointer, self.get(tile, p, j))

    def fma(self, tile: Tile, input: Access, weights: Access, pixel_stride: int) -> None:
        w = [self.load_vector(weights, 0, j) for j in range(self.vectors(tile))]
        for p in range(tile.pixels):
            x = self.broadcast_from(input, p * pixel_stride)
            for j in range(self.vectors(tile)):
                self.put(tile, p, j, self.multiply_add(self.get(tile, p, j), x, w[j]))

    def lane_fma(self, tile: Tile, input: Access, weights: Access, pixel_stride: int) -> None:
        w = [self.load_vector(weights, 0, j) for j in range(self.vectors(tile))]
        for p, j in self.each(tile):
            x = self.load_vector(input, p * pixel_stride, j)
            self.put(tile, p, j, self.multiply_add(self.get(tile, p, j), x, w[j]))

    def lanewise(self, tile: Tile, operation: str, source: Access, pixel_stride: int) -> None:
        for p, j in self.each(tile):
            x = self.load_vector(source, p * pixel_stride, j)
            self.put(tile, p, j, self.call(operation, self.get(tile, p, j), x))

    def scale(self, tile: Tile, factor: SSAValue) -> None:
        vector = self.call("splat", factor)
        for p, j in self.each(tile):
            self.put(tile, p, j, self.call("mul", self.get(tile, p, j), vector))

    def clamp(self, tile: Tile, low: float, high: float) -> None:
        limits = [(operation, limit) for operation, limit in (("max", low), ("min", high)) if abs(limit) != float("inf")]
        operands = [(operation, limit, self.limit_operand(limit)) for operation, limit in limits]
        for p, j in self.each(tile):
            value = self.get(tile, p, j)
            for operation, limit, operand in operands:
                value = self.bound(operation, value, limit, operand)
            self.put(tile, p, j, value)

    def limit_operand(self, limit: float) -> SSAValue:
        """What `bound` takes for a clamp limit, made once per tile: by default the limit in every lane."""
        return self.splat(limit)

    def bound(self, operation: str, value: SSAValue, limit: float, operand: SSAValue) -> SSAValue:
        """max(value, limit) or min(value, limit) per lane; a NaN lane stays NaN."""
        return self.call(operation, operand, value)  # value second: x86 max/min return it on NaN

    def leaky(self, tile: Tile, alpha: float) -> None:
        slope = self.splat(alpha)
        for p, j in self.each(tile):
            value = self.get(tile, p, j)
            self.put(tile, p, j, self.select_nonnegative(value, self.call("mul", value, slope)))

    def copy_tile(self, destination: Tile, source: Tile, scale: float) -> None:
        factor = None if scale == 1 else self.splat(scale)
        for p, j in self.each(destination):
            value = self.get(source, p, j)
            self.put(destination, p, j, value if factor is None else self.call("mul", value, factor))

    def add_tile(self, destination: Tile, source: Tile, scale: float) -> None:
        factor = None if abs(scale) == 1 else self.loops.f32(scale) if self.fma_takes_scalar else self.splat(scale)
        for p, j in self.each(destination):
            accumulator, value = self.get(destination, p, j), self.get(source, p, j)
            if factor is None:
                updated = self.call("add" if scale == 1 else "sub", accumulator, value)
            else:
                updated = self.multiply_add(accumulator, factor, value)
            self.put(destination, p, j, updated)

    def sigmoid(self, tile: Tile) -> None:
        """No vector exp: each vector goes through a small buffer and scalar expf."""
        lanes = self.loops.insert(memref.AllocaOp.get(f32, shape=[self.vector_lanes])).memref
        first = Access(lanes, tuple(self.loops.values([0])))
        for p, j in self.each(tile):
            self.call("store", self.address(first), self.get(tile, p, j))
            for lane in range(self.vector_lanes):
                index = self.loops.values([lane])
                value = self.loops.insert(memref.LoadOp.get(lanes, index)).res
                self.loops.insert(memref.StoreOp.get(scalar_sigmoid(self.loops, value), lanes, index))
            self.put(tile, p, j, self.call("load", self.address(first)))
