"""
lower-kernel-to-avx512: x86 AVX-512F intrinsics. The 14 x 16 tile is 14 `__m512`
accumulators (of 32 zmm registers); a conv step loads 1 weight vector, then per
pixel broadcasts one input value (folded into the FMA's memory operand) and
issues 1 FMA. Same channel block as AVX2, so both share one layout; the
8-lane tiles of narrow activations are AVX2 code (`__m256`), which AVX-512VL
compiles with 32 registers and broadcasts folded into the FMA as well.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects import arith
from xdsl.dialects.builtin import IntegerAttr, StringAttr, i32
from xdsl.dialects.emitc import EmitC_OpaqueType
from xdsl.ir import SSAValue

from small_ir.backends.avx2 import CMP_GE_OQ, Avx2Kernel, x86_intrinsics
from small_ir.backends.microkernel import LowerKernel, TargetSpec
from small_ir.backends.simd import SimdKernel

TARGET = TargetSpec(
    "avx512",
    c_ob=16,
    w_ob=14,
    cflags=("-mavx512f", "-mavx512vl", "-mfma"),
    vector_bits=512,
    cpu_features=("avx512f", "avx512vl", "fma"),
    narrow_block=8,
    narrow_w_ob=8,
)
MASK = EmitC_OpaqueType(StringAttr("__mmask16"))


class Avx512Kernel(SimdKernel):
    includes = ("immintrin.h",)
    vector_lanes = 16
    vector = EmitC_OpaqueType(StringAttr("__m512"))
    intrinsics = x86_intrinsics("_mm512")
    narrow = Avx2Kernel

    def select_nonnegative(self, value: SSAValue, otherwise: SSAValue) -> SSAValue:
        predicate = self.loops.insert(arith.ConstantOp(IntegerAttr(CMP_GE_OQ, i32))).result
        mask = self.call("_mm512_cmp_ps_mask", value, self.call("zero"), predicate, result=MASK)
        return self.call("_mm512_mask_blend_ps", mask, otherwise, value)


@dataclass(frozen=True)
class LowerKernelToAvx512(LowerKernel):
    name = "lower-kernel-to-avx512"
    isa = Avx512Kernel


LOWERING = LowerKernelToAvx512
