"""Reading and creating the `memref.global` constants that hold weights."""

from __future__ import annotations

import numpy as np
from xdsl.dialects import memref
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp, f32
from xdsl.ir import Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.traits import SymbolTable
from xdsl.utils.exceptions import PassFailedException

from small_ir.builder import weight_global


def global_of(value: SSAValue, user: Operation) -> memref.GlobalOp:
    """The dense f32 `memref.global` behind a weight operand of `user`."""
    get = value.owner
    found = SymbolTable.lookup_symbol(get, get.name_) if isinstance(get, memref.GetGlobalOp) else None
    initial = found.initial_value if isinstance(found, memref.GlobalOp) else None
    if not isinstance(initial, DenseIntOrFPElementsAttr) or initial.get_element_type() != f32:
        raise PassFailedException(
            f"{user.name}: weights and biases must be constants: memref.get_global of a memref.global "
            "with a dense f32 initializer"
        )
    return found


def constant_array(value: SSAValue, user: Operation) -> np.ndarray:
    """The numpy contents of a weight operand of `user`."""
    initial = global_of(value, user).initial_value
    assert isinstance(initial, DenseIntOrFPElementsAttr)
    return np.frombuffer(initial.data.data, dtype="<f4").reshape(initial.get_shape()).copy()


def _unique_name(module: ModuleOp, hint: str) -> str:
    taken = {op.sym_name.data for op in module.ops if isinstance(op, memref.GlobalOp)}
    index = 0
    while f"{hint}{index}" in taken:
        index += 1
    return f"{hint}{index}"


def add_constant(module: ModuleOp, user: Operation, array: np.ndarray, hint: str) -> SSAValue:
    """A new global holding `array`, and a `memref.get_global` of it before `user`."""
    return shared_constant(module, user, array, _unique_name(module, hint))


def shared_constant(module: ModuleOp, user: Operation, array: np.ndarray, name: str) -> SSAValue:
    """A `memref.get_global` before `user` of the global `name`, made to hold `array` unless the module has it already."""
    global_op = next((op for op in module.ops if isinstance(op, memref.GlobalOp) and op.sym_name.data == name), None)
    if global_op is None:
        global_op = weight_global(name, np.asarray(array, np.float32))
        Rewriter.insert_op(global_op, InsertPoint.at_start(module.body.block))
    get = memref.GetGlobalOp(global_op.sym_name.data, global_op.type)
    Rewriter.insert_op(get, InsertPoint.before(user))
    return get.memref


def erase_unused_globals(module: ModuleOp) -> None:
    for op in list(module.walk()):
        if isinstance(op, memref.GetGlobalOp) and not op.memref.uses:
            Rewriter.erase_op(op)
    used = {op.name_.string_value() for op in module.walk() if isinstance(op, memref.GetGlobalOp)}
    for op in list(module.ops):
        if isinstance(op, memref.GlobalOp) and op.constant is not None and op.sym_name.data not in used:
            Rewriter.erase_op(op)
