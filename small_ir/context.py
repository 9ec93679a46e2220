"""The xDSL context that knows xDSL's dialects and small-ir's own."""

from collections.abc import Callable

from xdsl.context import Context
from xdsl.dialects import get_all_dialects
from xdsl.ir import Dialect


def get_small_ir_dialects() -> dict[str, Callable[[], Dialect]]:
    def nn():
        from small_ir.dialects.nn import NN

        return NN

    def small():
        from small_ir.dialects.small import Small

        return Small

    def kernel():
        from small_ir.dialects.kernel import Kernel

        return Kernel

    def cptr():
        from small_ir.dialects.cptr import Cptr

        return Cptr

    return {"nn": nn, "small": small, "kernel": kernel, "cptr": cptr}


def make_context() -> Context:
    ctx = Context(allow_unregistered=False)
    for name, loader in (get_all_dialects() | get_small_ir_dialects()).items():
        ctx.register_dialect(name, loader)
    return ctx
