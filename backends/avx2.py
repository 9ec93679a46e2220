"""
lower-kernel-to-avx2: x86 AVX2 + FMA intrinsics. The 6 x 16 tile is 12 `__m256`
accumulators; a conv step loads 2 weight vectors, then per pixel broadcasts
one input value and issues 2 FMAs, as in SMaLL.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects import arith
from xdsl.dialects.builtin import IntegerAttr, StringAttr, i32
from xdsl.dialects.emitc import EmitC_OpaqueType
from xdsl.ir import SSAValue

from small_ir.backends.microkernel import Access, LowerKernel, TargetSpec
from small_ir.backends.simd import SimdKernel

TARGET = TargetSpec(
    "avx2", c_ob=16, w_ob=6, cflags=("-mavx2", "-mfma"), vector_bits=256, cpu_features=("avx2", "fma"), narrow_block=8, narrow_w_ob=8
)
CMP_GE_OQ = 29
"""The _CMP_GE_OQ predicate of _mm*_cmp_ps: ordered, so a NaN lane compares false."""


def x86_intrinsics(prefix: str) -> dict[str, str]:
    """The SimdKernel intrinsics of the AVX families, which differ only by prefix (_mm256, _mm512)."""
    names = {"load": "loadu", "store": "storeu", "splat": "set1", "zero": "setzero", "fma": "fmadd"}
    operations = ["load", "store", "splat", "zero", "fma", "add", "sub", "mul", "max", "min"]
    return {operation: f"{prefix}_{names.get(operation, operation)}_ps" for operation in operations}


class Avx2Kernel(SimdKernel):
    includes = ("immintrin.h",)
    vector_lanes = 8
    vector = EmitC_OpaqueType(StringAttr("__m256"))
    intrinsics = x86_intrinsics("_mm256")

    def broadcast_from(self, access: Access, pixel_offset: int) -> SSAValue:
        return self.call("_mm256_broadcast_ss", self.address(access, pixel_offset, read_only=True))

    def select_nonnegative(self, value: SSAValue, otherwise: SSAValue) -> SSAValue:
        predicate = self.loops.insert(arith.ConstantOp(IntegerAttr(CMP_GE_OQ, i32))).result
        mask = self.call("_mm256_cmp_ps", value, self.call("zero"), predicate)
        return self.call("_mm256_blendv_ps", otherwise, value, mask)


@dataclass(frozen=True)
class LowerKernelToAvx2(LowerKernel):
    name = "lower-kernel-to-avx2"
    isa = Avx2Kernel


LOWERING = LowerKernelToAvx2
