"""
Targets: one backend file per ISA plus the C emitter. A target names its
register tile (the `small-layout` options), the pass that lowers kernel ops
to its intrinsics, and the compiler flags its C needs.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TargetSpec:
    name: str
    c_ob: int
    w_ob: int
    kernel_pass: str
    cflags: tuple[str, ...] = ()
    cpu_feature: str | None = None
    """/proc/cpuinfo flag the host needs to run this target's code."""


TARGETS: dict[str, TargetSpec] = {
    "scalar": TargetSpec("scalar", c_ob=8, w_ob=4, kernel_pass="lower-kernel-to-scalar"),
    "avx2": TargetSpec("avx2", c_ob=16, w_ob=6, kernel_pass="lower-kernel-to-avx2", cflags=("-mavx2", "-mfma"), cpu_feature="avx2"),
}
