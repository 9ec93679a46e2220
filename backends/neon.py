"""
lower-kernel-to-neon: AArch64 Advanced SIMD intrinsics. The 6 x 16 tile is 24
`float32x4_t` accumulators (of 32 q registers); a conv step loads 4 weight
vectors, then per pixel loads one input value into a scalar register and
issues 4 `vfmaq_n_f32` (vector times scalar), so no register holds a
broadcast copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import StringAttr, f32
from xdsl.dialects.emitc import EmitC_OpaqueType
from xdsl.ir import SSAValue

from small_ir.backends.microkernel import LowerKernel, TargetSpec
from small_ir.backends.simd import SimdKernel

TARGET = TargetSpec("neon", c_ob=16, w_ob=6, vector_bits=128, platform="linux-aarch64", narrow_block=8)


class NeonKernel(SimdKernel):
    includes = ("arm_neon.h",)
    vector_lanes = 4
    vector = EmitC_OpaqueType(StringAttr("float32x4_t"))
    fma_takes_scalar = True
    intrinsics = {
        "load": "vld1q_f32",
        "store": "vst1q_f32",
        "splat": "vdupq_n_f32",
        "add": "vaddq_f32",
        "sub": "vsubq_f32",
        "mul": "vmulq_f32",
        "max": "vmaxq_f32",
        "min": "vminq_f32",
    }

    def multiply_add(self, accumulator: SSAValue, x: SSAValue, y: SSAValue) -> SSAValue:
        if x.type == f32:
            return self.call("vfmaq_n_f32", accumulator, y, x)
        return self.call("vfmaq_f32", accumulator, x, y)

    def select_nonnegative(self, value: SSAValue, otherwise: SSAValue) -> SSAValue:
        mask = EmitC_OpaqueType(StringAttr("uint32x4_t"))
        nonnegative = self.call("vcgezq_f32", value, result=mask)
        return self.call("vbslq_f32", nonnegative, value, otherwise)


@dataclass(frozen=True)
class LowerKernelToNeon(LowerKernel):
    name = "lower-kernel-to-neon"
    isa = NeonKernel


LOWERING = LowerKernelToNeon
