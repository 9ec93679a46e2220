"""
Targets: one file per ISA (`backends/<isa>.py`) plus what they share
(`microkernel.py`) and the C emitter (`c_emitter.py`).

An ISA file defines `TARGET` (a `TargetSpec`: register tile, compiler flags,
platform), or `TARGETS` when several cores share the ISA, and `LOWERING`, its
`lower-kernel-to-<isa>` pass. Nothing else registers it: targets and passes
are found from the file names and imported lazily.
"""

from __future__ import annotations

import pkgutil
from functools import cache
from importlib import import_module

from small_ir.backends.microkernel import TargetSpec

SHARED_MODULES = frozenset({"microkernel", "simd", "c_emitter"})


def isa_names() -> list[str]:
    """The ISAs that have a backend file, without importing them."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if info.name not in SHARED_MODULES)


def isa_module(isa: str):
    return import_module(f"small_ir.backends.{isa}")


@cache
def targets() -> dict[str, TargetSpec]:
    specs = {}
    for isa in isa_names():
        module = isa_module(isa)
        for spec in getattr(module, "TARGETS", None) or (module.TARGET,):
            specs[spec.name] = spec
    return specs


__all__ = ["TargetSpec", "isa_names", "isa_module", "targets"]
