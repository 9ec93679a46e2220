"""
TFLite flatbuffers (.tflite) into the `nn` dialect.

    model = import_tflite(Path("kws_dscnn_float.tflite"))
    compiled = small_ir.compile(model.module, target="host")
    (scores,) = compiled.run(features)          # 1x49x10x1, NHWC as in the model

TFLite is NHWC; the nn module is NCHW inside, and carries `small.io_layout =
"nhwc"` so that the generated function keeps the model's NHWC inputs and
outputs. Weights are converted once, at import: conv [O,H,W,I] -> [O,I,H,W],
depthwise [1,H,W,C*M] -> a conv with group C, int8 weights of hybrid models
and DEQUANTIZE of constants -> float32.

Import happens in two steps: `read_graph` turns the flatbuffer into plain
Python objects (every parse failure of a corrupt file surfaces there), then
one converter per builtin op emits nn layers through `NetworkBuilder`.
Everything unsupported is collected and reported together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod
from pathlib import Path

import numpy as np
import tflite
from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.BuiltinOptions import BuiltinOptions
from tflite.Padding import Padding
from tflite.TensorType import TensorType
from tflite.utils import BUILTIN_OPCODE2NAME
from xdsl.dialects import memref
from xdsl.utils.exceptions import VerifyException

from small_ir.builder import NetworkBuilder, Tensor
from small_ir.frontends import ImportedModel, ModelImportError, Problems, set_io_layout
from small_ir.frontends.common import Padded, Unsupported, add_pads, channel_affine, check_window_fits, same_pads

TYPE_NAMES = {value: name for name, value in vars(TensorType).items() if not name.startswith("_")}
NUMPY_TYPES = {
    TensorType.FLOAT32: "<f4",
    TensorType.FLOAT16: "<f2",
    TensorType.FLOAT64: "<f8",
    TensorType.INT8: "i1",
    TensorType.UINT8: "u1",
    TensorType.INT16: "<i2",
    TensorType.INT32: "<i4",
    TensorType.INT64: "<i8",
}
INTEGER_ACTIVATIONS = (TensorType.INT8, TensorType.UINT8, TensorType.INT16)
INT8_ACTIVATIONS = "int8 activations: use the float or hybrid model"

# The options table each op reads, and the fields it uses. (DEPTHWISE_CONV_2D's
# depth_multiplier is not read: TFLite's kernels derive it from the shapes.)
CONV_FIELDS = ("Padding", "StrideH", "StrideW", "DilationHFactor", "DilationWFactor", "FusedActivationFunction")
POOL_FIELDS = ("Padding", "StrideH", "StrideW", "FilterHeight", "FilterWidth", "FusedActivationFunction")
FUSED_FIELD = ("FusedActivationFunction",)
OPTIONS = {
    "CONV_2D": ("Conv2DOptions", CONV_FIELDS),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", CONV_FIELDS),
    "AVERAGE_POOL_2D": ("Pool2DOptions", POOL_FIELDS),
    "MAX_POOL_2D": ("Pool2DOptions", POOL_FIELDS),
    "FULLY_CONNECTED": ("FullyConnectedOptions", ("FusedActivationFunction", "WeightsFormat", "KeepNumDims")),
    "ADD": ("AddOptions", FUSED_FIELD),
    "SUB": ("SubOptions", FUSED_FIELD),
    "MUL": ("MulOptions", FUSED_FIELD),
    "SOFTMAX": ("SoftmaxOptions", ("Beta",)),
    "CONCATENATION": ("ConcatenationOptions", ("Axis", "FusedActivationFunction")),
    "MEAN": ("ReducerOptions", ("KeepDims",)),
    "LEAKY_RELU": ("LeakyReluOptions", ("Alpha",)),
}


# Reading: the flatbuffer into plain Python objects.


@dataclass
class Quantization:
    scales: np.ndarray
    zero_points: np.ndarray
    dimension: int


@dataclass
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    type: int
    buffer: int
    has_data: bool
    """The tensor's buffer holds data: it is a constant."""
    data: np.ndarray | None
    """The constant's values in the tensor's shape, if its buffer has the right size."""
    data_problem: str | None
    quantization: Quantization | None
    sparse: bool

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, f"type {self.type}")


@dataclass
class OpInfo:
    index: int
    kind: str
    """The builtin op name (CONV_2D, ...), or CUSTOM."""
    custom_code: str
    inputs: list[int]
    """Tensor indices; -1 for an omitted optional input."""
    outputs: list[int]
    options: dict[str, object]
    options_problem: str | None


@dataclass
class Graph:
    tensors: list[TensorInfo]
    ops: list[OpInfo]
    inputs: list[int]
    outputs: list[int]
    buffer_count: int
    other_subgraphs: list[str]


