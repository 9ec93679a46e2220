"""
Builds small TFLite flatbuffers for tests, with the generated builder
functions of the `tflite` package.

    model = ModelBuilder()
    x = model.tensor("x", [1, 5, 5, 3])
    w = model.constant("w", weights)          # a tensor with its own buffer (8 x 3 x 3 x 3)
    b = model.constant("b", bias)             # TFLite's CONV_2D requires a bias
    y = model.tensor("y", [1, 5, 5, 8])
    model.op(BuiltinOperator.CONV_2D, [x, w, b], [y], conv2d_options(padding=Padding.SAME))
    data = model.build(inputs=[x], outputs=[y])   # bytes of a .tflite file

`build_model` is the plumbing underneath: it writes exactly the tensors,
operators and buffers it is given (buffer 0 is the empty buffer by convention).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import flatbuffers
import numpy as np
import tflite
from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.Padding import Padding
from tflite.TensorType import TensorType

# One entry per numpy dtype we write into buffers.
NUMPY_TYPES = {
    np.dtype("float32"): TensorType.FLOAT32,
    np.dtype("float16"): TensorType.FLOAT16,
    np.dtype("int8"): TensorType.INT8,
    np.dtype("int32"): TensorType.INT32,
}

Options = tuple[int, Callable[[flatbuffers.Builder], int]]
"""A BuiltinOptions type and a function writing the options table (returns its offset)."""


@dataclass
class TensorSpec:
    name: str
    shape: Sequence[int]
    type: int = TensorType.FLOAT32
    buffer: int = 0
    quantization: tuple[Sequence[float], Sequence[int], int] | None = None
    """(scales, zero points, quantized dimension)"""


@dataclass
class OpSpec:
    code: int
    inputs: Sequence[int]
    outputs: Sequence[int]
    options: Options | None = None
    custom_code: str | None = None


def _int32_vector(builder: flatbuffers.Builder, values: Sequence[int]) -> int:
    return builder.CreateNumpyVector(np.asarray(values, np.int32))


def _offset_vector(builder: flatbuffers.Builder, offsets: Sequence[int]) -> int:
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _bytes_vector(builder: flatbuffers.Builder, data: bytes) -> int:
    """Buffer data, 16-byte aligned as the TFLite converter writes it."""
    builder.StartVector(1, len(data), 16)
    builder.head -= len(data)
    builder.Bytes[builder.head : builder.head + len(data)] = data
    return builder.EndVector()


def _tensor(builder: flatbuffers.Builder, spec: TensorSpec) -> int:
    name = builder.CreateString(spec.name)
    shape = _int32_vector(builder, spec.shape)
    quantization = None
    if spec.quantization is not None:
        scales, zero_points, dimension = spec.quantization
        scale_vector = builder.CreateNumpyVector(np.asarray(scales, np.float32))
        zero_point_vector = builder.CreateNumpyVector(np.asarray(zero_points, np.int64))
        tflite.QuantizationParametersStart(builder)
        tflite.QuantizationParametersAddScale(builder, scale_vector)
        tflite.QuantizationParametersAddZeroPoint(builder, zero_point_vector)
        tflite.QuantizationParametersAddQuantizedDimension(builder, dimension)
        quantization = tflite.QuantizationParametersEnd(builder)
    tflite.TensorStart(builder)
    tflite.TensorAddShape(builder, shape)
    tflite.TensorAddType(builder, spec.type)
    tflite.TensorAddBuffer(builder, spec.buffer)
    tflite.TensorAddName(builder, name)
    if quantization is not None:
        tflite.TensorAddQuantization(builder, quantization)
    return tflite.TensorEnd(builder)


def _operator(builder: flatbuffers.Builder, spec: OpSpec, opcode_index: int) -> int:
    inputs = _int32_vector(builder, spec.inputs)
    outputs = _int32_vector(builder, spec.outputs)
    options = spec.options[1](builder) if spec.options else None
    tflite.OperatorStart(builder)
    tflite.OperatorAddOpcodeIndex(builder, opcode_index)
    tflite.OperatorAddInputs(builder, inputs)
    tflite.OperatorAddOutputs(builder, outputs)
    if spec.options:
        tflite.OperatorAddBuiltinOptionsType(builder, spec.options[0])
        tflite.OperatorAddBuiltinOptions(builder, options)
    return tflite.OperatorEnd(builder)


def _operator_code(builder: flatbuffers.Builder, code: int, custom_code: str | None) -> int:
    custom = builder.CreateString(custom_code) if custom_code else None
    tflite.OperatorCodeStart(builder)
    # Codes above 127 only fit the new field; the old one says "look there".
    tflite.OperatorCodeAddDeprecatedBuiltinCode(builder, min(code, BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES))
    tflite.OperatorCodeAddBuiltinCode(builder, code)
    tflite.OperatorCodeAddVersion(builder, 1)
    if custom is not None:
        tflite.OperatorCodeAddCustomCode(builder, custom)
    return tflite.OperatorCodeEnd(builder)


def build_model(
    ops: Sequence[OpSpec],
    tensors: Sequence[TensorSpec],
    inputs: Sequence[int],
    outputs: Sequence[int],
    buffers: Sequence[bytes],
    extra_subgraphs: Sequence[str] = (),
) -> bytes:
    """A TFLite model (schema version 3) as the bytes of a .tflite file: one subgraph with the ops,
    then an empty subgraph for each name in `extra_subgraphs`."""
    builder = flatbuffers.Builder(1024)
    codes = list(dict.fromkeys((op.code, op.custom_code) for op in ops))

    buffer_offsets = []
    for data in buffers:
        vector = _bytes_vector(builder, data) if data else None
        tflite.BufferStart(builder)
        if vector is not None:
            tflite.BufferAddData(builder, vector)
        buffer_offsets.append(tflite.BufferEnd(builder))
    tensor_offsets = [_tensor(builder, spec) for spec in tensors]
    operator_offsets = [_operator(builder, op, codes.index((op.code, op.custom_code))) for op in ops]
    code_offsets = [_operator_code(builder, code, custom) for code, custom in codes]

    tensor_vector = _offset_vector(builder, tensor_offsets)
    operator_vector = _offset_vector(builder, operator_offsets)
    input_vector = _int32_vector(builder, inputs)
    output_vector = _int32_vector(builder, outputs)
    name = builder.CreateString("main")
    tflite.SubGraphStart(builder)
    tflite.SubGraphAddTensors(builder, tensor_vector)
    tflite.SubGraphAddInputs(builder, input_vector)
    tflite.SubGraphAddOutputs(builder, output_vector)
    tflite.SubGraphAddOperators(builder, operator_vector)
    tflite.SubGraphAddName(builder, name)
    subgraphs = [tflite.SubGraphEnd(builder)]
    for extra in extra_subgraphs:
        name = builder.CreateString(extra)
        tflite.SubGraphStart(builder)
        tflite.SubGraphAddName(builder, name)
        subgraphs.append(tflite.SubGraphEnd(builder))

    subgraph_vector = _offset_vector(builder, subgraphs)
    code_vector = _offset_vector(builder, code_offsets)
    buffer_vector = _offset_vector(builder, buffer_offsets)
    description = builder.CreateString("small-ir test model")
    tflite.ModelStart(builder)
    tflite.ModelAddVersion(builder, 3)
    tflite.ModelAddOperatorCodes(builder, code_vector)
    tflite.ModelAddSubgraphs(builder, subgraph_vector)
    tflite.ModelAddDescription(builder, description)
    tflite.ModelAddBuffers(builder, buffer_vector)
    builder.Finish(tflite.ModelEnd(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@dataclass
class ModelBuilder:
    """Collects tensors, buffers and operators; tensor handles are indices."""

    tensors: list[TensorSpec] = field(default_factory=list)
    buffers: list[bytes] = field(default_factory=lambda: [b""])
    ops: list[OpSpec] = field(default_factory=list)

    def tensor(self, name: str, shape: Sequence[int], type: int = TensorType.FLOAT32, **extra) -> int:
        self.tensors.append(TensorSpec(name, list(shape), type, **extra))
        return len(self.tensors) - 1

    def constant(self, name: str, array: np.ndarray, quantization=None) -> int:
        """A tensor whose data is `array` (float32, float16, int8 or int32)."""
        array = np.asarray(array)
        self.buffers.append(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
        return self.tensor(
            name, array.shape, NUMPY_TYPES[array.dtype], buffer=len(self.buffers) - 1, quantization=quantization
        )

    def op(
        self,
        code: int,
        inputs: Sequence[int],
        outputs: Sequence[int],
        options: Options | None = None,
        custom_code: str | None = None,
    ) -> None:
        self.ops.append(OpSpec(code, list(inputs), list(outputs), options, custom_code))

    def build(self, inputs: Sequence[int], outputs: Sequence[int], extra_subgraphs: Sequence[str] = ()) -> bytes:
        return build_model(self.ops, self.tensors, inputs, outputs, self.buffers, extra_subgraphs)


# Builtin options, one function per options table; each returns `Options`.


def conv2d_options(
    padding=Padding.SAME, stride=(1, 1), dilation=(1, 1), activation=ActivationFunctionType.NONE
) -> Options:
    def write(builder):
        tflite.Conv2DOptionsStart(builder)
        tflite.Conv2DOptionsAddPadding(builder, padding)
        tflite.Conv2DOptionsAddStrideH(builder, stride[0])
        tflite.Conv2DOptionsAddStrideW(builder, stride[1])
        tflite.Conv2DOptionsAddDilationHFactor(builder, dilation[0])
        tflite.Conv2DOptionsAddDilationWFactor(builder, dilation[1])
        tflite.Conv2DOptionsAddFusedActivationFunction(builder, activation)
        return tflite.Conv2DOptionsEnd(builder)

    return BuiltinOptions.Conv2DOptions, write


def depthwise_options(
    padding=Padding.SAME, stride=(1, 1), dilation=(1, 1), multiplier=1, activation=ActivationFunctionType.NONE
) -> Options:
    def write(builder):
        tflite.DepthwiseConv2DOptionsStart(builder)
        tflite.DepthwiseConv2DOptionsAddPadding(builder, padding)
        tflite.DepthwiseConv2DOptionsAddStrideH(builder, stride[0])
        tflite.DepthwiseConv2DOptionsAddStrideW(builder, stride[1])
        tflite.DepthwiseConv2DOptionsAddDilationHFactor(builder, dilation[0])
        tflite.DepthwiseConv2DOptionsAddDilationWFactor(builder, dilation[1])
        tflite.DepthwiseConv2DOptionsAddDepthMultiplier(builder, multiplier)
        tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(builder, activation)
        return tflite.DepthwiseConv2DOptionsEnd(builder)

    return BuiltinOptions.DepthwiseConv2DOptions, write


def pool_options(filter, padding=Padding.SAME, stride=(1, 1), activation=ActivationFunctionType.NONE) -> Options:
    def write(builder):
        tflite.Pool2DOptionsStart(builder)
        tflite.Pool2DOptionsAddPadding(builder, padding)
        tflite.Pool2DOptionsAddStrideH(builder, stride[0])
        tflite.Pool2DOptionsAddStrideW(builder, stride[1])
        tflite.Pool2DOptionsAddFilterHeight(builder, filter[0])
        tflite.Pool2DOptionsAddFilterWidth(builder, filter[1])
        tflite.Pool2DOptionsAddFusedActivationFunction(builder, activation)
        return tflite.Pool2DOptionsEnd(builder)

    return BuiltinOptions.Pool2DOptions, write


def fully_connected_options(activation=ActivationFunctionType.NONE, keep_num_dims=False) -> Options:
    def write(builder):
        tflite.FullyConnectedOptionsStart(builder)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(builder, activation)
        tflite.FullyConnectedOptionsAddKeepNumDims(builder, keep_num_dims)
        return tflite.FullyConnectedOptionsEnd(builder)

    return BuiltinOptions.FullyConnectedOptions, write


def _activation_only(kind: str) -> Callable[..., Options]:
    """ADD, SUB and MUL options: a fused activation and nothing else."""

    def options(activation=ActivationFunctionType.NONE) -> Options:
        def write(builder):
            getattr(tflite, f"{kind}OptionsStart")(builder)
            getattr(tflite, f"{kind}OptionsAddFusedActivationFunction")(builder, activation)
            return getattr(tflite, f"{kind}OptionsEnd")(builder)

        return getattr(BuiltinOptions, f"{kind}Options"), write

    return options


add_options = _activation_only("Add")
sub_options = _activation_only("Sub")
mul_options = _activation_only("Mul")


def softmax_options(beta=1.0) -> Options:
    def write(builder):
        tflite.SoftmaxOptionsStart(builder)
        tflite.SoftmaxOptionsAddBeta(builder, beta)
        return tflite.SoftmaxOptionsEnd(builder)

    return BuiltinOptions.SoftmaxOptions, write


def concatenation_options(axis, activation=ActivationFunctionType.NONE) -> Options:
    def write(builder):
        tflite.ConcatenationOptionsStart(builder)
        tflite.ConcatenationOptionsAddAxis(builder, axis)
        tflite.ConcatenationOptionsAddFusedActivationFunction(builder, activation)
        return tflite.ConcatenationOptionsEnd(builder)

    return BuiltinOptions.ConcatenationOptions, write


def reducer_options(keep_dims) -> Options:
    def write(builder):
        tflite.ReducerOptionsStart(builder)
        tflite.ReducerOptionsAddKeepDims(builder, keep_dims)
        return tflite.ReducerOptionsEnd(builder)

    return BuiltinOptions.ReducerOptions, write


def reshape_options(new_shape) -> Options:
    def write(builder):
        vector = _int32_vector(builder, new_shape)
        tflite.ReshapeOptionsStart(builder)
        tflite.ReshapeOptionsAddNewShape(builder, vector)
        return tflite.ReshapeOptionsEnd(builder)

    return BuiltinOptions.ReshapeOptions, write


def leaky_relu_options(alpha) -> Options:
    def write(builder):
        tflite.LeakyReluOptionsStart(builder)
        tflite.LeakyReluOptionsAddAlpha(builder, alpha)
        return tflite.LeakyReluOptionsEnd(builder)

    return BuiltinOptions.LeakyReluOptions, write


def pad_options() -> Options:
    def write(builder):
        tflite.PadOptionsStart(builder)
        return tflite.PadOptionsEnd(builder)

    return BuiltinOptions.PadOptions, write
