"""
The `c` target: prints a module as one self-contained C99 translation unit.

It prints what the backend passes leave behind: `func.func` bodies of `scf`,
`arith`, `math` and `memref` ops on statically shaped memrefs, intrinsics as
`emitc.call_opaque` and element addresses as `cptr.addr`. Buffers are function
arguments (destination passing), constant globals (weights) or views into one
static arena (an uninitialized `memref<Nxi8>` global): there is no malloc.

    func.func @scale(%x: memref<2x4xf32>, %y: memref<2x4xf32>) {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %v = memref.load %x[%c1, %c0] : memref<2x4xf32>
      %w = arith.mulf %v, %v : f32
      memref.store %w, %y[%c1, %c0] : memref<2x4xf32>
      func.return
    }

prints as

    void scale(const float *restrict x, float *restrict y) {
      const float v = x[4];
      const float w = v * v;
      y[4] = w;
    }

Conventions: a memref is a flat pointer indexed in row-major order; an SSA
value is a `const` local named after its IR name hint; a constant is inlined
as a literal; a loop-carried value is one mutable local, assigned from
`scf.yield`. Values that nothing needs are not printed, since an unused
variable is an error under `-Wall -Wextra -Werror`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from io import StringIO
from math import prod
from typing import IO, Any

import numpy as np
from xdsl.context import Context
from xdsl.dialects import arith, func, math, memref, scf
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    Float32Type,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    ModuleOp,
    NoneAttr,
    StringAttr,
)
from xdsl.dialects.emitc import (
    EmitC_CallOpaqueOp,
    EmitC_OpaqueAttr,
    EmitC_OpaqueType,
    EmitC_PointerType,
)
from xdsl.ir import Attribute, Block, BlockArgument, Operation, SSAValue
from xdsl.utils.base_printer import BasePrinter
from xdsl.utils.hints import isa
from xdsl.utils.target import Target

from small_ir.dialects.cptr import AddrOp
from small_ir.errors import SmallIRError


class CEmitError(SmallIRError):
    """The module holds something the c target cannot print."""


def _cannot_print(op: Operation, hint: str) -> CEmitError:
    return CEmitError(f"the c target cannot print {op.name}: {hint}")


def _unsupported_op_hint(op: Operation) -> str:
    if op.name.startswith("kernel."):
        return (
            "lower kernel ops with a backend pass first "
            "(e.g. lower-kernel-to-scalar or lower-kernel-to-avx2)"
        )
    if isinstance(op, memref.AllocOp):
        return "run the plan-memory pass first to place buffers in the static arena"
    return (
        "it prints func, scf, arith, math.exp, math.sqrt, memref (global, get_global, view, "
        "alloca, load, store), emitc.call_opaque and cptr.addr ops only; lower the rest first"
    )


# Types and literals


_SIGNED_INTEGER_TYPES = {1: "int", 8: "int8_t", 16: "int16_t", 32: "int32_t", 64: "int64_t"}
_UNSIGNED_INTEGER_TYPES = {1: "unsigned", 8: "uint8_t", 16: "uint16_t", 32: "uint32_t", 64: "uint64_t"}


def c_type(type: Attribute) -> str:
    """The C type of a value of an IR type (memrefs are pointers, see `CPrinter`)."""
    if isinstance(type, Float32Type):
        return "float"
    if isinstance(type, IndexType):
        return "ptrdiff_t"
    if isinstance(type, IntegerType) and type.width.data in _SIGNED_INTEGER_TYPES:
        return _SIGNED_INTEGER_TYPES[type.width.data]
    if isinstance(type, EmitC_OpaqueType):
        return type.value.data
    if isinstance(type, EmitC_PointerType):
        return f"{c_type(type.pointee_type)} *"
    raise CEmitError(
        f"the c target has no C type for {type}: use f32, i1, i8, i16, i32, i64, index or emitc types"
    )


def _unsigned_c_type(type: Attribute) -> str:
    if isinstance(type, IndexType):
        return "size_t"
    if isinstance(type, IntegerType) and type.width.data in _UNSIGNED_INTEGER_TYPES:
        return _UNSIGNED_INTEGER_TYPES[type.width.data]
    raise CEmitError(f"the c target has no unsigned C type for {type}")


def _declaration(ctype: str, name: str) -> str:
    """`float x`, `float *p`; with an empty name, just the type."""
    if ctype.endswith("*") or not name:
        return f"{ctype}{name}"
    return f"{ctype} {name}"


def float_literal(value: float) -> str:
    """An f32 literal that reads back as exactly the same float."""
    single = np.float32(value)
    if np.isnan(single):
        return "NAN"
    if np.isinf(single):
        return "INFINITY" if single > 0 else "-INFINITY"
    text = "%.9g" % single
    if "." not in text and "e" not in text:
        text += ".0"
    return text + "f"


def integer_literal(value: int, type: Attribute) -> str:
    if isinstance(type, IntegerType):
        width = type.width.data
        if width == 1:
            return str(value & 1)
        # signless integers may hold their unsigned spelling: print the signed one
        value = (value + 2 ** (width - 1)) % 2**width - 2 ** (width - 1)
    if value == -(2**63):
        return "(-9223372036854775807 - 1)"
    return str(value)


_VALUES_PER_LINE = 8
_INTEGER_WITHOUT_POINT = re.compile(r"(?<![\w.+-])(-?\d+)f")
_FLOAT_SPECIALS = re.compile(r"-?(?:inf|nan)f")


def _initializer_values(values: np.ndarray, element_format: str) -> str:
    """Formats all values at once (a few hundred ms for 300k floats)."""
    full_rows, rest = divmod(len(values), _VALUES_PER_LINE)
    rows = [", ".join([element_format] * _VALUES_PER_LINE)] * full_rows
    if rest:
        rows.append(", ".join([element_format] * rest))
    return ",\n  ".join(rows) % tuple(values.tolist())


def _float_initializer(values: np.ndarray) -> str:
    text = _initializer_values(values, "%.9gf")
    text = _INTEGER_WITHOUT_POINT.sub(r"\1.0f", text)
    if np.isfinite(values).all():
        return text
    return _FLOAT_SPECIALS.sub(lambda match: float_literal(float(match.group()[:-1])), text)


def _integer_initializer(values: np.ndarray) -> str:
    text = _initializer_values(values, "%d")
    return text.replace("-9223372036854775808", "(-9223372036854775807 - 1)")


def _constant_int(value: SSAValue) -> int | None:
    op = value.owner
    if isinstance(op, arith.ConstantOp) and isinstance(op.value, IntegerAttr):
        return op.value.value.data
    return None


def _constant_indices(indices: Sequence[SSAValue]) -> tuple[int, ...] | None:
    constants: list[int] = []
    for index in indices:
        constant = _constant_int(index)
        if constant is None:
            return None
        constants.append(constant)
    return tuple(constants)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _sanitize(hint: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", hint)
    if not name[0].isalpha():
        name = "v" + name
    return name


def _is_arena_global(op: memref.GlobalOp) -> bool:
    element_type = op.type.get_element_type()
    return not isinstance(op.initial_value, DenseIntOrFPElementsAttr) and element_type == IntegerType(8)


# Liveness


def _is_scalarisable(alloca: memref.AllocaOp) -> bool:
    """Only loads and stores at constant, in-bounds indices: one C variable per element."""
    value = alloca.memref
    shape = alloca.memref.type.get_shape()
    for use in value.uses:
        user = use.operation
        if not isinstance(user, memref.LoadOp | memref.StoreOp) or user.memref is not value:
            return False
        indices = _constant_indices(user.indices)
        if indices is None or not all(0 <= i < size for i, size in zip(indices, shape)):
            return False
    return True


class _Liveness:
    """
    What a function's C code needs: values, stores, and the elements of
    scalarised allocas. Roots are the ops with effects (stores to memory
    that outlives the function, calls, loops); a value is needed if a needed
    op reads it. A loop-carried value is needed if its result or its block
    argument is, and then so are its initial and its yielded value.
    """

    def __init__(self, function: func.FuncOp):
        self.values: set[SSAValue] = set()
        self.stores: set[memref.StoreOp] = set()
        self.elements: set[tuple[SSAValue, tuple[int, ...]]] = set()
        self.scalarised: set[SSAValue] = {
            op.memref for op in function.walk() if isinstance(op, memref.AllocaOp) and _is_scalarisable(op)
        }
        self._pending: list[SSAValue] = []
        for op in function.walk():
            self._visit_root(op)
        while self._pending:
            self._visit(self._pending.pop())
        self.element_indices: dict[SSAValue, list[tuple[int, ...]]] = {}
        """The needed elements of each scalarised alloca, in index order."""
        for alloca, indices in sorted(self.elements, key=lambda element: element[1]):
            self.element_indices.setdefault(alloca, []).append(indices)

    def _need(self, values: Iterable[SSAValue]) -> None:
        for value in values:
            if value not in self.values:
                self.values.add(value)
                self._pending.append(value)

    def _need_store(self, store: memref.StoreOp) -> None:
        self.stores.add(store)
        if store.memref in self.scalarised:
            self._need((store.value,))
        else:
            self._need(store.operands)

    def _need_element(self, alloca: SSAValue, indices: tuple[int, ...]) -> None:
        if (alloca, indices) in self.elements:
            return
        self.elements.add((alloca, indices))
        self.values.add(alloca)
        for use in alloca.uses:
            store = use.operation
            if isinstance(store, memref.StoreOp) and _constant_indices(store.indices) == indices:
                self._need_store(store)

    def _need_carried(self, loop: scf.ForOp, index: int) -> None:
        body = loop.body.block
        yielded = body.last_op
        assert isinstance(yielded, scf.YieldOp)
        self._need((loop.res[index], body.args[index + 1], loop.iter_args[index], yielded.operands[index]))

    def _visit_root(self, op: Operation) -> None:
        if isinstance(op, memref.StoreOp) and not isinstance(op.memref.owner, memref.AllocaOp):
            self._need_store(op)
        elif isinstance(op, EmitC_CallOpaqueOp | func.CallOp | func.ReturnOp):
            self._need(op.operands)
        elif isinstance(op, scf.ForOp):
            self._need((op.lb, op.ub, op.step))
        elif isinstance(op, scf.IfOp):
            self._need((op.cond,))

    def _visit(self, value: SSAValue) -> None:
        if isinstance(value, BlockArgument):
            loop = value.block.parent_op()
            if isinstance(loop, scf.ForOp) and value.index > 0:
                self._need_carried(loop, value.index - 1)
            return
        op = value.owner
        assert isinstance(op, Operation)
        if isinstance(op, scf.ForOp):
            self._need_carried(op, value.index)
        elif isinstance(op, scf.IfOp):
            for region in (op.true_region, op.false_region):
                yielded = region.block.last_op
                assert isinstance(yielded, scf.YieldOp)
                self._need((yielded.operands[value.index],))
        elif isinstance(op, memref.AllocaOp):
            for use in value.uses:
                if isinstance(use.operation, memref.StoreOp) and use.operation.memref is value:
                    self._need_store(use.operation)
        elif isinstance(op, memref.LoadOp) and op.memref in self.scalarised:
            indices = _constant_indices(op.indices)
            assert indices is not None
            self._need_element(op.memref, indices)
        else:
            self._need(op.operands)


# The printer

_C_RESERVED = frozenset(
    """auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while _Bool _Complex _Imaginary asm typeof main
    size_t ptrdiff_t int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t
    NULL INFINITY NAN HUGE_VAL HUGE_VALF HUGE_VALL math_errhandling""".split()
) | frozenset(
    # <math.h> functions and classification macros, in all their float/long double forms (C99, POSIX).
    f"{name}{suffix}"
    for name in """acos asin atan atan2 cos sin tan acosh asinh atanh cosh sinh tanh exp exp2 expm1 frexp
    ilogb ldexp log log10 log1p log2 logb modf scalbn scalbln cbrt fabs hypot pow sqrt erf erfc lgamma
    tgamma ceil floor nearbyint rint lrint llrint round lround llround trunc fmod remainder remquo copysign
    nan nextafter nexttoward fdim fmax fmin fma j0 j1 jn y0 y1 yn""".split()
    for suffix in ("", "f", "l")
) | frozenset(
    """fpclassify isfinite isinf isnan isnormal signbit isgreater isgreaterequal isless islessequal
    islessgreater isunordered float_t double_t""".split()
)

_INFIX_OPERATORS: dict[type[Operation], str] = {
    arith.AddiOp: "+",
    arith.SubiOp: "-",
    arith.MuliOp: "*",
    arith.DivSIOp: "/",
    arith.RemSIOp: "%",
    arith.AndIOp: "&",
    arith.OrIOp: "|",
    arith.AddfOp: "+",
    arith.SubfOp: "-",
    arith.MulfOp: "*",
    arith.DivfOp: "/",
}
_UNSIGNED_INFIX_OPERATORS: dict[type[Operation], str] = {arith.DivUIOp: "/", arith.RemUIOp: "%"}
_SIGNED_SELECTIONS: dict[type[Operation], str] = {arith.MaxSIOp: ">", arith.MinSIOp: "<"}
_UNSIGNED_SELECTIONS: dict[type[Operation], str] = {arith.MaxUIOp: ">", arith.MinUIOp: "<"}
_CMPI_OPERATORS = {
    "eq": "==",
    "ne": "!=",
    "slt": "<",
    "sle": "<=",
    "sgt": ">",
    "sge": ">=",
    "ult": "<",
    "ule": "<=",
    "ugt": ">",
    "uge": ">=",
}
_CMPF_EXPRESSIONS = {
    "false": "0",
    "oeq": "{a} == {b}",
    "ogt": "{a} > {b}",
    "oge": "{a} >= {b}",
    "olt": "{a} < {b}",
    "ole": "{a} <= {b}",
    "one": "({a} < {b} || {a} > {b})",
    "ord": "(!isnan({a}) && !isnan({b}))",
    "ueq": "!({a} < {b} || {a} > {b})",
    "ugt": "!({a} <= {b})",
    "uge": "!({a} < {b})",
    "ult": "!({a} >= {b})",
    "ule": "!({a} > {b})",
    "une": "{a} != {b}",
    "uno": "(isnan({a}) || isnan({b}))",
    "true": "1",
}
_MATH_FUNCTIONS: dict[type[Operation], str] = {math.ExpOp: "expf", math.SqrtOp: "sqrtf"}

# With the module attribute c.freestanding (bare metal: no libc), what <math.h> would give.
_FREESTANDING_MATH = """/* Freestanding: no libc. What <math.h> would give, from compiler builtins. */
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define isnan(x) __builtin_isnan(x)
#define signbit(x) __builtin_signbit(x)
#define sqrtf(x) __builtin_sqrtf(x)
#define expf small_ir_expf"""

