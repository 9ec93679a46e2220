"""
lower-kernel-to-rvv: RISC-V Vector 1.0 intrinsics (`__riscv_*`, clang-16).
The channel block is one register group: LMUL = C_ob / 4, so that a group
holds C_ob floats at the smallest VLEN of the V extension (128 bits). Every
intrinsic takes vl = C_ob, which is correct whatever the machine's VLEN is
(the same binary runs at VLEN 128 and 512). The 7 x 16 tile takes 7 of the 8
LMUL=4 groups as accumulators and 1 for the weights; the input value stays in
a scalar register (`vfmacc.vf`). Narrow activations (8 channels) take
LMUL = 2 groups.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import StringAttr, f32
from xdsl.dialects.emitc import EmitC_OpaqueType
from xdsl.ir import Attribute, SSAValue

from small_ir.backends.microkernel import LowerKernel, TargetSpec
from small_ir.backends.simd import SimdKernel

TARGET = TargetSpec("rvv", c_ob=16, w_ob=7, vector_bits=128, platform="linux-riscv64", narrow_block=8)


OPERATIONS = {
    "load": "vle32_v", "store": "vse32_v", "splat": "vfmv_v_f",
    "add": "vfadd_vv", "sub": "vfsub_vv", "mul": "vfmul_vv", "max": "vfmax_vv",
}  # fmt: skip


class RvvKernel(SimdKernel):
    """A register group of LMUL = vector_lanes / 4 (the lanes at VLEN 128) per vector; the rest follows."""

    includes = ("riscv_vector.h",)
    vector_lanes = TARGET.c_ob
    fma_takes_scalar = True

    @property
    def lmul(self) -> int:
        return self.vector_lanes // 4

    @property
    def suffix(self) -> str:
        return f"f32m{self.lmul}"

    @property
    def vector(self) -> EmitC_OpaqueType:  # type: ignore[override]
        return EmitC_OpaqueType(StringAttr(f"vfloat32m{self.lmul}_t"))

    @property
    def intrinsics(self) -> dict[str, str]:  # type: ignore[override]
        return {operation: f"__riscv_{name}_{self.suffix}" for operation, name in OPERATIONS.items()}

    def call(self, intrinsic: str, *args: SSAValue, result: Attribute | None = None) -> SSAValue:
        vl = self.loops.values([self.vector_lanes])[0]
        return super().call(intrinsic, *args, vl, result=result)

    def multiply_add(self, accumulator: SSAValue, x: SSAValue, y: SSAValue) -> SSAValue:
        form = "vf" if x.type == f32 else "vv"
        return self.call(f"__riscv_vfmacc_{form}_{self.suffix}", accumulator, x, y)

    def limit_operand(self, limit: float) -> SSAValue:
        return self.loops.f32(limit)

    def mask(self, compare: str, value: SSAValue, operand: SSAValue) -> SSAValue:
        bits = 32 // self.lmul
        mask_type = EmitC_OpaqueType(StringAttr(f"vbool{bits}_t"))
        return self.call(f"__riscv_{compare}_vf_{self.suffix}_b{bits}", value, operand, result=mask_type)

    def bound(self, operation: str, value: SSAValue, limit: float, operand: SSAValue) -> SSAValue:
        """vfmax/vfmin would turn NaN into the limit: replace only the lanes beyond it."""
        beyond = self.mask("vmflt" if operation == "max" else "vmfgt", value, operand)
        return self.call(f"__riscv_vfmerge_vfm_{self.suffix}", value, operand, beyond)

    def select_nonnegative(self, value: SSAValue, otherwise: SSAValue) -> SSAValue:
        nonnegative = self.mask("vmfge", value, self.loops.f32(0.0))
        return self.call(f"__riscv_vmerge_vvm_{self.suffix}", otherwise, value, nonnegative)


class RvvNarrowKernel(RvvKernel):
    """The 8-lane tiles of narrow activations: register groups of LMUL = 2."""

    vector_lanes = TARGET.narrow_block


RvvKernel.narrow = RvvNarrowKernel


@dataclass(frozen=True)
class LowerKernelToRvv(LowerKernel):
    name = "lower-kernel-to-rvv"
    isa = RvvKernel


LOWERING = LowerKernelToRvv
