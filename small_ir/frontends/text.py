"""
The small-ir network text format: a network in a few lines, its weights in a
side .npz archive.

    network resnet_block
    weights "resnet_block.npz"            # relative to this file
    input x: 1x16x32x32                   # only inputs declare shapes
    a = relu(conv2d(x, w0, b0, pads=1))   # calls nest
    b = conv2d(a, w1, b1, pads=1)
    y = relu(add(b, x))
    output y

One statement per line, `#` starts a comment. Inputs and outputs may be
several (`output y, z`); the function takes the inputs in declaration order,
then the outputs. Variables are assigned once; weights are names of arrays in
the .npz and come after an op's activation inputs. The ops (defaults shown):

    conv2d(x, weight[, bias], strides=1, pads=0, dilations=1, group=1)
    max_pool2d(x, kernel=K, strides=1, pads=0, dilations=1)
    avg_pool2d(x, kernel=K, strides=1, pads=0, count_include_pad=false)
    global_avg_pool(x)          dense(x, weight[, bias])
    add(a, b)   sub(a, b)   mul(a, b)   concat(a, b, ..., axis=1)
    relu(x)   relu6(x)   sigmoid(x)   clip(x, min=A, max=B)   leaky_relu(x, alpha=0.01)
    softmax(x, axis=1)          reshape(x, shape=1x64)      flatten(x, axis=1)

`kernel`, `strides` and `dilations` take `n` (both axes) or `[h, w]`; `pads`
takes `p`, `[h, w]` or `[top, left, bottom, right]`; `kernel_shape` (the
`small_ir.reference` keyword) is accepted for `kernel`. `layout nhwc` marks the
model's inputs and outputs as NHWC (see `small_ir.frontends`).

    model = import_text("resnet_block.net")     # or small_ir.frontends.load_model
    print_text(model.module, "copy.net")        # writes copy.net and copy.npz

Every problem is a `TextFormatError` (a `ModelImportError`) whose message gives
`file:line:column`, what was expected, and the offending line.
"""

from __future__ import annotations

import difflib
import math
import re
import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from math import prod
from pathlib import Path

import numpy as np
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from xdsl.dialects import func, memref
from xdsl.dialects.builtin import FloatAttr, ModuleOp, StringAttr
from xdsl.ir import SSAValue
from xdsl.utils.exceptions import PassFailedException, VerifyException

from small_ir.builder import SOURCE, NetworkBuilder, Tensor, weight_global
from small_ir.dialects import nn
from small_ir.dialects.nn import fmt, window_output_size
from small_ir.errors import SmallIRError
from small_ir.frontends import IO_LAYOUT, ImportedModel, ModelImportError, set_io_layout
from small_ir.weights import constant_array, global_of

__all__ = ["TextFormatError", "format_network", "import_text", "parse_network", "print_text"]

KEYWORDS = frozenset({"network", "layout", "weights", "input", "output", "true", "false"})
LAYOUTS = ("nchw", "nhwc")
MAX_NESTING = 100
I64_LIMIT = 2**63