_FREESTANDING_EXPF = """/* e^x = 2^n e^r with |r| <= ln(2)/2: a degree-7 Taylor polynomial, then 2^n in two exact steps. */
static inline float small_ir_expf(float x) {
  union { float f; uint32_t u; } half_scale, other_scale;
  if (x != x) return x;
  if (x > 88.7228394f) return INFINITY;
  if (x < -103.972084f) return 0.0f;
  const int n = (int)(x * 1.44269502f + (x >= 0.0f ? 0.5f : -0.5f));
  const float r = (x - (float)n * 0.693145752f) - (float)n * 1.42860677e-06f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f + r * (8.33333333e-3f
      + r * (1.38888889e-3f + r * 1.98412698e-4f))))));
  half_scale.u = (uint32_t)(n / 2 + 127) << 23;
  other_scale.u = (uint32_t)(n - n / 2 + 127) << 23;
  return p * half_scale.f * other_scale.f;
}"""

# Ops with no C operator: a static inline helper per C type, printed only if used.
_HELPERS: dict[type[Operation], tuple[str, str]] = {
    arith.MaximumfOp: (
        "small_maximumf",
        """/* arith.maximumf: NaN if an operand is NaN, and -0 < +0. */
static inline float small_maximumf(float a, float b) {{
  if (isnan(a) || isnan(b)) return NAN;
  if (a == b) return signbit(a) ? b : a;
  return a > b ? a : b;
}}""",
    ),
    arith.MinimumfOp: (
        "small_minimumf",
        """/* arith.minimumf: NaN if an operand is NaN, and -0 < +0. */
static inline float small_minimumf(float a, float b) {{
  if (isnan(a) || isnan(b)) return NAN;
  if (a == b) return signbit(a) ? a : b;
  return a < b ? a : b;
}}""",
    ),
    arith.FloorDivSIOp: (
        "small_floordivsi_{T}",
        """/* arith.floordivsi: rounds towards negative infinity. */
static inline {T} small_floordivsi_{T}({T} a, {T} b) {{
  const {T} q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}}""",
    ),
    arith.CeilDivSIOp: (
        "small_ceildivsi_{T}",
        """/* arith.ceildivsi: rounds towards positive infinity. */
static inline {T} small_ceildivsi_{T}({T} a, {T} b) {{
  const {T} q = a / b;
  return (a % b != 0 && (a < 0) == (b < 0)) ? q + 1 : q;
}}""",
    ),
}