def read_graph(path: Path) -> Graph:
    """Parses the file; a file that is not a well-formed TFLite model raises ModelImportError."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelImportError(path, [f"cannot read the file: {error.strerror}"]) from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelImportError(
            path, [f"not a TFLite model: the file identifier is {bytes(data[4:8])!r}, expected b'TFL3'"]
        )
    try:
        graph = _read_model(data)
    except ModelImportError:
        raise
    except Exception as error:  # a truncated or corrupt flatbuffer fails in many ways
        raise ModelImportError(
            path, [f"corrupt or truncated TFLite flatbuffer ({type(error).__name__}: {error})"]
        ) from None
    problems = _check_indices(graph)
    if problems:
        raise ModelImportError(path, problems)
    return graph


def _read_model(data: bytes) -> Graph:
    model = tflite.Model.GetRootAs(data, 0)
    if model.SubgraphsLength() == 0:
        raise ValueError("the model has no subgraph")
    subgraph = model.Subgraphs(0)
    codes = [_op_kind(model.OperatorCodes(index)) for index in range(model.OperatorCodesLength())]
    buffers = [_buffer_bytes(model.Buffers(index), index, data) for index in range(model.BuffersLength())]
    tensors = [_read_tensor(subgraph.Tensors(index), index, buffers) for index in range(subgraph.TensorsLength())]
    ops = []
    for index in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(index)
        if op.OpcodeIndex() >= len(codes):
            raise ValueError(
                f"operator {index} has opcode index {op.OpcodeIndex()}, the model has {len(codes)} opcodes"
            )
        kind, custom_code = codes[op.OpcodeIndex()]
        options, options_problem = _read_options(op, kind)
        inputs = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
        outputs = [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
        ops.append(OpInfo(index, kind, custom_code, inputs, outputs, options, options_problem))
    other_subgraphs = [
        (model.Subgraphs(index).Name() or b"").decode(errors="replace") or f"subgraph {index}"
        for index in range(1, model.SubgraphsLength())
    ]
    return Graph(
        tensors=tensors,
        ops=ops,
        inputs=[int(i) for i in subgraph.InputsAsNumpy()] if subgraph.InputsLength() else [],
        outputs=[int(i) for i in subgraph.OutputsAsNumpy()] if subgraph.OutputsLength() else [],
        buffer_count=len(buffers),
        other_subgraphs=other_subgraphs,
    )


def _op_kind(code) -> tuple[str, str]:
    """The op name (the larger of the two code fields, as TFLite reads them) and the custom code."""
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    kind = BUILTIN_OPCODE2NAME.get(builtin, f"BUILTIN_{builtin}")
    return kind, (code.CustomCode() or b"").decode(errors="replace")


def _read_tensor(tensor, index: int, buffers: list[bytes]) -> TensorInfo:
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    name = (tensor.Name() or b"").decode(errors="replace") or f"tensor {index}"
    raw = buffers[tensor.Buffer()] if tensor.Buffer() < len(buffers) else b""
    info = TensorInfo(
        index=index,
        name=name,
        shape=shape,
        type=tensor.Type(),
        buffer=tensor.Buffer(),
        has_data=bool(raw),
        data=None,
        data_problem=None,
        quantization=None,
        sparse=tensor.Sparsity() is not None,
    )
    quantization = tensor.Quantization()
    if quantization is not None and quantization.ScaleLength():
        zero_points = quantization.ZeroPointAsNumpy() if quantization.ZeroPointLength() else np.zeros(1, np.int64)
        info.quantization = Quantization(
            quantization.ScaleAsNumpy().astype(np.float64),
            zero_points.astype(np.int64),
            quantization.QuantizedDimension(),
        )
    if raw:
        dtype = NUMPY_TYPES.get(info.type)
        expected = prod(shape) * np.dtype(dtype).itemsize if dtype else None
        if dtype is None:
            info.data_problem = f"constant '{name}' has type {info.type_name}, which small-ir cannot read"
        elif len(raw) != expected:
            info.data_problem = f"constant '{name}' of shape {list(shape)} ({info.type_name}) needs {expected} bytes, its buffer has {len(raw)}"
        else:
            info.data = np.frombuffer(raw, dtype).reshape(shape).copy()
    return info


def _buffer_bytes(buffer, index: int, file: bytes) -> bytes:
    """A buffer's data: inside the flatbuffer, or after it (offset and size, for models over 2 GB)."""
    if buffer.DataLength():
        return buffer.DataAsNumpy().tobytes()
    if buffer.Offset() > 1:
        if buffer.Offset() + buffer.Size() > len(file):
            raise ValueError(f"buffer {index} lies beyond the end of the file")
        return file[buffer.Offset() : buffer.Offset() + buffer.Size()]
    return b""


