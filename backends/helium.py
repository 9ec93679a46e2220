"""
lower-kernel-to-helium: Armv8.1-M MVE (Helium) intrinsics for the Cortex-M55.
MVE has 8 q registers of 4 floats: the 3 x 8 tile is 6 accumulators plus the
2 weight vectors of a conv step. Per pixel one input value goes to a general
register and `vfmaq_n_f32` multiplies it into both accumulators of the pixel.
ACLE gives MVE NEON's intrinsic names, so this is the neon kernel but for
max/min, which MVE has only as IEEE maxNum/minNum (`vmaxnmq_f32`: a clamp
turns NaN into its limit, see README, Targets), and the select by sign.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import StringAttr
from xdsl.dialects.emitc import EmitC_OpaqueType
from xdsl.ir import SSAValue

from small_ir.backends.microkernel import LowerKernel, TargetSpec
from small_ir.backends.neon import NeonKernel

TARGET = TargetSpec("cortex-m55", c_ob=8, w_ob=3, vector_bits=128, platform="mps3-an547", isa="helium", winograd_min_channels=0)
PREDICATE = EmitC_OpaqueType(StringAttr("mve_pred16_t"))


class HeliumKernel(NeonKernel):
    includes = ("arm_mve.h",)
    intrinsics = NeonKernel.intrinsics | {"max": "vmaxnmq_f32", "min": "vminnmq_f32"}

    def select_nonnegative(self, value: SSAValue, otherwise: SSAValue) -> SSAValue:
        nonnegative = self.call("vcmpgeq_n_f32", value, self.loops.f32(0.0), result=PREDICATE)
        return self.call("vpselq_f32", value, otherwise, nonnegative)


@dataclass(frozen=True)
class LowerKernelToHelium(LowerKernel):
    name = "lower-kernel-to-helium"
    isa = HeliumKernel
    freestanding = True


LOWERING = LowerKernelToHelium