@dataclass(frozen=True)
class _Op:
    """What an op of the format takes: activation inputs, weight names, attributes by kind."""

    signature: str
    inputs: int | None = 1  # None: one or more (concat)
    weights: tuple[int, int] = (0, 0)  # how many weight names, at least and at most
    attributes: dict[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    image_input: bool = False  # the builder needs a 1xCxHxW input


_WINDOW = {"strides": "pair", "pads": "pads"}
_OPS = {
    "conv2d": _Op(
        "conv2d(x, weight[, bias], strides=1, pads=0, dilations=1, group=1)",
        weights=(1, 2),
        attributes={**_WINDOW, "dilations": "pair", "group": "positive"},
        image_input=True,
    ),
    "max_pool2d": _Op(
        "max_pool2d(x, kernel=K, strides=1, pads=0, dilations=1)",
        attributes={"kernel": "pair", **_WINDOW, "dilations": "pair"},
        required=("kernel",),
        image_input=True,
    ),
    "avg_pool2d": _Op(
        "avg_pool2d(x, kernel=K, strides=1, pads=0, count_include_pad=false)",
        attributes={"kernel": "pair", **_WINDOW, "count_include_pad": "bool"},
        required=("kernel",),
        image_input=True,
    ),
    "global_avg_pool": _Op("global_avg_pool(x)", image_input=True),
    "dense": _Op("dense(x, weight[, bias])", weights=(1, 2)),
    "add": _Op("add(a, b)", inputs=2),
    "sub": _Op("sub(a, b)", inputs=2),
    "mul": _Op("mul(a, b)", inputs=2),
    "relu": _Op("relu(x)"),
    "relu6": _Op("relu6(x)"),
    "sigmoid": _Op("sigmoid(x)"),
    "clip": _Op("clip(x, min=A, max=B)", attributes={"min": "float", "max": "float"}, required=("min", "max")),
    "leaky_relu": _Op("leaky_relu(x, alpha=0.01)", attributes={"alpha": "float"}),
    "softmax": _Op("softmax(x, axis=1)", attributes={"axis": "int"}),
    "reshape": _Op("reshape(x, shape=1x64)", attributes={"shape": "shape"}, required=("shape",)),
    "flatten": _Op("flatten(x, axis=1)", attributes={"axis": "int"}),
    "concat": _Op("concat(a, b, ..., axis=1)", inputs=None, attributes={"axis": "int"}),
}
_ALIASES = {"kernel_shape": "kernel"}
_KINDS = {
    "pair": "a positive integer or [h, w]",
    "pads": "an integer >= 0, [h, w] or [top, left, bottom, right]",
    "positive": "a positive integer",
    "int": "an integer",
    "float": "a number within the f32 range",
    "bool": "true or false",
    "shape": "a shape like 1x64 or [1, 64]",
}
# How the parser's expected terminals read in messages.
_TERMINALS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "INT": "an integer",
    "DIMS": "a shape like 1x3x32x32",
    "STRING": 'a quoted file name like "net.npz"',
    "_NL": "end of line",
    "$END": "end of file",
}


class TextFormatError(ModelImportError):
    """A problem in a network text, at `line` and `column` (both from 1)."""

    def __init__(self, source: str | Path, line: int, column: int, message: str, text: str):
        self.line, self.column, self.message = line, column, message
        super().__init__(source, [f"{source}:{line}:{column}: {message}{_excerpt(text, line, column)}"])


class _Problem(Exception):
    """Raised while reading; `at` is the offending token, a (line, column) pair, or None for the end of the text."""

    def __init__(self, message: str, at: Token | tuple[int, int] | None):
        super().__init__(message)
        self.at = at


def _excerpt(text: str, line: int, column: int) -> str:
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    source = lines[line - 1].rstrip("\r")
    if not source.strip():
        return ""
    if len(source) > 160:  # a window around the column
        start = max(0, column - 80)
        source, column = source[start : start + 160], column - start
    caret = "".join("\t" if char == "\t" else " " for char in source[: column - 1]) + "^"
    return f"\n      {source}\n      {caret}"