def _read_options(op, kind: str) -> tuple[dict[str, object], str | None]:
    """The fields `kind` uses from its options table: ({}, None) without one, the schema defaults then."""
    if kind not in OPTIONS or op.BuiltinOptionsType() == BuiltinOptions.NONE:
        return {}, None
    class_name, fields = OPTIONS[kind]
    if op.BuiltinOptionsType() != getattr(BuiltinOptions, class_name):
        return {}, f"has options of type {op.BuiltinOptionsType()}, expected {class_name}"
    table = op.BuiltinOptions()
    options = getattr(tflite, class_name)()
    options.Init(table.Bytes, table.Pos)
    return {name: getattr(options, name)() for name in fields}, None


def _check_indices(graph: Graph) -> list[str]:
    count = len(graph.tensors)
    problems = []
    for role, indices in (("input", graph.inputs), ("output", graph.outputs)):
        problems += [
            f"model {role} {index} is not a tensor (the subgraph has {count})"
            for index in indices
            if not 0 <= index < count
        ]
    for op in graph.ops:
        bad = [index for index in op.inputs if not -1 <= index < count] + [
            index for index in op.outputs if not 0 <= index < count
        ]
        if bad:
            problems.append(f"operator {op.index} ({op.kind}) refers to tensors {bad}; the subgraph has {count}")
    if not graph.outputs:
        problems.append("the model has no outputs")
    return problems


# Converting: a context, helpers, and one converter per builtin op.


@dataclass
class Context:
    graph: Graph
    net: NetworkBuilder
    values: dict[int, Tensor | Padded] = field(default_factory=dict)
    """Activations by TFLite tensor index, as NCHW builder tensors."""
    constants: dict[int, np.ndarray] = field(default_factory=dict)
    """Constants computed at import (DEQUANTIZE), in the TFLite layout."""
    nhwc_flattened: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    """1xK tensors that TFLite flattened from NHWC (H, W, C); a FULLY_CONNECTED on them permutes its weights."""
    consumers: dict[int, list[tuple[OpInfo, int]]] = field(default_factory=dict)
    """For each tensor: the ops reading it, with the input position."""
    hybrid: bool = False
    """int8 weights met float activations: TFLite runs this model with hybrid kernels."""

    def tensor(self, index: int) -> TensorInfo:
        if index < 0:
            raise Unsupported("a required input is omitted (tensor index -1)")
        return self.graph.tensors[index]

    def is_constant(self, index: int) -> bool:
        return index in self.constants or self.tensor(index).has_data

    def activation(self, index: int) -> Tensor:
        value = self.values.get(index)
        if isinstance(value, Tensor):
            return value
        if self.is_constant(index):
            raise Unsupported(f"input '{self.tensor(index).name}' is a constant; small-ir needs an activation here")
        raise Unsupported(self._no_data(index))

    def window_input(self, index: int) -> tuple[Tensor, tuple[int, int, int, int]]:
        """The input of a windowed op, with the pads of a PAD folded into it."""
        value = self.values.get(index)
        if isinstance(value, Padded):
            return value.tensor, value.pads
        x = self.activation(index)
        if len(x.shape) != 4:
            raise Unsupported(
                f"input '{self.tensor(index).name}' has shape {list(self.tensor(index).shape)}; expected 1xHxWxC"
            )
        return x, (0, 0, 0, 0)

    def constant(self, index: int) -> np.ndarray:
        """A constant as stored (TFLite layout, its own dtype)."""
        if index in self.constants:
            return self.constants[index]
        tensor = self.tensor(index)
        if not tensor.has_data:
            if index in self.values:
                raise Unsupported(f"input '{tensor.name}' is computed by the network; small-ir needs a constant here")
            raise Unsupported(self._no_data(index))
        if tensor.data is None:
            raise Unsupported(tensor.data_problem)
        if tensor.sparse:
            raise Unsupported(f"constant '{tensor.name}' is sparse; sparse tensors are not supported")
        return tensor.data

    def weights(self, index: int) -> np.ndarray:
        """Float32 weights: float32 constants, or int8 weights with scales (hybrid models) dequantized."""
        data = self.constant(index)
        tensor = self.tensor(index)
        if data.dtype == np.float32:
            return data
        if data.dtype in (np.int8, np.uint8):
            if tensor.quantization is None:
                raise Unsupported(f"the {tensor.type_name} weights '{tensor.name}' have no quantization scales")
            self.hybrid = True
            return dequantize(tensor, data)
        raise Unsupported(
            f"weights '{tensor.name}' are {tensor.type_name}; small-ir takes float32, or int8 with scales (hybrid)"
        )

    def bias(self, op: OpInfo, position: int, channels: int) -> np.ndarray | None:
        if len(op.inputs) <= position or op.inputs[position] < 0:
            return None
        bias = self.weights(op.inputs[position])
        if bias.shape != (channels,):
            raise Unsupported(
                f"bias '{self.tensor(op.inputs[position]).name}' has shape {list(bias.shape)}, expected [{channels}]"
            )
        return bias

    def _no_data(self, index: int) -> str:
        tensor = self.tensor(index)
        if tensor.buffer >= self.graph.buffer_count:
            where = f"its buffer {tensor.buffer} does not exist (the model has {self.graph.buffer_count})"
        else:
            where = f"its buffer {tensor.buffer} is empty"
        return f"tensor '{tensor.name}' has no data ({where}) and no op computes it"


