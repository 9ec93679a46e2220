"""nn-dialect IR in MLIR text form (.mlir) as a model."""

from __future__ import annotations

from pathlib import Path

from xdsl.dialects import func
from xdsl.parser import Parser

from small_ir.context import make_context
from small_ir.frontends import ImportedModel


def import_mlir(path: Path) -> ImportedModel:
    from small_ir.compiler import output_arguments

    module = Parser(make_context(), path.read_text(), str(path)).parse_module()
    module.verify()
    functions = [op for op in module.ops if isinstance(op, func.FuncOp) and op.body.blocks]
    arguments = functions[0].body.block.args if functions else ()
    written = set(output_arguments(functions[0])) if functions else set()
    names = [arg.name_hint or f"arg{index}" for index, arg in enumerate(arguments)]
    inputs = [name for index, name in enumerate(names) if index not in written]
    outputs = [name for index, name in enumerate(names) if index in written]
    return ImportedModel(module, inputs, outputs, path)