def _end_of(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


@cache
def _parser() -> Lark:
    return Lark.open_from_package(__package__, "network.lark", parser="lalr")


# Reading.


def import_text(path: str | Path) -> ImportedModel:
    """Reads a network text file; the weights file it names is relative to it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ModelImportError(path, [f"not a UTF-8 text file ({error.reason} at byte {error.start})"]) from None
    except OSError as error:
        raise ModelImportError(path, [f"cannot read the file: {error.strerror or error}"]) from None
    return parse_network(text, path)


def parse_network(
    text: str, source: str | Path = "<text>", weights: Mapping[str, np.ndarray] | None = None
) -> ImportedModel:
    """
    Builds the nn module of a network text. `weights` gives the arrays by name;
    without it they come from the file of the `weights` statement, relative to
    `source`'s folder.
    """
    try:
        try:
            tree = _parser().parse(text)
        except UnexpectedInput as error:
            raise _syntax_problem(error, text) from None
        return _Reader(Path(source), weights).read(tree)
    except _Problem as problem:
        if isinstance(problem.at, Token):
            line, column = problem.at.line, problem.at.column
        else:
            line, column = problem.at or _end_of(text)
        raise TextFormatError(source, line, column, str(problem), text) from None


def _syntax_problem(error: UnexpectedInput, text: str) -> _Problem:
    if isinstance(error, UnexpectedCharacters):
        # What the parser accepts here, after any pending reductions (`allowed` is only what the lexer state knows).
        parser = getattr(error, "interactive_parser", None)
        expected = parser.accepts() if parser is not None else error.allowed
        found, at = f"unexpected character {text[error.pos_in_stream]!r}", (error.line, error.column)
    elif isinstance(error, UnexpectedToken):
        token = error.token
        found, expected = f"unexpected {_describe(token.type, token.value)}", error.accepts or error.expected
        at = _end_of(text) if token.type == "$END" else (token.line, token.column)
    else:  # UnexpectedEOF
        found, expected, at = "unexpected end of file", error.expected, _end_of(text)
    expected = set(expected or ())
    if "_NL" in expected:
        expected.discard("$END")  # the end of the file ends a line too
    wanted = sorted({_describe(name) for name in expected})
    if not wanted:
        return _Problem(found, at)
    return _Problem(f"{found}; expected {wanted[0] if len(wanted) == 1 else 'one of ' + ', '.join(wanted)}", at)


def _describe(terminal: str, value: str | None = None) -> str:
    if terminal in ("_NL", "$END"):
        return _TERMINALS[terminal]
    if value is not None:
        return f"'{value}'"
    pattern = next((t.pattern for t in _parser().terminals if t.name == terminal), None)
    if pattern is not None and pattern.type == "str":
        return f"'{pattern.value}'"
    return _TERMINALS.get(terminal, terminal)


class _NamingBuilder(NetworkBuilder):
    """A NetworkBuilder whose weight globals take the names the text gives them; a name used twice is one global."""

    def __init__(self, name: str, *input_shapes: Sequence[int]):
        super().__init__(name, *input_shapes)
        self.names: dict[str, str] = {}  # the builder's hint ("w" weight, "b" bias) -> the text's name
        self.by_name: dict[str, memref.GlobalOp] = {}

    def constant(self, array: np.ndarray, hint: str = "w") -> SSAValue:
        name = self.names[hint]
        if name not in self.by_name:
            self.by_name[name] = weight_global(name, np.asarray(array, np.float32))
            self.globals.append(self.by_name[name])
        global_op = self.by_name[name]
        return self.builder.insert(memref.GetGlobalOp(name, global_op.type)).memref


class _Reader:
    def __init__(self, source: Path, weights: Mapping[str, np.ndarray] | None):
        self.source = source
        self.weights = weights
        self.weights_file = "the given weights" if weights is not None else None
        self.variables: dict[str, tuple[Tensor, Token]] = {}

    def read(self, tree: Tree) -> ImportedModel:
        headers: dict[str, Token] = {}
        inputs: list[tuple[Token, tuple[int, ...]]] = []
        outputs: list[Token] = []
        assignments: list[Tree] = []
        for statement in tree.children:
            kind = statement.data
            if kind == "assign":
                assignments.append(statement)
            elif kind == "output":
                outputs.extend(statement.children)
            elif kind == "input":
                name, shape = statement.children
                earlier = next((token for token, _ in inputs if token == name), None)
                if earlier is not None:
                    raise _Problem(f"input '{name}' is already declared on line {earlier.line}", name)
                inputs.append((name, _shape(shape)))
            else:  # network, layout, weights: at most once
                (value,) = statement.children
                if kind in headers:
                    raise _Problem(f"a second `{kind}` statement (the first is on line {headers[kind].line})", value)
                headers[kind] = value

        name = headers["network"].value if "network" in headers else "net"
        if "layout" in headers and headers["layout"] not in LAYOUTS:
            raise _Problem(f"unknown layout '{headers['layout']}'; expected nchw or nhwc", headers["layout"])
        if "weights" in headers and self.weights is None:
            self.weights, self.weights_file = self._load_weights(headers["weights"]), headers["weights"][1:-1]

        self.builder = _NamingBuilder(name, *(shape for _, shape in inputs))
        for (token, _), tensor in zip(inputs, self.builder.inputs):
            self.variables[token.value] = (tensor, token)
        for assignment in assignments:
            target, call, *source = assignment.children
            if target.value in self.variables:
                raise _Problem(f"'{target}' is already defined on line {self.variables[target.value][1].line}", target)
            self.builder.source = source[0].children[0][1:-1] if source else None
            self.variables[target.value] = (self._call(call, 0), target)
        self.builder.source = None
        module = self.builder.build(*self._outputs(outputs, inputs))
        if "layout" in headers:
            set_io_layout(module, headers["layout"].value)
        return ImportedModel(module, [token.value for token, _ in inputs], [token.value for token in outputs], self.source)

    def _outputs(self, outputs: list[Token], inputs) -> list[Tensor]:
        if not outputs:
            raise _Problem("no `output` statement: name the network's outputs, e.g. `output y`", None)
        tensors: list[Tensor] = []
        for index, token in enumerate(outputs):
            tensor = self._variable(token)
            if any(token == input_token for input_token, _ in inputs):
                raise _Problem(f"output '{token}' is a network input; outputs must be computed by a layer", token)
            if token in outputs[:index]:
                raise _Problem(f"'{token}' is named as an output twice", token)
            tensors.append(tensor)
        return tensors

    def _load_weights(self, token: Token) -> dict[str, np.ndarray]:
        path = self.source.parent / token[1:-1]
        if not path.is_file():
            raise _Problem(f"weights file {token} not found (looked for {path})", token)
        try:
            archive = np.load(path, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            with archive:
                return {name: archive[name] for name in archive.files}
        except Exception as error:  # a broken archive fails in many ways (zip, pickle, format, I/O)
            raise _Problem(f"cannot read the weights file {path}: {error}", token) from None

    # Expressions.

    def _variable(self, token: Token) -> Tensor:
        if token.value in self.variables:
            return self.variables[token.value][0]
        if self.weights is not None and token.value in self.weights:
            raise _Problem(f"'{token}' is a weight, but this argument is an activation (a variable)", token)
        raise _Problem(f"undefined variable '{token}'{_did_you_mean(token.value, self.variables)}", token)

    def _tensor(self, argument: Token | Tree, depth: int) -> Tensor:
        return self._variable(argument) if isinstance(argument, Token) else self._call(argument, depth + 1)

    def _call(self, call: Tree, depth: int) -> Tensor:
        op_token, *arguments = call.children
        name = op_token.value
        op = _OPS.get(name)
        if op is None:
            raise _Problem(f"unknown op '{name}'{_did_you_mean(name, _OPS)}; the ops are {', '.join(_OPS)}", op_token)
        if depth > MAX_NESTING:
            raise _Problem(f"calls nest more than {MAX_NESTING} deep", op_token)
        positional = [a for a in arguments if not (isinstance(a, Tree) and a.data == "keyword")]
        attributes = self._attributes(op_token, op, [a for a in arguments if isinstance(a, Tree) and a.data == "keyword"])
        count = len(positional)
        low, high = (1, count) if op.inputs is None else (op.inputs + op.weights[0], op.inputs + op.weights[1])
        if not low <= count <= high:
            raise _Problem(f"{name} takes {op.signature}, got {count} argument{'s' * (count != 1)}", op_token)
        split = count if op.inputs is None else op.inputs
        tensors = [self._tensor(argument, depth) for argument in positional[:split]]
        weight_tokens = positional[split:]
        arrays = [self._weight(argument, name, role) for argument, role in zip(weight_tokens, ("weight", "bias"))]
        self._check_inputs(op_token, op, tensors, positional, attributes)
        if name in ("conv2d", "max_pool2d", "avg_pool2d"):
            _check_window(op_token, tensors[0], arrays[0].shape[2:] if arrays else attributes["kernel"], attributes)

        # The builder computes the output shape and adds the layer; nn verification checks it.
        self.builder.names = {"w": weight_tokens[0].value, "b": weight_tokens[-1].value} if weight_tokens else {}
        keywords = {"kernel_shape" if key == "kernel" else key: value for key, value in attributes.items()}
        try:
            result = getattr(self.builder, name)(*tensors, *arrays, **keywords)
            self.builder.block.last_op.verify()
        except (VerifyException, ValueError) as error:
            raise _Problem(str(error), op_token) from None
        return result

    def _attributes(self, op_token: Token, op: _Op, keywords: list[Tree]) -> dict:
        values: dict = {}
        for keyword in keywords:
            key_token, value = keyword.children
            key = _ALIASES.get(key_token.value, key_token.value)
            if key not in op.attributes:
                takes = f"it takes {', '.join(op.attributes)}" if op.attributes else "it takes none"
                raise _Problem(f"{op_token} has no attribute '{key_token}'{_did_you_mean(key, op.attributes)}; {takes}", key_token)
            if key in values:
                raise _Problem(f"attribute '{key}' is given twice", key_token)
            values[key] = _attribute(key, op.attributes[key], value, key_token)
        for key in op.required:
            if key not in values:
                raise _Problem(f"{op_token} needs the attribute '{key}': {op.signature}", op_token)
        return values

    def _weight(self, argument: Token | Tree, op: str, role: str) -> np.ndarray:
        if isinstance(argument, Tree):
            raise _Problem(f"expected the name of the {op} {role}, got a call", argument.children[0])
        name = argument.value
        if self.weights is None:
            raise _Problem(f"'{name}' is a weight, but no weights file is declared (add `weights \"file.npz\"`)", argument)
        if name not in self.weights:
            raise _Problem(f"no weight '{name}' in {self.weights_file}{_did_you_mean(name, self.weights)}", argument)
        array = np.asarray(self.weights[name])
        if array.dtype.kind not in "fiu" or array.size == 0 or array.ndim == 0:
            raise _Problem(f"weight '{name}' must be a non-empty array of numbers, got {array.dtype} of shape {array.shape}", argument)
        rank = 1 if role == "bias" else 4 if op == "conv2d" else 2
        if array.ndim != rank:
            expected = {1: "N", 2: "N x K", 4: "K x C/group x Fh x Fw"}[rank]
            raise _Problem(f"{op} {role} '{name}' has shape {fmt(array.shape)}; it must be {expected}", argument)
        return np.asarray(array, np.float32)

    def _check_inputs(self, op_token: Token, op: _Op, tensors: list[Tensor], arguments: list, attributes: dict) -> None:
        for tensor, argument in zip(tensors, arguments):
            at = argument if isinstance(argument, Token) else argument.children[0]
            rank = len(tensor.shape)
            if op.image_input and (rank != 4 or tensor.shape[0] != 1):
                raise _Problem(f"{op_token} needs a 1xCxHxW input, got {fmt(tensor.shape)}", at)
            if op.inputs is None and rank < 2:
                raise _Problem(f"{op_token} needs inputs with channels (rank 2 or more), got {fmt(tensor.shape)}", at)
            if op_token == "flatten" and not -rank <= attributes.get("axis", 1) <= rank:
                raise _Problem(f"flatten axis {attributes['axis']} is out of range for the {fmt(tensor.shape)} input", at)


def _check_window(op_token: Token, x: Tensor, kernel: Sequence[int], attributes: dict) -> None:
    """An empty output would give the builder negative sizes: say so before."""
    strides, pads = attributes.get("strides", (1, 1)), attributes.get("pads", (0, 0, 0, 0))
    dilations = attributes.get("dilations", (1, 1))
    _, _, height, width = x.shape
    out_h = window_output_size(height, kernel[0], strides[0], pads[0], pads[2], dilations[0])
    out_w = window_output_size(width, kernel[1], strides[1], pads[1], pads[3], dilations[1])
    if out_h < 1 or out_w < 1:
        raise _Problem(
            f"{op_token}: the {fmt(kernel)} window (dilations {fmt(dilations)}) does not fit the "
            f"{height}x{width} input with pads {list(pads)}",
            op_token,
        )


def _shape(token: Token) -> tuple[int, ...]:
    dims = tuple(_integer(d, token) for d in token.split("x"))
    if not all(1 <= d < I64_LIMIT for d in dims):
        raise _Problem(f"every dimension must be between 1 and 2^63 - 1, got {token}", token)
    return dims


def _integer(text: str, at: Token) -> int:
    if len(text) > 24:  # past i64 anyway, and Python refuses to convert thousands of digits
        raise _Problem(f"the integer {text[:24]}... is too large", at)
    return int(text)


def _number(text: str, at: Token) -> int | float:
    if re.fullmatch(r"[+-]?[0-9]+", text):
        return _integer(text, at)
    if math.isinf(value := float(text)) and "inf" not in text:
        raise _Problem(f"the number {text[:24]} is too large (write inf for infinity)", at)
    return value


def _attribute(key: str, kind: str, value: Token | Tree, at: Token):
    """The attribute value of one `key=value`, checked against its kind."""
    if isinstance(value, Tree):  # a list
        raw = [_number(item, at) for item in value.children]
        shown = f"[{', '.join(value.children)}]"
    elif value.type == "DIMS":
        raw, shown = [_integer(d, at) for d in value.split("x")], value.value
    elif value.type in ("TRUE", "FALSE"):
        raw, shown = value.type == "TRUE", value.value
    else:
        raw, shown = _number(value, at), value.value
    items = raw if isinstance(raw, list) else [raw]
    integers = all(type(item) is int and -I64_LIMIT <= item < I64_LIMIT for item in items)
    checked = None
    if kind == "bool" and isinstance(raw, bool):
        checked = raw
    elif kind == "float" and type(raw) in (int, float) and _fits_f32(raw):
        checked = float(raw)
    elif kind in ("int", "positive") and type(raw) is int and integers:
        checked = raw if kind == "int" or raw >= 1 else None
    elif kind == "pair" and integers and len(items) in (1, 2) and min(items) >= 1:
        checked = tuple(items * 2 if len(items) == 1 else items)
    elif kind == "pads" and integers and len(items) in (1, 2, 4) and min(items) >= 0:
        checked = tuple(items * (4 // len(items)))
    elif kind == "shape" and isinstance(raw, list) and integers and raw and min(raw) >= 1:
        checked = tuple(raw)
    if checked is None:
        raise _Problem(f"{key} must be {_KINDS[kind]}, got {shown}", at)
    return checked


def _fits_f32(value: float) -> bool:
    try:
        struct.pack("<f", value)
    except OverflowError:
        return False
    return True


# Writing.


def print_text(module: ModuleOp, path: str | Path) -> None:
    """Writes an nn module as `path` (text) and, if it has weights, the .npz next to it."""
    path = Path(path)
    weights_path = path.with_suffix(".npz")
    if weights_path == path:
        raise SmallIRError(f"{path}: the network text needs another suffix than .npz (its weights go there)")
    text, weights = format_network(module, weights_path.name)
    path.write_text(text, encoding="utf-8")
    if weights:
        # np.savez would reject weights named `file` or `allow_pickle`; this is its format.
        with zipfile.ZipFile(weights_path, "w") as archive:
            for name, array in weights.items():
                with archive.open(f"{name}.npy", "w") as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)


def format_network(module: ModuleOp, weights_file: str | None = None) -> tuple[str, dict[str, np.ndarray]]:
    """
    The text of an nn module (one layer per line, every attribute that is not
    the default) and its weights by the names the text uses: the names of
    their globals, made into valid names where needed. `weights_file` is what
    the `weights` statement names (default: the network's name + .npz).
    """
    from small_ir.compiler import entry_function

    function = entry_function(module)
    block = function.body.block
    layers = [op for op in block.ops if isinstance(op, nn.NNOp)]
    for op in block.ops:
        if not isinstance(op, nn.NNOp | memref.AllocOp | memref.GetGlobalOp | memref.DeallocOp | func.ReturnOp):
            raise SmallIRError(f"{op.name} cannot be written in the text format (only nn ops on buffers and weights)")
    writes = [op.output for op in layers]
    names = _Names()

    # Weights first: their names are those of the globals, so a module from NetworkBuilder reads back the same.
    weight_names: dict[str, str] = {}
    weights: dict[str, np.ndarray] = {}
    for op in layers:
        for value in _weight_operands(op):
            try:
                symbol = global_of(value, op).sym_name.data
                if symbol not in weight_names:
                    weight_names[symbol] = names.new(symbol, "w")
                    weights[weight_names[symbol]] = constant_array(value, op)
            except PassFailedException as error:
                raise SmallIRError(str(error)) from None

    network = names.new(function.sym_name.data, "net")
    arguments = list(block.args)
    inputs = [arg for arg in arguments if arg not in writes]
    outputs = [arg for arg in arguments if arg in writes]
    current: dict[SSAValue, str] = {}
    for values, stem in ((inputs, "x"), (outputs, "y")):
        for index, value in enumerate(values):
            current[value] = names.new(value.name_hint, stem if len(values) == 1 else f"{stem}{index}")
    output_names = [current.pop(value) for value in outputs]  # named when written
    for value, name in zip(outputs, output_names):
        if writes.count(value) > 1:
            raise SmallIRError(f"output {name} is written by {writes.count(value)} layers; the text format writes each once")

    lines = [f"network {network}"]
    layout = module.attributes.get(IO_LAYOUT)
    if isinstance(layout, StringAttr):
        if layout.data not in LAYOUTS:
            raise SmallIRError(f"unknown {IO_LAYOUT} '{layout.data}'; the text format knows {', '.join(LAYOUTS)}")
        lines.append(f"layout {layout.data}")
    if weights:
        weights_file = weights_file or f"{network}.npz"
        if '"' in weights_file or "\n" in weights_file:
            raise SmallIRError(f"the weights file name {weights_file!r} cannot be quoted in the text format")
        lines.append(f'weights "{weights_file}"')
    for value in inputs:
        if not value.type.get_shape():
            raise SmallIRError("a rank-0 input has no form in the text format")
        lines.append(f"input {current[value]}: {fmt(value.type.get_shape())}")

    def tensor(value: SSAValue) -> str:
        if value not in current:
            raise SmallIRError(f"a layer reads a buffer before any layer writes it ({value.type})")
        return current[value]

    def weight(value: SSAValue) -> str:
        return weight_names[value.owner.name_.string_value()]

    intermediates = 0
    for op in layers:
        call = _layer(op, tensor, weight)
        target = op.output
        if target in outputs and target not in current:
            current[target] = output_names[outputs.index(target)]
        else:
            current[target] = names.new(target.name_hint, f"t{intermediates}")
            intermediates += 1
        source = op.attributes.get(SOURCE)
        tag = f' @ "{source.data}"' if isinstance(source, StringAttr) and '"' not in source.data and "\n" not in source.data else ""
        lines.append(f"{current[target]} = {call}{tag}")
    lines.append(f"output {', '.join(output_names)}")
    return "\n".join(lines) + "\n", weights


def _weight_operands(op: nn.NNOp) -> list[SSAValue]:
    if isinstance(op, nn.Conv2dOp | nn.DenseOp):
        return [op.weight] + ([op.bias] if op.bias is not None else [])
    return []


class _Names:
    """Unique names valid in the format, from the IR's names where it has them."""

    def __init__(self):
        self.taken: set[str] = set()

    def new(self, wanted: str | None, fallback: str) -> str:
        name = re.sub(r"[^A-Za-z0-9_]", "_", wanted or "") or fallback
        if name[0].isdigit():
            name = "_" + name
        if name in KEYWORDS:
            name += "_"
        unique, count = name, 1
        while unique in self.taken:
            unique, count = f"{name}_{count}", count + 1
        self.taken.add(unique)
        return unique


def _layer(op: nn.NNOp, tensor, weight) -> str:
    """The call of one layer, e.g. `conv2d(x, w0, b0, pads=1)`."""
    if isinstance(op, nn.Conv2dOp | nn.DenseOp):
        arguments = [tensor(op.input), *(weight(value) for value in _weight_operands(op))]
        if isinstance(op, nn.DenseOp):
            return _call("dense", arguments)
        return _call(
            "conv2d",
            arguments,
            strides=_pair(op.strides),
            pads=_pads(op.pads),
            dilations=_pair(op.dilations),
            group=None if op.group.value.data == 1 else str(op.group.value.data),
        )
    if isinstance(op, nn.MaxPool2dOp):
        window = dict(kernel=_pair(op.kernel_shape, None), strides=_pair(op.strides), pads=_pads(op.pads))
        return _call("max_pool2d", [tensor(op.input)], **window, dilations=_pair(op.dilations))
    if isinstance(op, nn.AvgPool2dOp):
        window = dict(kernel=_pair(op.kernel_shape, None), strides=_pair(op.strides), pads=_pads(op.pads))
        return _call("avg_pool2d", [tensor(op.input)], **window, count_include_pad="true" if op.count_include_pad.value.data else None)
    if isinstance(op, nn.AddOp | nn.SubOp | nn.MulOp):
        return _call(op.name.removeprefix("nn."), [tensor(op.lhs), tensor(op.rhs)])
    if isinstance(op, nn.ConcatOp):
        return _call("concat", [tensor(value) for value in op.inputs], axis=_int(op.axis, 1))
    if isinstance(op, nn.ClipOp):
        low, high = op.min.value.data, op.max.value.data
        if (low, high) == (0.0, 6.0) and not np.signbit(low):
            return _call("relu6", [tensor(op.input)])
        return _call("clip", [tensor(op.input)], min=_float(low), max=_float(high))
    if isinstance(op, nn.LeakyReluOp):
        alpha = op.alpha.value.data
        return _call("leaky_relu", [tensor(op.input)], alpha=None if alpha == FloatAttr(0.01, op.alpha.type).value.data else _float(alpha))
    if isinstance(op, nn.SoftmaxOp):
        return _call("softmax", [tensor(op.input)], axis=_int(op.axis, 1))
    if isinstance(op, nn.ReshapeOp):
        before, after = nn.shape_of(op.input), nn.shape_of(op.output)
        if len(before) > 2 and after == (before[0], prod(before[1:])):
            return _call("flatten", [tensor(op.input)])
        return _call("reshape", [tensor(op.input)], shape=fmt(after) if len(after) > 1 else _list(after))
    if isinstance(op, nn.ReluOp | nn.SigmoidOp | nn.GlobalAvgPoolOp):
        return _call(op.name.removeprefix("nn."), [tensor(op.input)])
    raise SmallIRError(f"{op.name} has no form in the text format")


def _call(op: str, arguments: list[str], **attributes: str | None) -> str:
    given = [f"{key}={value}" for key, value in attributes.items() if value is not None]
    return f"{op}({', '.join(arguments + given)})"


def _list(values) -> str:
    return f"[{', '.join(str(v) for v in values)}]"


def _pair(attribute, default=(1, 1)) -> str | None:
    values = tuple(attribute.get_values())
    if values == default:
        return None
    return str(values[0]) if len(set(values)) == 1 else _list(values)


def _pads(attribute) -> str | None:
    pads = tuple(attribute.get_values())
    if pads == (0, 0, 0, 0):
        return None
    if len(set(pads)) == 1:
        return str(pads[0])
    return _list(pads[:2]) if pads[:2] == pads[2:] else _list(pads)


def _int(attribute, default: int) -> str | None:
    return None if attribute.value.data == default else str(attribute.value.data)


def _float(value: float) -> str:
    """The shortest text that reads back as the same f32."""
    text = str(np.float32(value))
    if text.endswith(".0") and text != "-0.0":
        text = text[:-2]
    same = struct.pack("<f", float(text)) == struct.pack("<f", value) if value == value else text == "nan"
    return text if same else repr(value)