def dequantize(tensor: TensorInfo, data: np.ndarray) -> np.ndarray:
    """(q - zero_point) * scale, per tensor or per channel along the quantized dimension."""
    q = tensor.quantization
    if q.scales.size == 1 and q.zero_points.size == 1:
        return ((data.astype(np.float64) - q.zero_points[0]) * q.scales[0]).astype(np.float32)
    if (
        not 0 <= q.dimension < data.ndim
        or q.scales.size != data.shape[q.dimension]
        or q.zero_points.size not in (1, q.scales.size)
    ):
        raise Unsupported(
            f"'{tensor.name}' of shape {list(data.shape)} has {q.scales.size} scales and {q.zero_points.size} "
            f"zero points along dimension {q.dimension}"
        )
    shape = [1] * data.ndim
    shape[q.dimension] = -1
    zero_points = q.zero_points.reshape(shape) if q.zero_points.size > 1 else q.zero_points[0]
    return ((data.astype(np.float64) - zero_points) * q.scales.reshape(shape)).astype(np.float32)


def nchw_shape(tensor: TensorInfo) -> tuple[int, ...]:
    """The nn shape of a TFLite activation: [1,H,W,C] -> (1,C,H,W); [1,N] stays."""
    shape = tensor.shape
    if len(shape) not in (2, 4) or shape[0] != 1 or min(shape) < 1:
        raise Unsupported(
            f"tensor '{tensor.name}' has shape {list(shape)}; small-ir takes 1xN and 1xHxWxC tensors (batch 1)"
        )
    return (1, shape[3], shape[1], shape[2]) if len(shape) == 4 else shape


def to_nchw(array: np.ndarray) -> np.ndarray:
    return array.transpose(0, 3, 1, 2) if array.ndim == 4 else array


def pair(options: dict, height: str, width: str, default: int = 0) -> tuple[int, int]:
    values = (int(options.get(height, default)), int(options.get(width, default)))
    if min(values) < 1:
        raise Unsupported(f"{height}/{width} must be >= 1, got {list(values)}")
    return values


def own_pads(
    op: OpInfo, size: tuple[int, int], kernel: tuple[int, int], strides, dilations
) -> tuple[int, int, int, int]:
    """The op's own padding, as TFLite computes it: SAME puts the odd pixel at the end (bottom, right)."""
    padding = op.options.get("Padding", Padding.SAME)
    if padding == Padding.VALID:
        return (0, 0, 0, 0)
    if padding != Padding.SAME:
        raise Unsupported(f"unknown padding {padding}")
    return same_pads(size, kernel, strides, dilations)


# One converter per builtin op: (context, op) -> the output as a builder Tensor,
# a numpy constant (DEQUANTIZE) or a Padded (PAD). Fused activations are
# applied by the caller.


