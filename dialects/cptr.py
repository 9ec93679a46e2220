"""
The `cptr` dialect: what `emitc` in xDSL 0.74 lacks to call C intrinsics on
memref data, namely the address of one element.

    %p = cptr.addr %w[%kb, %c0] : memref<4x16xf32> -> !emitc.ptr<f32>
    %v = emitc.call_opaque "_mm256_loadu_ps"(%p) : (!emitc.ptr<f32>) -> !emitc.opaque<"__m256">

The C emitter prints it as `&w[kb * 16 + 0]`.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import IndexType, MemRefType, UnitAttr
from xdsl.dialects.emitc import EmitC_PointerType
from xdsl.ir import Dialect, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException


@irdl_op_definition
class AddrOp(IRDLOperation):
    """
    The address of one memref element; `read_only` if nothing writes through
    it (the C emitter then keeps a function argument `const`).

        %p = cptr.addr %x[%i, %j] : memref<4x16xf32> -> !emitc.ptr<f32>
        %q = cptr.addr %x[%i, %j] {read_only} : memref<4x16xf32> -> !emitc.ptr<f32>
    """

    name = "cptr.addr"
    memref = operand_def(MemRefType)
    indices = var_operand_def(IndexType)
    result = result_def(EmitC_PointerType)
    read_only = opt_prop_def(UnitAttr)
    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())
    assembly_format = "$memref `[` $indices `]` attr-dict `:` type($memref) `->` type($result)"

    def __init__(self, memref: SSAValue, indices: Sequence[SSAValue], read_only: bool = False):
        memref_type = memref.type
        assert isinstance(memref_type, MemRefType)
        super().__init__(
            operands=[memref, indices],
            result_types=[EmitC_PointerType(memref_type.get_element_type())],
            properties={"read_only": UnitAttr()} if read_only else {},
        )

    def verify_(self) -> None:
        memref_type = self.memref.type
        assert isinstance(memref_type, MemRefType)
        if len(self.indices) != memref_type.get_num_dims():
            raise VerifyException(
                f"cptr.addr: {len(self.indices)} indices for a memref of rank {memref_type.get_num_dims()}"
            )


Cptr = Dialect("cptr", [AddrOp], [])