def _helper_name(op: Operation) -> str:
    return _HELPERS[type(op)][0].format(T=c_type(op.results[0].type))


def _helper_definition(op: Operation) -> str:
    return _HELPERS[type(op)][1].format(T=c_type(op.results[0].type))


@dataclass(eq=False, repr=False)
class CPrinter(BasePrinter):
    """Prints a module as C, one op at a time (see `_OP_PRINTERS`)."""

    _globals: dict[str, memref.GlobalOp] = field(default_factory=dict[str, memref.GlobalOp], init=False)
    _reserved: set[str] = field(default_factory=set[str], init=False)

    _liveness: dict[func.FuncOp, _Liveness] = field(default_factory=dict[func.FuncOp, _Liveness], init=False)
    _used_globals: set[str] = field(default_factory=set[str], init=False)

    # per function
    _live: _Liveness = field(init=False)
    # the C expression of each printed value (constants are printed at their uses)
    _names: dict[SSAValue, str] = field(default_factory=dict[SSAValue, str], init=False)
    _taken: set[str] = field(default_factory=set[str], init=False)
    _counter: int = field(default=0, init=False)
    # the locals an scf.yield assigns, by the yield's parent (None: nothing needs that value)
    _yield_targets: dict[Operation, list[str | None]] = field(
        default_factory=dict[Operation, list[str | None]], init=False
    )
    # the local of each element of a scalarised alloca
    _elements: dict[tuple[SSAValue, tuple[int, ...]], str] = field(
        default_factory=dict[tuple[SSAValue, tuple[int, ...]], str], init=False
    )

    # Module

    def print_module(self, module: ModuleOp) -> None:
        self._check_supported(module)
        self._globals = {op.sym_name.data: op for op in module.ops if isinstance(op, memref.GlobalOp)}
        self._reserved = set(_C_RESERVED) | self._module_symbols(module)
        functions = [op for op in module.ops if isinstance(op, func.FuncOp) and op.body.blocks]
        self._liveness = {op: _Liveness(op) for op in functions}
        self._used_globals = {
            value.owner.name_.root_reference.data
            for live in self._liveness.values()
            for value in live.values
            if isinstance(value.owner, memref.GetGlobalOp)
        }
        self.print_string("/* Generated by small-ir (the c target). */")
        freestanding = "c.freestanding" in module.attributes
        headers = ("stddef.h", "stdint.h") if freestanding else ("stddef.h", "stdint.h", "math.h")
        for header in (*headers, *self._extra_includes(module)):
            self._line(f"#include <{header}>")
        if freestanding:
            self._line("")
            self.print_string(_FREESTANDING_MATH)
            if any(isinstance(op, math.ExpOp) for op in module.walk()):
                self._line("")
                self.print_string(_FREESTANDING_EXPF)
        self._print_helpers(module)
        self._print_prototypes(module)
        for op in module.ops:
            self._line("")
            self.print_op(op)
        self.print_string("\n")

    @staticmethod
    def _check_supported(module: ModuleOp) -> None:
        """Fails on the first op with no printer, before anything is printed."""
        for top_level_op in module.ops:
            for op in top_level_op.walk():
                if type(op) not in _OP_PRINTERS:
                    raise _cannot_print(op, _unsupported_op_hint(op))

    def _module_symbols(self, module: ModuleOp) -> set[str]:
        symbols = set(self._globals)
        for op in module.walk():
            if isinstance(op, func.FuncOp):
                symbols.add(op.sym_name.data)
            elif isinstance(op, EmitC_CallOpaqueOp):
                symbols.add(op.callee.data)
            elif type(op) in _HELPERS:
                symbols.add(_helper_name(op))
        return symbols

    @staticmethod
    def _extra_includes(module: ModuleOp) -> list[str]:
        includes = module.attributes.get("c.includes")
        if includes is None:
            return []
        if not isa(includes, ArrayAttr[StringAttr]):
            raise CEmitError(
                'the module attribute c.includes must be an array of strings, e.g. ["immintrin.h"]'
            )
        return [header.data for header in includes]

    def _print_helpers(self, module: ModuleOp) -> None:
        helpers = {_helper_definition(op): None for op in module.walk() if type(op) in _HELPERS}
        for helper in helpers:
            self._line("")
            self._line(helper)

    def _print_prototypes(self, module: ModuleOp) -> None:
        """Declares every function a func.call calls, so definitions may come in any order."""
        callees = {op.callee.string_value() for op in module.walk() if isinstance(op, func.CallOp)}
        functions = [op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data in callees]
        if functions:
            self._line("")
        for function in functions:
            self._line(self._signature(function, [""] * len(function.args)) + ";")

    def print_op(self, op: Operation) -> None:
        if self._needs(op):
            _OP_PRINTERS[type(op)](self, op)

    def _line(self, text: str) -> None:
        self.print_string("\n" + text)

    def _print_global(self, op: memref.GlobalOp) -> None:
        name = self._symbol(op, op.sym_name.data)
        if name not in self._used_globals:
            self._line(f"/* memref.global @{name} is never used: not printed */")
            return
        shape = self._static_shape(op, op.type)
        element_type = op.type.get_element_type()
        alignment = max(64, op.alignment.value.data) if op.alignment else 64
        attributes = f" __attribute__((aligned({alignment})))"
        count = prod(shape)
        if _is_arena_global(op):
            self._line(f"/* the {count}-byte activation arena; every view into it holds f32 */")
            self._line(f"static float {name}[{(count + 3) // 4}]{attributes};")
            return
        ctype = c_type(element_type)
        initial_value = op.initial_value
        if not isinstance(initial_value, DenseIntOrFPElementsAttr):
            self._line(f"static {ctype} {name}[{count}]{attributes};")
            return
        qualifiers = "static const" if op.constant else "static"
        self._line(f"{qualifiers} {ctype} {name}[{count}]{attributes} = {{")
        self.print_string("\n  " + self._initializer(op, initial_value, count), indent=0)
        self._line("};")

    def _initializer(self, op: memref.GlobalOp, value: DenseIntOrFPElementsAttr, count: int) -> str:
        element_type = value.get_element_type()
        if not isinstance(element_type, Float32Type | IntegerType):
            raise _cannot_print(op, f"initial values of type {element_type} are not supported")
        values = np.frombuffer(value.data.data, dtype=np.dtype(element_type.format))
        if len(values) == 1:
            values = np.full(count, values[0])
        if len(values) != count:
            raise _cannot_print(op, f"{len(values)} initial values for {count} elements")
        if isinstance(element_type, Float32Type):
            return _float_initializer(values)
        return _integer_initializer(values)

    def _symbol(self, op: Operation, name: str) -> str:
        if not _IDENTIFIER.fullmatch(name) or name in _C_RESERVED or name.startswith("_"):
            raise _cannot_print(op, f"@{name} is not a C identifier or clashes with the C library; rename the symbol")
        return name

    # Functions

    def _print_func(self, op: func.FuncOp) -> None:
        if not op.body.blocks:
            raise _cannot_print(op, "external declarations (functions without a body) are not supported")
        if len(op.body.blocks) != 1:
            raise _cannot_print(op, "only single-block functions (structured control flow) are supported")
        if op.function_type.outputs.data:
            raise _cannot_print(op, "functions return results through output memrefs (destination passing)")
        self._start_function(op)
        self._line(self._signature(op, [self._names[arg] for arg in op.args]) + " {")
        with self.indented():
            for arg in op.args:
                if arg not in self._live.values:
                    self._line(f"(void){self._names[arg]};")
            self._print_block(op.body.block)
        self._line("}")

    def _start_function(self, op: func.FuncOp) -> None:
        self._live = self._liveness[op]
        self._names = {}
        self._taken = set(self._reserved)
        self._counter = 0
        self._yield_targets = {}
        self._elements = {}
        for arg in op.args:
            self._names[arg] = self._new_name(arg.name_hint)

    def _signature(self, op: func.FuncOp, names: Sequence[str]) -> str:
        name = self._symbol(op, op.sym_name.data)
        parameters = ", ".join(self._parameter(op, arg, arg_name) for arg, arg_name in zip(op.args, names))
        storage = "static " if op.sym_visibility == StringAttr("private") else ""
        return f"{storage}void {name}({parameters or 'void'})"

    def _parameter(self, op: func.FuncOp, arg: BlockArgument, name: str) -> str:
        if not isinstance(arg.type, MemRefType):
            return _declaration(c_type(arg.type), name)
        self._static_shape(op, arg.type)
        ctype = c_type(arg.type.get_element_type())
        qualifier = "" if self._is_written(arg) else "const "
        return _declaration(f"{qualifier}{ctype} *restrict", name)

    @staticmethod
    def _is_written(memref_value: SSAValue) -> bool:
        """Conservative: an address taken (unless read-only) or passed on counts as a write."""
        for use in memref_value.uses:
            user = use.operation
            if isinstance(user, AddrOp) and user.read_only is None or isinstance(user, func.CallOp):
                return True
            if isinstance(user, memref.StoreOp) and user.memref is memref_value:
                return True
        return False

    def _needs(self, op: Operation) -> bool:
        if isinstance(op, memref.StoreOp):
            return op in self._live.stores
        if not op.results or isinstance(op, scf.ForOp | scf.IfOp | EmitC_CallOpaqueOp):
            return True
        return any(result in self._live.values for result in op.results)

    def _print_block(self, block: Block) -> None:
        for op in block.ops:
            self.print_op(op)

    def _print_return(self, op: func.ReturnOp) -> None:
        if op.operands:
            raise _cannot_print(op, "functions return results through output memrefs (destination passing)")

    def _print_call(self, op: func.CallOp) -> None:
        if op.res:
            raise _cannot_print(op, "functions return results through output memrefs (destination passing)")
        arguments = ", ".join(self._expr(arg) for arg in op.arguments)
        self._line(f"{self._symbol(op, op.callee.string_value())}({arguments});")

    # Values

    def _new_name(self, hint: str | None) -> str:
        """A fresh C name: the sanitised hint, else vN; unique within the function."""
        if hint is None:
            while f"v{self._counter}" in self._taken:
                self._counter += 1
            hint = f"v{self._counter}"
        base = name = _sanitize(hint)
        suffix = 0
        while name in self._taken:
            suffix += 1
            name = f"{base}_{suffix}"
        self._taken.add(name)
        return name

    def _expr(self, value: SSAValue) -> str:
        """The C expression of a value: a literal for constants, else a name."""
        if isinstance(value.owner, arith.ConstantOp):
            return self._literal(value.owner)
        return self._names[value]

    def _define(self, value: SSAValue, expression: str) -> None:
        name = self._new_name(value.name_hint)
        ctype = c_type(value.type)
        qualifier = "" if ctype.endswith("*") else "const "
        self._line(f"{qualifier}{_declaration(ctype, name)} = {expression};")
        self._names[value] = name

    def _literal(self, op: arith.ConstantOp) -> str:
        value = op.value
        if isinstance(value, IntegerAttr):
            return integer_literal(value.value.data, value.type)
        if isinstance(value, FloatAttr) and isinstance(value.type, Float32Type):
            return float_literal(value.value.data)
        raise _cannot_print(op, f"only index, integer and f32 scalar constants are supported, not {value}")

    def _print_constant(self, op: arith.ConstantOp) -> None:
        self._literal(op)  # constants are inlined at each use; this only checks them

    # Arithmetic

    def _operands(self, op: Operation) -> list[str]:
        return [self._expr(operand) for operand in op.operands]

    def _print_infix(self, op: Operation) -> None:
        a, b = self._operands(op)
        self._define(op.results[0], f"{a} {_INFIX_OPERATORS[type(op)]} {b}")

    def _print_unsigned_infix(self, op: Operation) -> None:
        a, b = self._operands(op)
        unsigned = _unsigned_c_type(op.results[0].type)
        self._define(op.results[0], f"({unsigned}){a} {_UNSIGNED_INFIX_OPERATORS[type(op)]} ({unsigned}){b}")

    def _print_signed_selection(self, op: Operation) -> None:
        a, b = self._operands(op)
        self._define(op.results[0], f"{a} {_SIGNED_SELECTIONS[type(op)]} {b} ? {a} : {b}")

    def _print_unsigned_selection(self, op: Operation) -> None:
        a, b = self._operands(op)
        unsigned = _unsigned_c_type(op.results[0].type)
        comparison = f"({unsigned}){a} {_UNSIGNED_SELECTIONS[type(op)]} ({unsigned}){b}"
        self._define(op.results[0], f"{comparison} ? {a} : {b}")

    def _print_helper_call(self, op: Operation) -> None:
        a, b = self._operands(op)
        self._define(op.results[0], f"{_helper_name(op)}({a}, {b})")

    def _print_cmpi(self, op: arith.CmpiOp) -> None:
        a, b = self._operands(op)
        predicate = arith.CMPI_COMPARISON_OPERATIONS[op.predicate.value.data]
        if predicate.startswith("u"):
            unsigned = _unsigned_c_type(op.lhs.type)
            a, b = f"({unsigned}){a}", f"({unsigned}){b}"
        self._define(op.result, f"{a} {_CMPI_OPERATORS[predicate]} {b}")

    def _print_cmpf(self, op: arith.CmpfOp) -> None:
        a, b = self._operands(op)
        predicate = arith.CMPF_COMPARISON_OPERATIONS[op.predicate.value.data]
        self._define(op.result, _CMPF_EXPRESSIONS[predicate].format(a=a, b=b))

    def _print_select(self, op: arith.SelectOp) -> None:
        condition, a, b = self._operands(op)
        self._define(op.result, f"{condition} ? {a} : {b}")

    def _print_cast(self, op: arith.IndexCastOp | arith.SIToFPOp | arith.FPToSIOp) -> None:
        self._define(op.result, f"({c_type(op.result.type)}){self._expr(op.input)}")

    def _print_uitofp(self, op: arith.UIToFPOp) -> None:
        unsigned = _unsigned_c_type(op.input.type)
        self._define(op.result, f"({c_type(op.result.type)})({unsigned}){self._expr(op.input)}")

    def _print_negf(self, op: arith.NegfOp) -> None:
        operand = self._expr(op.operand)
        self._define(op.result, f"-({operand})" if operand.startswith("-") else f"-{operand}")

    def _print_math(self, op: math.ExpOp | math.SqrtOp) -> None:
        if not isinstance(op.result.type, Float32Type):
            raise _cannot_print(op, f"only f32 is supported, not {op.result.type}")
        self._define(op.result, f"{_MATH_FUNCTIONS[type(op)]}({self._expr(op.operand)})")

    # Control flow

    def _print_for(self, op: scf.ForOp) -> None:
        body = op.body.block
        targets: list[str | None] = []
        for init, result, arg in zip(op.iter_args, op.res, body.args[1:]):
            if result not in self._live.values:
                targets.append(None)
                continue
            name = self._new_name(result.name_hint or arg.name_hint)
            self._line(f"{_declaration(c_type(result.type), name)} = {self._expr(init)};")
            self._names[result] = self._names[arg] = name
            targets.append(name)
        self._yield_targets[op] = targets
        induction = body.args[0]
        i = self._names[induction] = self._new_name(induction.name_hint)
        lb, ub, step = self._expr(op.lb), self._expr(op.ub), self._expr(op.step)
        self._line(f"for ({c_type(induction.type)} {i} = {lb}; {i} < {ub}; {i} += {step}) {{")
        with self.indented():
            self._print_block(body)
        self._line("}")

    def _print_if(self, op: scf.IfOp) -> None:
        targets: list[str | None] = []
        for result in op.output:
            if result not in self._live.values:
                targets.append(None)
                continue
            name = self._names[result] = self._new_name(result.name_hint)
            self._line(f"{_declaration(c_type(result.type), name)};")
            targets.append(name)
        self._yield_targets[op] = targets
        self._line(f"if ({self._expr(op.cond)}) {{")
        with self.indented():
            self._print_block(op.true_region.block)
        if op.false_region.blocks and (len(op.false_region.block.ops) > 1 or any(targets)):
            self._line("} else {")
            with self.indented():
                self._print_block(op.false_region.block)
        self._line("}")

    def _print_yield(self, op: scf.YieldOp) -> None:
        parent = op.parent_op()
        assert parent is not None
        assignments = [
            (target, value)
            for target, value in zip(self._yield_targets[parent], op.operands)
            if target is not None and self._expr(value) != target
        ]
        sources = [self._expr(value) for _, value in assignments]
        if any(self._is_carried_by(parent, value) for _, value in assignments):
            # a permutation of loop-carried values: read them all before writing any
            sources = [self._copy(value, target) for target, value in assignments]
        for (target, _), source in zip(assignments, sources):
            self._line(f"{target} = {source};")

    @staticmethod
    def _is_carried_by(loop: Operation, value: SSAValue) -> bool:
        return (
            isinstance(loop, scf.ForOp)
            and isinstance(value, BlockArgument)
            and value.block is loop.body.block
            and value.index > 0
        )

    def _copy(self, value: SSAValue, target: str) -> str:
        name = self._new_name(f"{target}_next")
        self._line(f"const {_declaration(c_type(value.type), name)} = {self._expr(value)};")
        return name

    # Memory

    def _static_shape(self, op: Operation, type: MemRefType[Attribute]) -> tuple[int, ...]:
        shape = type.get_shape()
        if any(size < 0 for size in shape):
            raise _cannot_print(op, f"{type} has a dynamic shape; only static shapes are supported")
        if not isinstance(type.layout, NoneAttr):
            raise _cannot_print(
                op, f"{type} has a layout map; only the identity (row-major) layout is supported"
            )
        return shape

    def _flat_index(self, op: Operation, memref_value: SSAValue, indices: Sequence[SSAValue]) -> str:
        """The row-major offset of an element, with constant indices folded."""
        assert isinstance(memref_value.type, MemRefType)
        shape = self._static_shape(op, memref_value.type)
        terms: list[str] = []
        offset = 0
        for dim, index in enumerate(indices):
            stride = prod(shape[dim + 1 :])
            constant = _constant_int(index)
            if constant is not None:
                offset += constant * stride
            elif stride == 1:
                terms.append(self._expr(index))
            else:
                terms.append(f"{self._expr(index)} * {stride}")
        flat = " + ".join(terms)
        if not terms:
            return str(offset)
        if offset > 0:
            return f"{flat} + {offset}"
        if offset < 0:
            return f"{flat} - {-offset}"
        return flat

    def _element(self, op: memref.LoadOp | memref.StoreOp) -> str:
        if op.memref in self._live.scalarised:
            indices = _constant_indices(op.indices)
            assert indices is not None
            return self._elements[(op.memref, indices)]
        if self._is_arena(op.memref):
            raise _cannot_print(op, "access the arena through memref.view, as f32")
        return f"{self._expr(op.memref)}[{self._flat_index(op, op.memref, op.indices)}]"

    def _is_arena(self, memref_value: SSAValue) -> bool:
        source = memref_value.owner
        if not isinstance(source, memref.GetGlobalOp):
            return False
        return _is_arena_global(self._globals[source.name_.root_reference.data])

    def _print_load(self, op: memref.LoadOp) -> None:
        self._define(op.res, self._element(op))

    def _print_store(self, op: memref.StoreOp) -> None:
        self._line(f"{self._element(op)} = {self._expr(op.value)};")

    def _print_alloca(self, op: memref.AllocaOp) -> None:
        if op.dynamic_sizes:
            raise _cannot_print(op, "only static shapes are supported")
        shape = self._static_shape(op, op.memref.type)
        ctype = c_type(op.memref.type.get_element_type())
        name = self._new_name(op.memref.name_hint)
        if op.memref in self._live.scalarised:
            # one variable per element, so that a register tile stays in registers
            for indices in self._live.element_indices.get(op.memref, []):
                element = self._new_name(f"{name}_{'_'.join(map(str, indices))}")
                self._elements[(op.memref, indices)] = element
                self._line(f"{_declaration(ctype, element)};")
            return
        alignment = f" __attribute__((aligned({op.alignment.value.data})))" if op.alignment else ""
        self._names[op.memref] = name
        self._line(f"{_declaration(ctype, name)}[{prod(shape)}]{alignment};")

    def _print_get_global(self, op: memref.GetGlobalOp) -> None:
        name = op.name_.root_reference.data
        if op.name_.nested_references.data or name not in self._globals:
            raise _cannot_print(op, f"no memref.global {op.name_} in the module")
        self._names[op.memref] = name

    def _print_view(self, op: memref.ViewOp) -> None:
        if not self._is_arena(op.source):
            raise _cannot_print(
                op, "only views into the arena (an uninitialized memref<Nxi8> global) are supported"
            )
        if op.sizes:
            raise _cannot_print(op, "only static shapes are supported")
        assert isinstance(op.result.type, MemRefType)
        self._static_shape(op, op.result.type)
        if not isinstance(op.result.type.get_element_type(), Float32Type):
            raise _cannot_print(op, "views into the arena hold f32")
        shift = _constant_int(op.byte_shift)
        if shift is not None and shift % 4:
            raise _cannot_print(op, f"byte shift {shift} is not a multiple of 4 (f32)")
        offset = f"{shift // 4}" if shift is not None else f"{self._expr(op.byte_shift)} / 4"
        name = self._names[op.result] = self._new_name(op.result.name_hint)
        self._line(f"float *{name} = {self._expr(op.source)} + {offset};")

    def _print_addr(self, op: AddrOp) -> None:
        self._names[op.result] = f"&{self._expr(op.memref)}[{self._flat_index(op, op.memref, op.indices)}]"

    def _print_call_opaque(self, op: EmitC_CallOpaqueOp) -> None:
        if op.template_args is not None:
            raise _cannot_print(op, "C has no template arguments")
        if len(op.res) > 1:
            raise _cannot_print(op, "a C function has at most one result")
        call = f"{op.callee.data}({', '.join(self._call_arguments(op))})"
        if op.res and op.res[0] in self._live.values:
            self._define(op.res[0], call)
        else:
            self._line(f"{call};")

    def _call_arguments(self, op: EmitC_CallOpaqueOp) -> list[str]:
        if op.args is None:
            return self._operands(op)
        return [self._call_argument(op, arg) for arg in op.args]

    def _call_argument(self, op: EmitC_CallOpaqueOp, arg: Attribute) -> str:
        if isinstance(arg, IntegerAttr) and isinstance(arg.type, IndexType):
            return self._expr(op.call_args[arg.value.data])
        if isinstance(arg, IntegerAttr):
            return integer_literal(arg.value.data, arg.type)
        if isinstance(arg, FloatAttr) and isinstance(arg.type, Float32Type):
            return float_literal(arg.value.data)
        if isinstance(arg, EmitC_OpaqueAttr):
            return arg.value.data
        raise _cannot_print(op, f"unsupported argument attribute {arg}")