def convert_conv_2d(ctx: Context, op: OpInfo) -> Tensor:
    x, extra = ctx.window_input(op.inputs[0])
    weight = ctx.weights(op.inputs[1])  # O x H x W x I
    if weight.ndim != 4:
        raise Unsupported(f"weights of shape {list(weight.shape)}; expected 4-D O x H x W x I")
    out_channels, kh, kw, per_group = weight.shape
    _, channels, height, width = Padded(x, extra).shape
    if per_group == 0 or channels % per_group or out_channels % (channels // per_group):
        raise Unsupported(f"the weights take {per_group} input channels, the input has {channels}")
    bias = ctx.bias(op, 2, out_channels)
    strides = pair(op.options, "StrideH", "StrideW")
    dilations = pair(op.options, "DilationHFactor", "DilationWFactor", 1)
    pads = own_pads(op, (height, width), (kh, kw), strides, dilations)
    check_window_fits((height, width), (kh, kw), strides, pads, dilations)
    weight = weight.transpose(0, 3, 1, 2)
    return ctx.net.conv2d(
        x, weight, bias, strides=strides, pads=add_pads(pads, extra), dilations=dilations, group=channels // per_group
    )


def convert_depthwise_conv_2d(ctx: Context, op: OpInfo) -> Tensor:
    x, extra = ctx.window_input(op.inputs[0])
    weight = ctx.weights(op.inputs[1])  # 1 x H x W x C*M
    _, channels, height, width = Padded(x, extra).shape
    if weight.ndim != 4 or weight.shape[0] != 1 or weight.shape[3] % channels:
        raise Unsupported(f"weights of shape {list(weight.shape)}; expected 1 x H x W x {channels}*multiplier")
    # The multiplier is output channels / input channels, as in TFLite's kernels.
    _, kh, kw, out_channels = weight.shape
    bias = ctx.bias(op, 2, out_channels)
    strides = pair(op.options, "StrideH", "StrideW")
    dilations = pair(op.options, "DilationHFactor", "DilationWFactor", 1)
    pads = own_pads(op, (height, width), (kh, kw), strides, dilations)
    check_window_fits((height, width), (kh, kw), strides, pads, dilations)
    # Output channel c*M + m reads input channel c: group c holds outputs c*M .. c*M+M-1.
    weight = weight[0].transpose(2, 0, 1)[:, None]
    return ctx.net.conv2d(
        x, weight, bias, strides=strides, pads=add_pads(pads, extra), dilations=dilations, group=channels
    )


def convert_fully_connected(ctx: Context, op: OpInfo) -> Tensor:
    x = ctx.activation(op.inputs[0])
    weight = ctx.weights(op.inputs[1])  # N x K
    if op.options.get("WeightsFormat", 0) != 0:
        raise Unsupported("shuffled weights (WeightsFormat) are not supported")
    if weight.ndim != 2:
        raise Unsupported(f"weights of shape {list(weight.shape)}; expected N x K")
    outputs, inputs = weight.shape
    if prod(x.shape) != inputs:
        raise Unsupported(f"the weights take {inputs} inputs, the input has {prod(x.shape)} elements")
    if op.options.get("KeepNumDims", False) and len(x.shape) != 2:
        raise Unsupported("keep_num_dims on a 4-D input is not supported")
    bias = ctx.bias(op, 2, outputs)
    nhwc = ctx.nhwc_flattened.get(op.inputs[0])
    if len(x.shape) == 4:
        _, channels, height, width = x.shape
        nhwc = (height, width, channels)
        x = ctx.net.flatten(x)
    if nhwc is not None:
        # TFLite's columns follow the NHWC flattening; ours the NCHW one.
        height, width, channels = nhwc
        weight = weight.reshape(outputs, height, width, channels).transpose(0, 3, 1, 2).reshape(outputs, inputs)
    return ctx.net.dense(x, weight, bias)


def per_channel(ctx: Context, index: int, channels: int) -> np.ndarray:
    """A scalar or per-channel constant as a vector of `channels` values."""
    value = ctx.constant(index)
    if value.dtype != np.float32:
        raise Unsupported(f"constant '{ctx.tensor(index).name}' is {value.dtype}; expected float32")
    if value.size == 1:
        return np.full(channels, value.reshape(()), np.float32)
    if value.size == channels and value.shape[-1] == channels:
        return value.reshape(channels)
    raise Unsupported(
        f"constant '{ctx.tensor(index).name}' of shape {list(value.shape)} does not broadcast per channel "
        f"({channels} channels); only scalars and per-channel constants are supported"
    )


def binary(kind: str) -> Callable[[Context, OpInfo], Tensor]:
    """ADD, SUB, MUL: two tensors of one shape, or a tensor and a scalar / per-channel constant."""

    def convert(ctx: Context, op: OpInfo) -> Tensor:
        lhs, rhs = op.inputs[:2]
        if not ctx.is_constant(lhs) and not ctx.is_constant(rhs):
            a, b = ctx.activation(lhs), ctx.activation(rhs)
            if a.shape != b.shape:
                raise Unsupported(
                    f"broadcasting {list(ctx.tensor(lhs).shape)} with {list(ctx.tensor(rhs).shape)} is not supported; "
                    "the tensors must have the same shape"
                )
            return getattr(ctx.net, kind)(a, b)
        if ctx.is_constant(lhs) and ctx.is_constant(rhs):
            raise Unsupported("both operands are constants")
        constant_first = ctx.is_constant(lhs)
        x = ctx.activation(rhs if constant_first else lhs)
        c = per_channel(ctx, lhs if constant_first else rhs, x.shape[1])
        ones = np.ones_like(c)
        if kind == "add":
            return channel_affine(ctx.net, x, ones, c)
        if kind == "mul":
            return channel_affine(ctx.net, x, c, None)
        return channel_affine(ctx.net, x, -ones, c) if constant_first else channel_affine(ctx.net, x, ones, -c)

    return convert


def pool(kind: str) -> Callable[[Context, OpInfo], Tensor]:
    """AVERAGE_POOL_2D (padding excluded from the average, as in TFLite) and MAX_POOL_2D."""

    def convert(ctx: Context, op: OpInfo) -> Tensor:
        x, extra = ctx.window_input(op.inputs[0])
        _, _, height, width = Padded(x, extra).shape
        kernel = pair(op.options, "FilterHeight", "FilterWidth")
        strides = pair(op.options, "StrideH", "StrideW")
        pads = own_pads(op, (height, width), kernel, strides, (1, 1))
        check_window_fits((height, width), kernel, strides, pads)
        if kind == "max":
            return ctx.net.max_pool2d(x, kernel_shape=kernel, strides=strides, pads=pads)
        if any(extra):
            # The PAD's zeros count; convert_pad only folds into an average pool without padding of its own.
            if max(extra[0], extra[2]) >= kernel[0] or max(extra[1], extra[3]) >= kernel[1]:
                raise Unsupported(
                    f"the padding {list(extra)} of the PAD before it is not smaller than the {kernel[0]}x{kernel[1]} window"
                )
            return ctx.net.avg_pool2d(x, kernel_shape=kernel, strides=strides, pads=extra, count_include_pad=True)
        if kernel == (height, width) and not any(pads):
            return ctx.net.global_avg_pool(x)
        return ctx.net.avg_pool2d(x, kernel_shape=kernel, strides=strides, pads=pads, count_include_pad=False)

    return convert


def convert_reshape(ctx: Context, op: OpInfo) -> Tensor:
    x = ctx.activation(op.inputs[0])
    source, target = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0])
    shape = nchw_shape(target)
    if prod(source.shape) != prod(target.shape):
        raise Unsupported(f"cannot reshape {list(source.shape)} to {list(target.shape)}")
    # Exact when reshaping our NCHW tensor gives the NCHW view of TFLite's NHWC reshape.
    numbers = np.arange(prod(source.shape)).reshape(source.shape)
    if np.array_equal(to_nchw(numbers).reshape(shape), to_nchw(numbers.reshape(target.shape))):
        return ctx.net.reshape(x, shape=shape)
    readers = ctx.consumers.get(op.outputs[0], [])
    feeds_dense_only = readers and all(
        reader.kind == "FULLY_CONNECTED" and position == 0 for reader, position in readers
    )
    if (
        len(source.shape) == 4
        and len(target.shape) == 2
        and feeds_dense_only
        and op.outputs[0] not in ctx.graph.outputs
    ):
        ctx.nhwc_flattened[op.outputs[0]] = tuple(source.shape[1:])
        ctx.net.source = None  # an NCHW flatten: not comparable with TFLite's NHWC-ordered tensor
        return ctx.net.flatten(x)
    raise Unsupported(
        f"reshaping {list(source.shape)} to {list(target.shape)} reorders the data in NCHW; "
        "only NHWC flattening that feeds FULLY_CONNECTED ops is supported"
    )


