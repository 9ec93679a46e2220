"""
lower-kernel-to-armv7em: Armv7E-M with its single-precision FPU, for the
Cortex-M4 (FPv4-SP) and Cortex-M7 (FPv5). There are no float vectors: the
tile is the portable scalar kernel's, sized for the FPU's 32 single-precision
registers (6 x 4 accumulators, 4 weights and 1 input value). Built with
`-ffp-contract=fast`, each multiply-add is one VFMA.F32 on the M7; on the M4
clang keeps VMUL + VADD, 2 cycles against VFMA's 3. The DSP extension
(SMLAD, dual 16-bit MACs) serves integer kernels, which small-ir has not yet.
Bare metal: the C uses no libc.
"""

from __future__ import annotations

from dataclasses import dataclass

from small_ir.backends.microkernel import TargetSpec
from small_ir.backends.scalar import LowerKernelToScalar

TARGETS = (
    TargetSpec("cortex-m4", c_ob=4, w_ob=6, platform="mps2-an386", isa="armv7em", winograd_min_channels=0),
    TargetSpec("cortex-m7", c_ob=4, w_ob=6, platform="mps2-an500", isa="armv7em", winograd_min_channels=0),
)


@dataclass(frozen=True)
class LowerKernelToArmv7em(LowerKernelToScalar):
    name = "lower-kernel-to-armv7em"
    freestanding = True


LOWERING = LowerKernelToArmv7em
