"""
lower-kernel-to-avx2: x86 AVX2 + FMA intrinsics. The W_ob x C_ob tile is
W_ob x (C_ob / 8) `__m256` accumulators (6 x 16: 12 ymm registers); a conv
step loads C_ob / 8 weight vectors, then per pixel broadcasts one input value
and issues C_ob / 8 FMAs, as in SMaLL.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import IntegerAttr, StringAttr, f32, i32
from xdsl.dialects.emitc import EmitC_CallOpaqueOp, EmitC_OpaqueType
from xdsl.ir import SSAValue

from small_ir.backends.microkernel import Access, LowerKernel, Microkernel, TargetSpec, Tile
from small_ir.backends.scalar import scalar_sigmoid
from small_ir.dialects.cptr import AddrOp

TARGET = TargetSpec("avx2", c_ob=16, w_ob=6, cflags=("-mavx2", "-mfma"), cpu_feature="avx2")
LANES = 8
VECTOR = EmitC_OpaqueType(StringAttr("__m256"))
CMP_GE_OQ = 29


class Avx2Kernel(Microkernel):
    includes = ("immintrin.h",)
    vector_lanes = LANES

    def call(self, name: str, *args: SSAValue, result: bool = True) -> SSAValue:
        op = self.loops.insert(EmitC_CallOpaqueOp(name, list(args), [VECTOR] if result else []))
        return op.res[0] if result else None  # type: ignore[return-value]

    def address(self, access: Access, pixel_offset: int = 0, lane_offset: int = 0) -> SSAValue:
        return self.loops.insert(AddrOp(access.memref, access.at(self.loops, pixel_offset, lane_offset))).result

    def vectors(self, tile: Tile) -> int:
        return tile.lanes // LANES

    def get(self, tile: Tile, p: int, j: int) -> SSAValue:
        return self.loops.insert(memref.LoadOp.get(tile.storage, self.loops.values([p, j]))).res

    def put(self, tile: Tile, p: int, j: int, value: SSAValue) -> None:
        self.loops.insert(memref.StoreOp.get(value, tile.storage, self.loops.values([p, j])))

    def each(self, tile: Tile):
        return [(p, j) for p in range(tile.pixels) for j in range(self.vectors(tile))]

    def splat(self, value: float) -> SSAValue:
        return self.call("_mm256_set1_ps", self.loops.f32(value))

    def declare(self, pixels: int, lanes: int) -> SSAValue:
        return self.loops.insert(memref.AllocaOp.get(VECTOR, shape=[pixels, lanes // LANES])).memref

    def fill(self, tile: Tile, value: float) -> None:
        vector = self.call("_mm256_setzero_ps") if value == 0.0 else self.splat(value)
        for p, j in self.each(tile):
            self.put(tile, p, j, vector)

    def broadcast(self, tile: Tile, source: Access) -> None:
        rows = [self.call("_mm256_loadu_ps", self.address(source, 0, j * LANES)) for j in range(self.vectors(tile))]
        for p, j in self.each(tile):
            self.put(tile, p, j, rows[j])

    def load(self, tile: Tile, source: Access, pixel_stride: int) -> None:
        for p, j in self.each(tile):
            self.put(tile, p, j, self.call("_mm256_loadu_ps", self.address(source, p * pixel_stride, j * LANES)))

    def store(self, tile: Tile, target: Access, pixel_stride: int) -> None:
        for p, j in self.each(tile):
            pointer = self.address(target, p * pixel_stride, j * LANES)
            self.call("_mm256_storeu_ps", pointer, self.get(tile, p, j), result=False)

    def fma(self, tile: Tile, input: Access, weights: Access, pixel_stride: int) -> None:
        w = [self.call("_mm256_loadu_ps", self.address(weights, 0, j * LANES)) for j in range(self.vectors(tile))]
        for p in range(tile.pixels):
            x = self.call("_mm256_broadcast_ss", self.address(input, p * pixel_stride))
            for j in range(self.vectors(tile)):
                self.put(tile, p, j, self.call("_mm256_fmadd_ps", x, w[j], self.get(tile, p, j)))

    def lane_fma(self, tile: Tile, input: Access, weights: Access, pixel_stride: int) -> None:
        w = [self.call("_mm256_loadu_ps", self.address(weights, 0, j * LANES)) for j in range(self.vectors(tile))]
        for p, j in self.each(tile):
            x = self.call("_mm256_loadu_ps", self.address(input, p * pixel_stride, j * LANES))
            self.put(tile, p, j, self.call("_mm256_fmadd_ps", x, w[j], self.get(tile, p, j)))

    def lanewise(self, tile: Tile, operation: str, source: Access, pixel_stride: int) -> None:
        intrinsic = {"max": "_mm256_max_ps", "add": "_mm256_add_ps", "sub": "_mm256_sub_ps", "mul": "_mm256_mul_ps"}[operation]
        for p, j in self.each(tile):
            x = self.call("_mm256_loadu_ps", self.address(source, p * pixel_stride, j * LANES))
            self.put(tile, p, j, self.call(intrinsic, self.get(tile, p, j), x))

    def scale(self, tile: Tile, factor: SSAValue) -> None:
        vector = self.call("_mm256_set1_ps", factor)
        for p, j in self.each(tile):
            self.put(tile, p, j, self.call("_mm256_mul_ps", self.get(tile, p, j), vector))

    def clamp(self, tile: Tile, low: float, high: float) -> None:
        bounds = []
        if low != float("-inf"):
            bounds.append(("_mm256_max_ps", self.splat(low)))
        if high != float("inf"):
            bounds.append(("_mm256_min_ps", self.splat(high)))
        for p, j in self.each(tile):
            value = self.get(tile, p, j)
            for intrinsic, bound in bounds:
                value = self.call(intrinsic, bound, value)  # returns the 2nd operand on NaN: NaN propagates
            self.put(tile, p, j, value)

    def leaky(self, tile: Tile, alpha: float) -> None:
        slope, zero = self.splat(alpha), self.call("_mm256_setzero_ps")
        predicate = self.loops.insert(arith.ConstantOp(IntegerAttr(CMP_GE_OQ, i32))).result
        for p, j in self.each(tile):
            value = self.get(tile, p, j)
            positive = self.call("_mm256_cmp_ps", value, zero, predicate)
            scaled = self.call("_mm256_mul_ps", value, slope)
            self.put(tile, p, j, self.call("_mm256_blendv_ps", scaled, value, positive))

    def sigmoid(self, tile: Tile) -> None:
        """AVX2 has no exp: each vector goes through a small buffer and scalar expf."""
        lanes = self.loops.insert(memref.AllocaOp.get(f32, shape=[LANES])).memref
        first = Access(lanes, tuple(self.loops.values([0])))
        for p, j in self.each(tile):
            self.call("_mm256_storeu_ps", self.address(first), self.get(tile, p, j), result=False)
            for lane in range(LANES):
                index = self.loops.values([lane])
                value = self.loops.insert(memref.LoadOp.get(lanes, index)).res
                self.loops.insert(memref.StoreOp.get(scalar_sigmoid(self.loops, value), lanes, index))
            self.put(tile, p, j, self.call("_mm256_loadu_ps", self.address(first)))


@dataclass(frozen=True)
class LowerKernelToAvx2(LowerKernel):
    name = "lower-kernel-to-avx2"
    isa = Avx2Kernel


LOWERING = LowerKernelToAvx2