def convert_softmax(ctx: Context, op: OpInfo) -> Tensor:
    beta = op.options.get("Beta", 0.0)
    if beta != 1.0:
        raise Unsupported(f"beta {beta} is not supported (only 1)")
    return ctx.net.softmax(ctx.activation(op.inputs[0]), axis=1)


def convert_pad(ctx: Context, op: OpInfo) -> Padded:
    x = ctx.activation(op.inputs[0])
    paddings = ctx.constant(op.inputs[1])
    if len(x.shape) != 4 or paddings.shape != (4, 2) or paddings.dtype.kind != "i":
        raise Unsupported(
            f"paddings of shape {list(paddings.shape)} for a {len(x.shape)}-D input; expected a 4x2 integer constant"
        )
    if paddings[0].any() or paddings[3].any() or (paddings < 0).any():
        raise Unsupported(f"paddings {paddings.tolist()}: only non-negative padding of H and W is supported")
    padded = Padded(x, (int(paddings[1, 0]), int(paddings[2, 0]), int(paddings[1, 1]), int(paddings[2, 1])))
    readers = ctx.consumers.get(op.outputs[0], [])
    fold = "a PAD is folded into the conv, depthwise conv or average pool (VALID) that is its only consumer"
    if len(readers) != 1 or op.outputs[0] in ctx.graph.outputs:
        raise Unsupported(
            f"{fold}; this one has {len(readers)} consumers{' and is a model output' * (op.outputs[0] in ctx.graph.outputs)}"
        )
    reader, position = readers[0]
    if reader.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D") or position != 0:
        raise Unsupported(f"{fold}; this one feeds {reader.kind}")
    if reader.kind == "AVERAGE_POOL_2D":
        size, kernel = padded.shape[2:], pair(reader.options, "FilterHeight", "FilterWidth")
        if any(own_pads(reader, size, kernel, pair(reader.options, "StrideH", "StrideW"), (1, 1))):
            raise Unsupported(f"{fold}: TFLite's average pool counts the PAD's zeros but not its own SAME padding")
    return padded


