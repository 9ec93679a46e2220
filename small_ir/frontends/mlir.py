"""nn-dialect IR in MLIR text form (.mlir) as a model."""

from __future__ import annotations

from pathlib import Path

from xdsl.dialects import func
from xdsl.parser import Parser

from small_ir.context import make_context
from small_ir.frontends import ImportedModel


def import_mlir(path: Path) -> ImportedModel:
    module = Parser(make_context(), path.read_text(), str(path)).parse_module()
    module.verify()
    functions = [op for op in module.ops if isinstance(op, func.FuncOp) and op.body.blocks]
    arguments = functions[0].body.block.args if functions else ()
    written = {use.operation.output for arg in arguments for use in arg.uses if getattr(use.operation, "output", None) is arg}
    names = [arg.name_hint or f"arg{index}" for index, arg in enumerate(arguments)]
    inputs = [name for name, arg in zip(names, arguments) if arg not in written]
    outputs = [name for name, arg in zip(names, arguments) if arg in written]
    return ImportedModel(module, inputs, outputs, path)
