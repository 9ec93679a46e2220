"""
Python builder for `nn` networks.

    net = NetworkBuilder("net", (1, 3, 32, 32))
    x = net.conv2d(net.input, weight, bias, pads=(1, 1, 1, 1))
    x = net.relu(x)
    x = net.dense(net.flatten(net.global_avg_pool(x)), fc_weight, fc_bias)
    module = net.build(net.softmax(x))

Every method takes and returns `Tensor` handles; weights are numpy arrays and
become `memref.global` constants. Keyword names follow `small_ir.reference`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

import numpy as np
from xdsl.builder import Builder, InsertPoint
from xdsl.dialects import func, memref
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    UnitAttr,
    f32,
)
from xdsl.ir import Block, Operation, Region, SSAValue

from small_ir.dialects import nn
from small_ir.dialects.nn import window_output_size

SOURCE = "small.source"
"""Attribute naming the model node (ONNX node, TFLite op) a layer comes from."""


def memref_type(shape: Sequence[int]) -> memref.MemRefType:
    return memref.MemRefType(f32, list(shape))


def dense_f32(array: np.ndarray) -> DenseIntOrFPElementsAttr:
    data = np.ascontiguousarray(array, dtype="<f4")
    return DenseIntOrFPElementsAttr(TensorType(f32, list(data.shape) or [1]), BytesAttr(data.tobytes()))


def weight_global(name: str, array: np.ndarray) -> memref.GlobalOp:
    return memref.GlobalOp.get(
        StringAttr(name),
        memref_type(array.shape),
        dense_f32(array),
        sym_visibility=StringAttr("private"),
        constant=UnitAttr(),
    )


@dataclass(frozen=True)
class Tensor:
    value: SSAValue

    @property
    def shape(self) -> tuple[int, ...]:
        return nn.shape_of(self.value)


class NetworkBuilder:
    """Builds a `func.func` of nn ops on memrefs, destination-passing style."""

    def __init__(self, name: str = "net", *input_shapes: Sequence[int]):
        self.name = name
        self.block = Block(arg_types=[memref_type(shape) for shape in input_shapes])
        self.builder = Builder(InsertPoint.at_end(self.block))
        self.globals: list[memref.GlobalOp] = []
        self.source: str | None = None
        """The model node being imported: layers added now are tagged with it."""

    @property
    def inputs(self) -> list[Tensor]:
        return [Tensor(arg) for arg in self.block.args]

    @property
    def input(self) -> Tensor:
        return self.inputs[0]

    # Plumbing.
    def constant(self, array: np.ndarray, hint: str = "w") -> SSAValue:
        global_op = weight_global(f"{hint}{len(self.globals)}", np.asarray(array, np.float32))
        self.globals.append(global_op)
        get = self.builder.insert(memref.GetGlobalOp(global_op.sym_name.data, global_op.type))
        return get.memref

    def buffer(self, shape: Sequence[int]) -> SSAValue:
        return self.builder.insert(memref.AllocOp([], [], memref_type(shape))).memref

    def layer_op(self, op: Operation) -> Operation:
        """Inserts a layer, tagged `small.source = "<name>"` while `self.source` names a model node."""
        if self.source is not None:
            op.attributes[SOURCE] = StringAttr(self.source)
        return self.builder.insert(op)

    def _emit(self, op_class, *operands, shape: Sequence[int], **properties) -> Tensor:
        output = self.buffer(shape)
        self.layer_op(op_class(*operands, output, **properties))
        return Tensor(output)

    # Layers.
    def conv2d(self, x: Tensor, weight, bias=None, *, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1) -> Tensor:
        weight = np.asarray(weight, np.float32)
        _, _, h, w = x.shape
        out_h = window_output_size(h, weight.shape[2], strides[0], pads[0], pads[2], dilations[0])
        out_w = window_output_size(w, weight.shape[3], strides[1], pads[1], pads[3], dilations[1])
        bias_value = self.constant(bias, "b") if bias is not None else None
        output = self.buffer((1, weight.shape[0], out_h, out_w))
        self.layer_op(
            nn.Conv2dOp(x.value, self.constant(weight), bias_value, output, tuple(strides), tuple(pads), tuple(dilations), group)
        )
        return Tensor(output)

    def _pool(self, op_class, x: Tensor, kernel_shape, strides, pads, **extra) -> Tensor:
        _, c, h, w = x.shape
        dilations = extra.get("dilations", (1, 1))
        out_h = window_output_size(h, kernel_shape[0], strides[0], pads[0], pads[2], dilations[0])
        out_w = window_output_size(w, kernel_shape[1], strides[1], pads[1], pads[3], dilations[1])
        return self._emit(op_class, x.value, shape=(1, c, out_h, out_w), kernel_shape=tuple(kernel_shape), strides=tuple(strides), pads=tuple(pads), **extra)

    def max_pool2d(self, x: Tensor, *, kernel_shape, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1)) -> Tensor:
        return self._pool(nn.MaxPool2dOp, x, kernel_shape, strides, pads, dilations=tuple(dilations))

    def avg_pool2d(self, x: Tensor, *, kernel_shape, strides=(1, 1), pads=(0, 0, 0, 0), count_include_pad=False) -> Tensor:
        return self._pool(nn.AvgPool2dOp, x, kernel_shape, strides, pads, count_include_pad=count_include_pad)

    def global_avg_pool(self, x: Tensor) -> Tensor:
        return self._emit(nn.GlobalAvgPoolOp, x.value, shape=(1, x.shape[1], 1, 1))

    def dense(self, x: Tensor, weight, bias=None) -> Tensor:
        weight = np.asarray(weight, np.float32)
        bias_value = self.constant(bias, "b") if bias is not None else None
        output = self.buffer((1, weight.shape[0]))
        self.layer_op(nn.DenseOp(x.value, self.constant(weight), bias_value, output))
        return Tensor(output)

    def add(self, a: Tensor, b: Tensor) -> Tensor:
        return self._emit(nn.AddOp, a.value, b.value, shape=a.shape)

    def sub(self, a: Tensor, b: Tensor) -> Tensor:
        return self._emit(nn.SubOp, a.value, b.value, shape=a.shape)

    def sigmoid(self, x: Tensor) -> Tensor:
        return self._emit(nn.SigmoidOp, x.value, shape=x.shape)

    def mul(self, a: Tensor, b: Tensor) -> Tensor:
        return self._emit(nn.MulOp, a.value, b.value, shape=a.shape)

    def relu(self, x: Tensor) -> Tensor:
        return self._emit(nn.ReluOp, x.value, shape=x.shape)

    def clip(self, x: Tensor, *, min: float, max: float) -> Tensor:
        return self._emit(nn.ClipOp, x.value, shape=x.shape, min=min, max=max)

    def relu6(self, x: Tensor) -> Tensor:
        return self.clip(x, min=0.0, max=6.0)

    def leaky_relu(self, x: Tensor, *, alpha: float = 0.01) -> Tensor:
        return self._emit(nn.LeakyReluOp, x.value, shape=x.shape, alpha=alpha)

    def softmax(self, x: Tensor, *, axis: int = 1) -> Tensor:
        return self._emit(nn.SoftmaxOp, x.value, shape=x.shape, axis=axis)

    def reshape(self, x: Tensor, *, shape: Sequence[int]) -> Tensor:
        return self._emit(nn.ReshapeOp, x.value, shape=tuple(shape))

    def flatten(self, x: Tensor, *, axis: int = 1) -> Tensor:
        return self.reshape(x, shape=(prod(x.shape[:axis]), prod(x.shape[axis:])))

    def concat(self, *xs: Tensor, axis: int = 1) -> Tensor:
        shape = list(xs[0].shape)
        shape[1] = sum(x.shape[1] for x in xs)
        output = self.buffer(shape)
        self.layer_op(nn.ConcatOp([x.value for x in xs], output, axis))
        return Tensor(output)

    def layer(self, op: str, inputs: Sequence[Tensor], params: dict) -> Tensor:
        """Adds a layer by reference-op name, e.g. from a `small_ir.strategies.LayerCase`."""
        method = getattr(self, op)
        arrays = [params[key] for key in ("weight", "bias") if key in params]
        attributes = {key: value for key, value in params.items() if key not in ("weight", "bias")}
        return method(*inputs, *arrays, **attributes)

    def build(self, *outputs: Tensor) -> ModuleOp:
        """Finishes the network: each output becomes a trailing function argument."""
        if not outputs:
            raise ValueError("build() needs at least one output tensor")
        if len({output.value for output in outputs}) != len(outputs):
            raise ValueError("build(): the same tensor is given twice as an output")
        if any(not isinstance(output.value.owner, memref.AllocOp) for output in outputs):
            raise ValueError("build(): outputs must be tensors computed by layers, not network inputs")
        for output in outputs:
            argument = self.block.insert_arg(output.value.type, len(self.block.args))
            alloc = output.value.owner
            output.value.replace_all_uses_with(argument)
            alloc.detach()
            alloc.erase()
        self.builder.insert(func.ReturnOp())
        function = func.FuncOp(self.name, ([arg.type for arg in self.block.args], []), Region(self.block))
        return ModuleOp([*self.globals, function])