def convert_concatenation(ctx: Context, op: OpInfo) -> Tensor:
    rank = len(ctx.tensor(op.outputs[0]).shape)
    axis = int(op.options.get("Axis", 0))
    if rank != 4 or axis not in (3, -1):
        raise Unsupported(
            f"concatenation on axis {axis} of {rank}-D tensors; only the channels of 1xHxWxC tensors (axis 3)"
        )
    if op.options.get("FusedActivationFunction", ActivationFunctionType.NONE) != ActivationFunctionType.NONE:
        raise Unsupported("a fused activation on CONCATENATION is not supported (TFLite rejects it too)")
    inputs = [ctx.activation(index) for index in op.inputs]
    if any(x.shape[2:] != inputs[0].shape[2:] for x in inputs):
        raise Unsupported(
            f"the inputs {[list(ctx.tensor(index).shape) for index in op.inputs]} differ outside the channels"
        )
    return ctx.net.concat(*inputs, axis=1)


def convert_mean(ctx: Context, op: OpInfo) -> Tensor:
    x = ctx.activation(op.inputs[0])
    axes = ctx.constant(op.inputs[1])
    if len(x.shape) != 4 or axes.dtype.kind != "i" or sorted(int(a) % 4 for a in axes.reshape(-1)) != [1, 2]:
        raise Unsupported(
            f"MEAN over axes {axes.reshape(-1).tolist()} of a {len(x.shape)}-D tensor; only over H and W (axes 1, 2)"
        )
    y = ctx.net.global_avg_pool(x)
    return y if op.options.get("KeepDims", False) else ctx.net.flatten(y)


def convert_dequantize(ctx: Context, op: OpInfo) -> np.ndarray:
    tensor = ctx.tensor(op.inputs[0])
    if not ctx.is_constant(op.inputs[0]):
        raise Unsupported(f"dequantizes the activation '{tensor.name}': {INT8_ACTIVATIONS}")
    data = ctx.constant(op.inputs[0])
    if tensor.type == TensorType.FLOAT16:
        return data.astype(np.float32)
    if tensor.type in (TensorType.INT8, TensorType.UINT8, TensorType.INT16) and tensor.quantization is not None:
        return dequantize(tensor, data)
    raise Unsupported(
        f"dequantizing a {tensor.type_name} constant{' without scales' * (tensor.quantization is None)} is not supported"
    )


def unary(method: str, **arguments) -> Callable[[Context, OpInfo], Tensor]:
    def convert(ctx: Context, op: OpInfo) -> Tensor:
        return getattr(ctx.net, method)(ctx.activation(op.inputs[0]), **arguments)

    return convert


def convert_leaky_relu(ctx: Context, op: OpInfo) -> Tensor:
    return ctx.net.leaky_relu(ctx.activation(op.inputs[0]), alpha=float(op.options.get("Alpha", 0.0)))


CONVERTERS: dict[str, Callable[[Context, OpInfo], Tensor | Padded | np.ndarray]] = {
    "CONV_2D": convert_conv_2d,
    "DEPTHWISE_CONV_2D": convert_depthwise_conv_2d,
    "FULLY_CONNECTED": convert_fully_connected,
    "ADD": binary("add"),
    "SUB": binary("sub"),
    "MUL": binary("mul"),
    "AVERAGE_POOL_2D": pool("avg"),
    "MAX_POOL_2D": pool("max"),
    "RESHAPE": convert_reshape,
    "SOFTMAX": convert_softmax,
    "PAD": convert_pad,
    "CONCATENATION": convert_concatenation,
    "MEAN": convert_mean,
    "DEQUANTIZE": convert_dequantize,
    "RELU": unary("relu"),
    "RELU6": unary("relu6"),
    "RELU_N1_TO_1": unary("clip", min=-1.0, max=1.0),
    "LOGISTIC": unary("sigmoid"),
    "LEAKY_RELU": convert_leaky_relu,
}

# Ops that read more than one input (the others read at least one).
MIN_INPUTS = {
    "CONV_2D": 2,
    "DEPTHWISE_CONV_2D": 2,
    "FULLY_CONNECTED": 2,
    "ADD": 2,
    "SUB": 2,
    "MUL": 2,
    "PAD": 2,
    "MEAN": 2,
}

ACTIVATIONS: dict[int, Callable[[NetworkBuilder, Tensor], Tensor] | None] = {
    ActivationFunctionType.NONE: None,
    ActivationFunctionType.RELU: lambda net, x: net.relu(x),
    ActivationFunctionType.RELU6: lambda net, x: net.relu6(x),
    ActivationFunctionType.RELU_N1_TO_1: lambda net, x: net.clip(x, min=-1.0, max=1.0),
}
ACTIVATION_NAMES = {value: name for name, value in vars(ActivationFunctionType).items() if not name.startswith("_")}


# The walk over the graph.


