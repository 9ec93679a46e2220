"""small-ir's rewrite passes, one per file, registered lazily by name."""

from collections.abc import Callable

from xdsl.passes import ModulePass

from small_ir.backends import isa_module, isa_names


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    def nn_to_small():
        from small_ir.passes.nn_to_small import NNToSmall

        return NNToSmall

    def small_layout():
        from small_ir.passes.small_layout import SmallLayout

        return SmallLayout

    def small_fuse():
        from small_ir.passes.small_fuse import SmallFuse

        return SmallFuse

    def small_winograd():
        from small_ir.passes.small_winograd import SmallWinograd

        return SmallWinograd

    def small_tile():
        from small_ir.passes.small_tile import SmallTile

        return SmallTile

    def small_lower_nontiled():
        from small_ir.passes.small_lower_nontiled import SmallLowerNonTiled

        return SmallLowerNonTiled

    def plan_memory():
        from small_ir.passes.plan_memory import PlanMemory

        return PlanMemory

    def backend_lowering(isa: str):
        return lambda: isa_module(isa).LOWERING

    backends = {f"lower-kernel-to-{isa}": backend_lowering(isa) for isa in isa_names()}
    return backends | {
        "nn-to-small": nn_to_small,
        "small-layout": small_layout,
        "small-fuse": small_fuse,
        "small-winograd": small_winograd,
        "small-tile": small_tile,
        "small-lower-nontiled": small_lower_nontiled,
        "plan-memory": plan_memory,
    }
