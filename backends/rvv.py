"""
lower-kernel-to-rvv: RISC-V Vector 1.0 intrinsics (`__riscv_*`, clang-16).
The channel block is one register group: LMUL = C_ob / 4, so that a group
holds C_ob floats at the smallest VLEN of the V extension (128 bits). Every
intrinsic takes vl = C_ob, which is correct whatever the machine's VLEN is
(the same binary runs at VLEN 128 and 512). The 7 x 16 tile takes 7 of the 8
LMUL=4 groups as accumulators and 1 for the weights; the input value stays in
a scalar register (`vfmacc.vf`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import StringAttr, f32
from xdsl.dialects.emitc import EmitC_OpaqueType
from xdsl.ir import Attribute, SSAValue

from small_ir.backends.microkernel import LowerKernel, TargetSpec
from small_ir.backends.simd import SimdKernel

TARGET = TargetSpec("rvv", c_ob=16, w_ob=7, vector_bits=128, platform="linux-riscv64")
LMUL = TARGET.c_ob // 4
SUFFIX = f"f32m{LMUL}"


class RvvKernel(SimdKernel):
    includes = ("riscv_vector.h",)
    vector_lanes = TARGET.c_ob
    vector = EmitC_OpaqueType(StringAttr(f"vfloat32m{LMUL}_t"))
    fma_takes_scalar = True
    intrinsics = {
        "load": f"__riscv_vle32_v_{SUFFIX}",
        "store": f"__riscv_vse32_v_{SUFFIX}",
        "splat": f"__riscv_vfmv_v_f_{SUFFIX}",
        "add": f"__riscv_vfadd_vv_{SUFFIX}",
        "sub": f"__riscv_vfsub_vv_{SUFFIX}",
        "mul": f"__riscv_vfmul_vv_{SUFFIX}",
        "max": f"__riscv_vfmax_vv_{SUFFIX}",
    }

    def call(self, intrinsic: str, *args: SSAValue, result: Attribute | None = None) -> SSAValue:
        vl = self.loops.values([self.vector_lanes])[0]
        return super().call(intrinsic, *args, vl, result=result)

    def multiply_add(self, accumulator: SSAValue, x: SSAValue, y: SSAValue) -> SSAValue:
        form = "vf" if x.type == f32 else "vv"
        return self.call(f"__riscv_vfmacc_{form}_{SUFFIX}", accumulator, x, y)

    def limit_operand(self, limit: float) -> SSAValue:
        return self.loops.f32(limit)

    def bound(self, operation: str, value: SSAValue, limit: float, operand: SSAValue) -> SSAValue:
        """vfmax/vfmin would turn NaN into the limit: replace only the lanes beyond it."""
        mask_type = EmitC_OpaqueType(StringAttr(f"vbool{32 // LMUL}_t"))
        compare = "vmflt" if operation == "max" else "vmfgt"
        beyond = self.call(f"__riscv_{compare}_vf_{SUFFIX}_b{32 // LMUL}", value, operand, result=mask_type)
        return self.call(f"__riscv_vfmerge_vfm_{SUFFIX}", value, operand, beyond)

    def select_nonnegative(self, value: SSAValue, otherwise: SSAValue) -> SSAValue:
        mask_type = EmitC_OpaqueType(StringAttr(f"vbool{32 // LMUL}_t"))
        nonnegative = self.call(f"__riscv_vmfge_vf_{SUFFIX}_b{32 // LMUL}", value, self.loops.f32(0.0), result=mask_type)
        return self.call(f"__riscv_vmerge_vvm_{SUFFIX}", otherwise, value, nonnegative)


@dataclass(frozen=True)
class LowerKernelToRvv(LowerKernel):
    name = "lower-kernel-to-rvv"
    isa = RvvKernel


LOWERING = LowerKernelToRvv
