"""
Looking inside a network: the layer table (`small-ir info`) and every
layer's output as an extra function output (`small-ir check` uses it to find
the layer where two implementations part ways).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from xdsl.dialects import func, memref
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation

from small_ir.builder import SOURCE
from small_ir.dialects import nn
from small_ir.dialects.nn import shape_of


@dataclass(frozen=True)
class LayerRow:
    name: str
    op: str
    inputs: tuple[tuple[int, ...], ...]
    output: tuple[int, ...]
    macs: int
    parameters: int

    @property
    def output_bytes(self) -> int:
        return prod(self.output) * 4


def layer_name(op: Operation, index: int) -> str:
    source = op.attributes.get(SOURCE)
    return source.data if isinstance(source, StringAttr) else f"{op.name.removeprefix('nn.')}_{index}"


def layer_macs(op: Operation) -> int:
    if isinstance(op, nn.Conv2dOp):
        out_channels, per_group, fh, fw = shape_of(op.weight)
        _, _, out_h, out_w = shape_of(op.output)
        return out_h * out_w * out_channels * per_group * fh * fw
    if isinstance(op, nn.DenseOp):
        return prod(shape_of(op.weight))
    return 0


def layer_parameters(op: Operation) -> int:
    weights = [getattr(op, name, None) for name in ("weight", "bias")]
    return sum(prod(shape_of(value)) for value in weights if value is not None)


def nn_layers(module: ModuleOp) -> list[Operation]:
    return [op for op in module.walk() if op.dialect_name() == "nn"]


def layer_table(module: ModuleOp) -> list[LayerRow]:
    rows = []
    for index, op in enumerate(nn_layers(module)):
        inputs = tuple(shape_of(value) for value in op.operands[:-1] if not _is_weight(value, op))
        rows.append(LayerRow(layer_name(op, index), op.name, inputs, shape_of(op.output), layer_macs(op), layer_parameters(op)))
    return rows


def _is_weight(value, op: Operation) -> bool:
    return value is getattr(op, "weight", None) or value is getattr(op, "bias", None)


def expose_layer_outputs(module: ModuleOp) -> tuple[ModuleOp, list[tuple[str, Operation]]]:
    """
    A copy of `module` whose function also returns every intermediate layer
    output (as trailing memref arguments), and the (name, layer) of each.
    """
    module = module.clone()
    function = next(op for op in module.ops if isinstance(op, func.FuncOp) and op.body.blocks)
    block = function.body.block
    exposed = []
    for index, op in enumerate(nn_layers(module)):
        buffer = op.output
        if not isinstance(buffer.owner, memref.AllocOp):
            continue
        argument = block.insert_arg(buffer.type, len(block.args))
        alloc = buffer.owner
        buffer.replace_all_uses_with(argument)
        alloc.detach()
        alloc.erase()
        exposed.append((layer_name(op, index), op))
    function.update_function_type()
    return module, exposed
