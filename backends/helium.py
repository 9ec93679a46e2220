"""
lower-kernel-to-helium: Armv8.1-M MVE (Helium) intrinsics for the Cortex-M55.
MVE has 8 q registers of 4 floats: the 3 x 8 tile is 6 accumulators plus the
2 weight vectors of a conv step. Per pixel one input value goes to a general
register and `vfmaq_n_f32` multiplies it into both accumulators of the pixel.
MVE's float max/min are IEEE maxNum/minNum (`vmaxnmq_f32`): a clamp turns
NaN into its limit (see README, Targets).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects import memref
from xdsl.dialects.builtin import StringAttr, f32
from xdsl.dialects.emitc import EmitC_OpaqueType
from xdsl.ir import SSAValue

from small_ir.backends.microkernel import Access, LowerKernel, TargetSpec
from small_ir.backends.simd import SimdKernel

PREDICATE = EmitC_OpaqueType(StringAttr("mve_pred16_t"))
TARGET = TargetSpec("cortex-m55", c_ob=8, w_ob=3, vector_bits=128, platform="mps3-an547", isa="helium")


class HeliumKernel(SimdKernel):
    includes = ("arm_mve.h",)
    vector_lanes = 4
    vector = EmitC_OpaqueType(StringAttr("float32x4_t"))
    intrinsics = {
        "load": "vld1q_f32",
        "store": "vst1q_f32",
        "splat": "vdupq_n_f32",
        "add": "vaddq_f32",
        "sub": "vsubq_f32",
        "mul": "vmulq_f32",
        "max": "vmaxnmq_f32",
        "min": "vminnmq_f32",
    }

    def broadcast_from(self, access: Access, pixel_offset: int) -> SSAValue:
        return self.loops.insert(memref.LoadOp.get(access.memref, access.at(self.loops, pixel_offset))).res

    def multiply_add(self, accumulator: SSAValue, x: SSAValue, y: SSAValue) -> SSAValue:
        if x.type == f32:
            return self.call("vfmaq_n_f32", accumulator, y, x)
        return self.call("vfmaq_f32", accumulator, x, y)

    def select_nonnegative(self, value: SSAValue, otherwise: SSAValue) -> SSAValue:
        nonnegative = self.call("vcmpgeq_n_f32", value, self.loops.f32(0.0), result=PREDICATE)
        return self.call("vpselq_f32", value, otherwise, nonnegative)


@dataclass(frozen=True)
class LowerKernelToHelium(LowerKernel):
    name = "lower-kernel-to-helium"
    isa = HeliumKernel
    freestanding = True


LOWERING = LowerKernelToHelium