def import_tflite(path: Path) -> ImportedModel:
    """Imports a float (or hybrid int8-weight) TFLite model; raises ModelImportError listing everything unsupported."""
    path = Path(path)
    graph = read_graph(path)
    problems = Problems(path)
    for name in graph.other_subgraphs:
        problems.add(name, "SUBGRAPH", "only single-subgraph models are supported (the first subgraph is imported)")

    input_shapes = []
    for index in graph.inputs:
        tensor = graph.tensors[index]
        try:
            input_shapes.append(nchw_shape(tensor))
        except Unsupported as error:
            problems.add(tensor.name, "input", str(error))
    if len(input_shapes) != len(graph.inputs):
        problems.raise_if_any()

    net = NetworkBuilder(re.sub(r"\W|^(?=\d)", "_", path.stem) or "model", *input_shapes)
    ctx = Context(graph, net, values=dict(zip(graph.inputs, net.inputs)))
    for op in graph.ops:
        for position, index in enumerate(op.inputs):
            if index >= 0:
                ctx.consumers.setdefault(index, []).append((op, position))

    failed: set[int] = set()  # outputs of ops that were not converted
    for op in graph.ops:
        reason = import_op(ctx, op, failed)
        if reason is not None:
            failed.update(op.outputs)
            name = graph.tensors[op.outputs[0]].name if op.outputs else f"operator {op.index}"
            op_type = f"CUSTOM '{op.custom_code}'" if op.kind == "CUSTOM" else op.kind
            problems.add(name, op_type, reason)

    outputs = []
    for index in graph.outputs:
        value = ctx.values.get(index)
        if index in failed:
            continue
        if not isinstance(value, Tensor):
            problems.add(graph.tensors[index].name, "output", "the model output is not computed by a supported op")
        elif not isinstance(value.value.owner, memref.AllocOp) or value in outputs:
            problems.add(
                graph.tensors[index].name, "output", "the model output is a model input or another output, unchanged"
            )
        else:
            outputs.append(value)
    problems.raise_if_any()

    module = net.build(*outputs)
    set_io_layout(module, "nhwc")
    return ImportedModel(
        module,
        [graph.tensors[index].name for index in graph.inputs],
        [graph.tensors[index].name for index in graph.outputs],
        path,
        framework="tflite",
        hybrid=ctx.hybrid,
    )


def import_op(ctx: Context, op: OpInfo, failed: set[int]) -> str | None:
    """Converts one op into ctx; returns why it cannot be, or None."""
    tensors = ctx.graph.tensors
    activations = [tensors[i] for i in op.inputs if i >= 0 and not ctx.is_constant(i)] + [
        tensors[i] for i in op.outputs
    ]
    if any(tensor.type in INTEGER_ACTIVATIONS for tensor in activations):
        return INT8_ACTIVATIONS
    if op.kind == "CUSTOM":
        return "custom ops are not supported"
    if op.kind not in CONVERTERS:
        return f"{op.kind} is not supported"
    if op.options_problem:
        return op.options_problem
    odd = [tensor for tensor in activations if tensor.type != TensorType.FLOAT32]
    if odd:
        return f"tensor '{odd[0].name}' is {odd[0].type_name}; small-ir compiles float32 networks"
    if len(op.outputs) != 1:
        return f"has {len(op.outputs)} outputs, expected 1"
    if len(op.inputs) < MIN_INPUTS.get(op.kind, 1):
        return f"has {len(op.inputs)} inputs, expected at least {MIN_INPUTS.get(op.kind, 1)}"
    activation = op.options.get("FusedActivationFunction", ActivationFunctionType.NONE)
    if activation not in ACTIVATIONS:
        return f"fused activation {ACTIVATION_NAMES.get(activation, activation)} is not supported"
    if any(index in failed for index in op.inputs):
        failed.update(op.outputs)  # its producer is already reported
        return None

    first = len(list(ctx.net.block.ops))
    ctx.net.source = tensors[op.outputs[0]].name  # the interpreter can return this tensor: `small-ir check` compares it
    try:
        result = CONVERTERS[op.kind](ctx, op)
        if isinstance(result, Tensor) and ACTIVATIONS[activation] is not None:
            result = ACTIVATIONS[activation](ctx.net, result)
        if not isinstance(result, np.ndarray):
            expected = nchw_shape(tensors[op.outputs[0]])
            if result.shape != expected:
                raise Unsupported(
                    f"computes shape {list(result.shape)} (NCHW), the model declares {list(tensors[op.outputs[0]].shape)}"
                )
        # A safety net: the nn verifiers, attributed to this op.
        for emitted in list(ctx.net.block.ops)[first:]:
            emitted.verify()
    except (Unsupported, VerifyException) as error:
        return str(error)
    finally:
        ctx.net.source = None
    if isinstance(result, np.ndarray):
        ctx.constants[op.outputs[0]] = result
    else:
        ctx.values[op.outputs[0]] = result
    return None
