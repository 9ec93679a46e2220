"""Publishes small-ir's dialects, passes and the `c` target to xDSL tools (`xdsl-opt`, `small-opt`)."""

from xdsl.universe import Universe

from small_ir.context import get_small_ir_dialects
from small_ir.passes import get_all_passes


def _c_target():
    from small_ir.backends.c_emitter import CTarget

    return CTarget


SMALL_IR_UNIVERSE = Universe(
    all_dialects=get_small_ir_dialects(),
    all_passes=get_all_passes(),
    all_targets={"c": _c_target},
)