_OP_PRINTERS: dict[type[Operation], Callable[[CPrinter, Any], None]] = {
    memref.GlobalOp: CPrinter._print_global,
    func.FuncOp: CPrinter._print_func,
    func.ReturnOp: CPrinter._print_return,
    func.CallOp: CPrinter._print_call,
    arith.ConstantOp: CPrinter._print_constant,
    **{op_type: CPrinter._print_infix for op_type in _INFIX_OPERATORS},
    **{op_type: CPrinter._print_unsigned_infix for op_type in _UNSIGNED_INFIX_OPERATORS},
    **{op_type: CPrinter._print_signed_selection for op_type in _SIGNED_SELECTIONS},
    **{op_type: CPrinter._print_unsigned_selection for op_type in _UNSIGNED_SELECTIONS},
    **{op_type: CPrinter._print_helper_call for op_type in _HELPERS},
    arith.CmpiOp: CPrinter._print_cmpi,
    arith.CmpfOp: CPrinter._print_cmpf,
    arith.SelectOp: CPrinter._print_select,
    arith.IndexCastOp: CPrinter._print_cast,
    arith.SIToFPOp: CPrinter._print_cast,
    arith.FPToSIOp: CPrinter._print_cast,
    arith.UIToFPOp: CPrinter._print_uitofp,
    arith.NegfOp: CPrinter._print_negf,
    math.ExpOp: CPrinter._print_math,
    math.SqrtOp: CPrinter._print_math,
    scf.ForOp: CPrinter._print_for,
    scf.IfOp: CPrinter._print_if,
    scf.YieldOp: CPrinter._print_yield,
    memref.LoadOp: CPrinter._print_load,
    memref.StoreOp: CPrinter._print_store,
    memref.AllocaOp: CPrinter._print_alloca,
    memref.GetGlobalOp: CPrinter._print_get_global,
    memref.ViewOp: CPrinter._print_view,
    AddrOp: CPrinter._print_addr,
    EmitC_CallOpaqueOp: CPrinter._print_call_opaque,
}


@dataclass(frozen=True)
class CTarget(Target):
    """Prints a module as one self-contained C99 translation unit."""

    name = "c"

    def emit(self, ctx: Context, module: ModuleOp, output: IO[str]) -> None:
        CPrinter(stream=output).print_module(module)


def emit_c(module: ModuleOp) -> str:
    """The module as C source text."""
    output = StringIO()
    CPrinter(stream=output).print_module(module)
    return output.getvalue()
