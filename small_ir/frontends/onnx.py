"""
ONNX models (opsets 11 to 21, batch 1) into the `nn` dialect.

    model = import_onnx(Path("ic_resnet8.onnx"))

Each supported op type has one converter in `CONVERTERS`. A converter reads
its inputs from the `ImportContext` (ONNX tensor name -> builder tensor or
numpy constant), checks every attribute, and returns its first output; it
raises `Unsupported` for anything the nn dialect cannot express exactly. The
importer collects the reason for every such node and reports them together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import prod
from pathlib import Path

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, helper, numpy_helper
from xdsl.ir import Block, Operation
from xdsl.utils.exceptions import VerifyException

from small_ir.builder import NetworkBuilder, Tensor
from small_ir.dialects import nn
from small_ir.dialects.nn import fmt
from small_ir.frontends import ImportedModel, ModelImportError, Problems, set_io_layout
from small_ir.frontends.common import Padded, Pads, Unsupported, add_pads, channel_affine, check_window_fits, same_pads

OPSETS = range(11, 22)
DEFAULT_DOMAINS = ("", "ai.onnx")
Value = Tensor | np.ndarray | Padded


@dataclass
class ImportContext:
    net: NetworkBuilder
    opset: int
    values: dict[str, Value]
    """ONNX tensor name -> computed tensor, constant, or folded padding."""
    readers: dict[str, list[NodeProto]]
    graph_outputs: set[str]
    folded: set[str] = field(default_factory=set)
    """Outputs of BatchNormalization nodes already folded into their producer."""
    failed: set[str] = field(default_factory=set)
    """Outputs of unsupported nodes that have no stand-in (their shape is unknown)."""

    def value(self, name: str) -> Value:
        if name not in self.values:
            raise Unsupported(f"input '{name}' is not a graph input, an initializer or an output of an earlier node")
        return self.values[name]

    def tensor(self, name: str) -> Tensor:
        value = self.value(name)
        if not isinstance(value, Tensor):
            raise Unsupported(f"input '{name}' is a constant where small-ir needs a computed tensor")
        return value

    def constant(self, name: str) -> np.ndarray:
        value = self.value(name)
        if not isinstance(value, np.ndarray):
            raise Unsupported(
                f"input '{name}' is computed by the network; small-ir needs a constant (initializer) here"
            )
        return value

    def floats(self, name: str) -> np.ndarray:
        value = self.constant(name)
        if value.dtype.kind != "f":
            raise Unsupported(f"constant '{name}' has element type {value.dtype}; small-ir needs floats here")
        return value.astype(np.float32)

    def ints(self, name: str) -> list[int]:
        value = self.constant(name)
        if value.dtype.kind not in "iu":
            raise Unsupported(f"constant '{name}' has element type {value.dtype}; ONNX needs integers here")
        return [int(v) for v in value.reshape(-1)]

    def sole_reader(self, name: str) -> NodeProto | None:
        """The only node that reads `name`, if it reads it only as its first input and `name` is no graph output."""
        readers = self.readers.get(name, [])
        if name in self.graph_outputs or len(readers) != 1:
            return None
        reader = readers[0]
        if reader.input[0] != name or list(reader.input).count(name) != 1 or reader.domain not in DEFAULT_DOMAINS:
            return None
        return reader


def has_input(node: NodeProto, index: int) -> bool:
    return len(node.input) > index and node.input[index] != ""


def attributes(node: NodeProto, *known: str) -> dict:
    """The node's attributes by name; any the converter does not handle is reported."""
    values = {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise Unsupported(f"attribute {', '.join(unknown)} is not supported")
    return {name: value.decode() if isinstance(value, bytes) else value for name, value in values.items()}


def attribute(node: NodeProto, name: str, default):
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def normalized_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise Unsupported(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def nchw(x: Tensor) -> Tensor:
    if len(x.shape) != 4:
        raise Unsupported(f"needs a 1xCxHxW input (2-D spatial), got {fmt(x.shape)}")
    return x


def reshape(net: NetworkBuilder, x: Tensor, shape: Sequence[int]) -> Tensor:
    shape = tuple(int(d) for d in shape)
    if len(shape) not in (2, 3, 4) or shape[0] != 1:
        raise Unsupported(f"the result would be {fmt(shape)}; small-ir needs batch 1 and 1xN, 1xAxB or 1xCxHxW tensors")
    return net.reshape(x, shape=shape)


# Sliding windows: Conv, MaxPool, AveragePool.


def pair(attrs: dict, name: str, default: Sequence[int] = (1, 1)) -> tuple[int, int]:
    values = tuple(attrs.get(name, default))
    if len(values) != 2:
        raise Unsupported(f"{name} {list(values)}: only 2-D windows are supported")
    if min(values) < 1:
        raise Unsupported(f"{name} {list(values)} must be >= 1")
    return values  # type: ignore[return-value]


def window_pads(
    attrs: dict, size: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int]
) -> Pads:
    """The pads attribute, or the padding auto_pad asks for: top, left, bottom, right."""
    auto_pad = attrs.get("auto_pad", "NOTSET")
    pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
    if len(pads) != 4 or min(pads) < 0:
        raise Unsupported(f"pads {list(pads)} must be four integers >= 0")
    if auto_pad == "NOTSET":
        return pads  # type: ignore[return-value]
    if any(pads):
        raise Unsupported(f"auto_pad {auto_pad} together with pads {list(pads)}")
    if auto_pad == "VALID":
        return (0, 0, 0, 0)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise Unsupported(f"auto_pad {auto_pad} is not supported")
    if tuple(dilations) != (1, 1):
        # onnxruntime rejects it for Conv and ignores the dilation for MaxPool.
        raise Unsupported(f"auto_pad {auto_pad} with dilations {list(dilations)} is not supported")
    return same_pads(size, kernel, strides, dilations, odd_at_end=auto_pad == "SAME_UPPER")


def ceil_mode_pads(
    size: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int], pads: Pads
) -> Pads:
    """Pads with the extra bottom and right padding that gives the ceil-mode output size in floor mode.

    As in the ONNX definition (and onnxruntime), a window that would start in the end padding is dropped.
    """
    extra = []
    for axis in (0, 1):
        begin, end = pads[axis], pads[axis + 2]
        span = size[axis] + begin + end - (dilations[axis] * (kernel[axis] - 1) + 1)
        out = -(-span // strides[axis]) + 1
        if (out - 1) * strides[axis] >= size[axis] + begin:
            out -= 1
        extra.append(max(0, (out - 1) * strides[axis] - span))  # 0: floor mode gives the same size
    return (pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1])


def check_pool_pads(pads: Pads, kernel: Sequence[int]) -> None:
    if max(pads[0], pads[2]) >= kernel[0] or max(pads[1], pads[3]) >= kernel[1]:
        raise Unsupported(
            f"pads {list(pads)} (with any folded Pad and ceil_mode padding) must be smaller than the kernel {fmt(kernel)}"
        )


def window_input(ctx: ImportContext, name: str) -> tuple[Tensor, Pads]:
    """The input of a window op, and the padding of a Pad node folded into it."""
    value = ctx.value(name)
    if isinstance(value, Padded):
        return nchw(value.tensor), value.pads
    return nchw(ctx.tensor(name)), (0, 0, 0, 0)


# Converters: each returns the value of the node's first output.


def convert_conv(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
    x, padding = window_input(ctx, node.input[0])
    weight = ctx.floats(node.input[1])
    bias = ctx.floats(node.input[2]) if has_input(node, 2) else None
    if weight.ndim != 4:
        raise Unsupported(f"weight {fmt(weight.shape)} must be K x C/group x Fh x Fw (2-D convolution)")
    channels, kernel = x.shape[1], weight.shape[2:]
    group = attrs.get("group", 1)
    if group < 1 or channels % group or weight.shape[0] % group:
        raise Unsupported(
            f"group {group} must divide the input channels {channels} and output channels {weight.shape[0]}"
        )
    if weight.shape[1] * group != channels:
        raise Unsupported(
            f"weight {fmt(weight.shape)} expects {weight.shape[1] * group} input channels, the input {fmt(x.shape)} has {channels}"
        )
    if tuple(attrs.get("kernel_shape", kernel)) != kernel:
        raise Unsupported(f"kernel_shape {attrs['kernel_shape']} differs from the weight's {fmt(kernel)}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise Unsupported(f"bias {fmt(bias.shape)} must have shape {weight.shape[0]}")
    strides, dilations = pair(attrs, "strides"), pair(attrs, "dilations")
    size = (x.shape[2] + padding[0] + padding[2], x.shape[3] + padding[1] + padding[3])
    pads = add_pads(padding, window_pads(attrs, size, kernel, strides, dilations))
    check_window_fits(x.shape[2:], kernel, strides, pads, dilations)
    batch_norm = fold_batch_norm(ctx, node, weight.shape[0])
    if batch_norm is not None:
        scale, shift = batch_norm
        weight = weight * scale[:, None, None, None]
        bias = (0 if bias is None else bias) * scale + shift
    return ctx.net.conv2d(x, weight, bias, strides=strides, pads=pads, dilations=dilations, group=group)


def convert_max_pool(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides")
    x = nchw(ctx.tensor(node.input[0]))
    kernel, strides, dilations = pair(attrs, "kernel_shape", ()), pair(attrs, "strides"), pair(attrs, "dilations")
    pads = window_pads(attrs, x.shape[2:], kernel, strides, dilations)
    check_window_fits(x.shape[2:], kernel, strides, pads, dilations)
    if attrs.get("ceil_mode", 0):
        pads = ceil_mode_pads(x.shape[2:], kernel, strides, dilations, pads)
    check_pool_pads(pads, kernel)
    return ctx.net.max_pool2d(x, kernel_shape=kernel, strides=strides, pads=pads, dilations=dilations)


def convert_average_pool(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(
        node, "auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"
    )
    x, padding = window_input(ctx, node.input[0])
    kernel, strides = pair(attrs, "kernel_shape", ()), pair(attrs, "strides")
    if pair(attrs, "dilations") != (1, 1):
        raise Unsupported(f"dilations {attrs['dilations']} are not supported for average pooling")
    include_pad = bool(attrs.get("count_include_pad", 0))
    size = (x.shape[2] + padding[0] + padding[2], x.shape[3] + padding[1] + padding[3])
    pads = window_pads(attrs, size, kernel, strides, (1, 1))
    check_window_fits(size, kernel, strides, pads, (1, 1))
    if attrs.get("ceil_mode", 0):
        ceil_pads = ceil_mode_pads(size, kernel, strides, (1, 1), pads)
        if include_pad and ceil_pads != pads:
            # onnxruntime leaves the ceil-mode padding out of the divisor even then.
            raise Unsupported("ceil_mode with count_include_pad = 1 where the last windows need extra padding")
        pads = ceil_pads
    pads = add_pads(padding, pads)
    check_pool_pads(pads, kernel)
    return ctx.net.avg_pool2d(x, kernel_shape=kernel, strides=strides, pads=pads, count_include_pad=include_pad)


def convert_global_average_pool(ctx: ImportContext, node: NodeProto) -> Tensor:
    attributes(node)
    return ctx.net.global_avg_pool(nchw(ctx.tensor(node.input[0])))


def convert_pad(ctx: ImportContext, node: NodeProto) -> Padded:
    attrs = attributes(node, "mode")
    if attrs.get("mode", "constant") != "constant":
        raise Unsupported(f"mode {attrs['mode']} is not supported (only constant zero padding)")
    x = ctx.tensor(node.input[0])
    pads = ctx.ints(node.input[1])
    if has_input(node, 2) and np.any(ctx.constant(node.input[2]) != 0):
        raise Unsupported("only padding with zeros is supported")
    rank = len(x.shape)
    axes = (
        [normalized_axis(axis, rank) for axis in ctx.ints(node.input[3])] if has_input(node, 3) else list(range(rank))
    )
    if len(pads) != 2 * len(axes):
        raise Unsupported(f"pads {pads} must have two entries per axis")
    begin, end = dict(zip(axes, pads[: len(axes)])), dict(zip(axes, pads[len(axes) :]))
    if rank != 4 or any(begin[axis] or end[axis] for axis in axes if axis < 2):
        raise Unsupported(f"pads {pads} on a {fmt(x.shape)} tensor: only H and W of a 1xCxHxW tensor can be padded")
    if min(pads) < 0:
        raise Unsupported(f"negative pads {pads} (cropping) are not supported")
    reader = ctx.sole_reader(node.output[0])
    folds = reader is not None and (
        reader.op_type == "Conv" or (reader.op_type == "AveragePool" and attribute(reader, "count_include_pad", 0) == 1)
    )
    if not folds:
        raise Unsupported(
            "zero padding is only supported folded into its only reader, a Conv or an AveragePool with count_include_pad = 1"
        )
    return Padded(x, (begin.get(2, 0), begin.get(3, 0), end.get(2, 0), end.get(3, 0)))


def batch_norm_affine(ctx: ImportContext, node: NodeProto, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """BatchNormalization in inference mode as y = scale * x + shift, per channel."""
    attrs = attributes(node, "epsilon", "momentum", "training_mode")
    if attrs.get("training_mode", 0):
        raise Unsupported("training_mode = 1 is not supported (small-ir runs inference)")
    gamma, beta, mean, variance = (ctx.floats(name).astype(np.float64) for name in node.input[1:5])
    if any(parameter.shape != (channels,) for parameter in (gamma, beta, mean, variance)):
        raise Unsupported(f"scale, bias, mean and variance must have shape {channels} (one value per channel)")
    scale = gamma / np.sqrt(variance + attrs.get("epsilon", 1e-5))
    return scale, beta - mean * scale


def fold_batch_norm(ctx: ImportContext, node: NodeProto, channels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The scale and shift of a BatchNormalization that is the only reader of the node's output, if it folds."""
    reader = ctx.sole_reader(node.output[0])
    if reader is None or reader.op_type != "BatchNormalization":
        return None
    try:
        affine = batch_norm_affine(ctx, reader, channels)
    except Unsupported:
        return None  # the BatchNormalization reports it
    ctx.folded.add(reader.output[0])
    ctx.net.source = reader.output[0]  # the layer now computes the BatchNormalization's output
    return affine


def convert_batch_norm(ctx: ImportContext, node: NodeProto) -> Tensor:
    x = ctx.tensor(node.input[0])
    if node.output[0] in ctx.folded:
        return x
    scale, shift = batch_norm_affine(ctx, node, x.shape[1])
    return channel_affine(ctx.net, x, scale, shift)


def dense(ctx: ImportContext, node: NodeProto, x: Tensor, weight: np.ndarray, bias: np.ndarray | None) -> Tensor:
    if len(x.shape) != 2:
        raise Unsupported(f"needs a 1xK input, got {fmt(x.shape)}")
    if weight.shape[1] != x.shape[1]:
        raise Unsupported(f"the input {fmt(x.shape)} has {x.shape[1]} features, the weight expects {weight.shape[1]}")
    batch_norm = fold_batch_norm(ctx, node, weight.shape[0])
    if batch_norm is not None:
        scale, shift = batch_norm
        weight = weight * scale[:, None]
        bias = (0 if bias is None else bias) * scale + shift
    return ctx.net.dense(x, weight, bias)


def convert_gemm(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "alpha", "beta", "transA", "transB")
    x = ctx.tensor(node.input[0])
    b = ctx.floats(node.input[1])
    if attrs.get("transA", 0) and x.shape != (1, 1):
        raise Unsupported(f"transA = 1 with A of shape {fmt(x.shape)} (batch 1 needs A to be 1x1)")
    if b.ndim != 2:
        raise Unsupported(f"B {fmt(b.shape)} must be a matrix")
    weight = b if attrs.get("transB", 0) else b.T
    bias = None
    if has_input(node, 2):
        c = ctx.floats(node.input[2])
        if c.shape not in ((), (1,), (weight.shape[0],), (1, 1), (1, weight.shape[0])):
            raise Unsupported(f"C {fmt(c.shape)} does not broadcast to 1x{weight.shape[0]}")
        bias = attrs.get("beta", 1.0) * np.broadcast_to(c.reshape(-1), (weight.shape[0],))
    return dense(ctx, node, x, attrs.get("alpha", 1.0) * weight, bias)


def convert_matmul(ctx: ImportContext, node: NodeProto) -> Tensor:
    attributes(node)
    x = ctx.tensor(node.input[0])
    b = ctx.floats(node.input[1])
    if b.ndim != 2:
        raise Unsupported(f"the constant second operand {fmt(b.shape)} must be a KxN matrix")
    return dense(ctx, node, x, b.T, None)


def per_channel(constant: np.ndarray, shape: Sequence[int]) -> np.ndarray | None:
    """The constant as one value per channel (axis 1) of a `shape` tensor, if it broadcasts that way."""
    if constant.ndim > len(shape):
        return None
    aligned = constant.reshape((1,) * (len(shape) - constant.ndim) + constant.shape)
    if any(d != 1 for axis, d in enumerate(aligned.shape) if axis != 1) or aligned.shape[1] not in (1, shape[1]):
        return None
    return np.broadcast_to(aligned.reshape(-1), (shape[1],))


def elementwise(ctx: ImportContext, node: NodeProto, kind: str) -> Tensor:
    attributes(node)
    lhs, rhs = ctx.value(node.input[0]), ctx.value(node.input[1])
    if isinstance(lhs, Tensor) and isinstance(rhs, Tensor):
        if lhs.shape != rhs.shape:
            raise Unsupported(
                f"broadcasting {fmt(lhs.shape)} with {fmt(rhs.shape)}: two computed tensors need equal shapes"
            )
        return getattr(ctx.net, kind)(lhs, rhs)
    tensor_first = isinstance(lhs, Tensor)
    x = ctx.tensor(node.input[0 if tensor_first else 1])
    constant = ctx.floats(node.input[1 if tensor_first else 0])
    values = per_channel(constant, x.shape)
    if values is None:
        raise Unsupported(f"the constant {fmt(constant.shape)} does not broadcast per channel over {fmt(x.shape)}")
    ones, zeros = np.ones_like(values), np.zeros_like(values)
    if kind == "add":
        return channel_affine(ctx.net, x, ones, values)
    if kind == "mul":
        return channel_affine(ctx.net, x, values, zeros)
    if tensor_first:
        return channel_affine(ctx.net, x, ones, -values)
    return channel_affine(ctx.net, x, -ones, values)


def convert_add(ctx: ImportContext, node: NodeProto) -> Tensor:
    return elementwise(ctx, node, "add")


def convert_sub(ctx: ImportContext, node: NodeProto) -> Tensor:
    return elementwise(ctx, node, "sub")


def convert_mul(ctx: ImportContext, node: NodeProto) -> Tensor:
    return elementwise(ctx, node, "mul")


def convert_relu(ctx: ImportContext, node: NodeProto) -> Tensor:
    attributes(node)
    return ctx.net.relu(ctx.tensor(node.input[0]))


def convert_sigmoid(ctx: ImportContext, node: NodeProto) -> Tensor:
    attributes(node)
    return ctx.net.sigmoid(ctx.tensor(node.input[0]))


def convert_leaky_relu(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "alpha")
    return ctx.net.leaky_relu(ctx.tensor(node.input[0]), alpha=attrs.get("alpha", 0.01))


def scalar(ctx: ImportContext, name: str) -> float:
    value = ctx.floats(name)
    if value.size != 1:
        raise Unsupported(f"'{name}' must be a scalar, got shape {fmt(value.shape)}")
    return float(value.reshape(-1)[0])


def convert_clip(ctx: ImportContext, node: NodeProto) -> Tensor:
    attributes(node)
    x = ctx.tensor(node.input[0])
    low = scalar(ctx, node.input[1]) if has_input(node, 1) else -np.inf
    high = scalar(ctx, node.input[2]) if has_input(node, 2) else np.inf
    if low > high:
        raise Unsupported(f"min {low} is greater than max {high}")
    return ctx.net.clip(x, min=low, max=high)


def convert_softmax(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "axis")
    x = ctx.tensor(node.input[0])
    axis = normalized_axis(attrs.get("axis", 1 if ctx.opset < 13 else -1), len(x.shape))
    if ctx.opset >= 13 and axis == 1:
        return ctx.net.softmax(x)
    # Before opset 13, Softmax normalises over all axes from `axis` on.
    extent = prod(x.shape[axis:]) if ctx.opset < 13 else x.shape[axis]
    if extent != prod(x.shape):
        raise Unsupported(
            f"softmax over axis {axis} of {fmt(x.shape)} (opset {ctx.opset}): only the channel axis or all elements"
        )
    if len(x.shape) == 2:
        return ctx.net.softmax(x)
    flat = reshape(ctx.net, x, (1, extent))
    return reshape(ctx.net, ctx.net.softmax(flat), x.shape)


def convert_concat(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "axis")
    xs = [ctx.tensor(name) for name in node.input]
    first = xs[0].shape
    if normalized_axis(attrs["axis"], len(first)) != 1:
        raise Unsupported(f"axis {attrs['axis']}: only concatenation on channels (axis 1) is supported")
    for x in xs:
        if len(x.shape) != len(first) or x.shape[2:] != first[2:]:
            raise Unsupported(f"inputs {fmt(first)} and {fmt(x.shape)} differ outside the channel axis")
    return ctx.net.concat(*xs)


def convert_flatten(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "axis")
    x = ctx.tensor(node.input[0])
    axis = attrs.get("axis", 1)
    if not -len(x.shape) <= axis <= len(x.shape):
        raise Unsupported(f"axis {axis} is out of range for rank {len(x.shape)}")
    if axis < 0:
        axis += len(x.shape)
    return reshape(ctx.net, x, (prod(x.shape[:axis]), prod(x.shape[axis:])))


def convert_reshape(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "allowzero")
    x = ctx.tensor(node.input[0])
    shape = ctx.ints(node.input[1])
    if attrs.get("allowzero", 0) and 0 in shape:
        raise Unsupported(f"shape {shape} with allowzero = 1 gives an empty tensor")
    if any(d == 0 and index >= len(x.shape) for index, d in enumerate(shape)):
        raise Unsupported(f"shape {shape} copies (0) a dimension that the {fmt(x.shape)} input lacks")
    target = [x.shape[index] if d == 0 else d for index, d in enumerate(shape)]
    if target.count(-1) > 1 or min(target, default=0) < -1:
        raise Unsupported(f"shape {shape} is not a valid ONNX reshape target")
    known = prod(d for d in target if d != -1)
    if -1 in target and known and prod(x.shape) % known == 0:
        target[target.index(-1)] = prod(x.shape) // known
    if prod(target) != prod(x.shape):
        raise Unsupported(f"cannot reshape {fmt(x.shape)} to {shape}")
    return reshape(ctx.net, x, target)


def axes_operand(ctx: ImportContext, node: NodeProto, attrs: dict) -> list[int] | None:
    """Squeeze/Unsqueeze axes: an attribute before opset 13, an optional input from 13 on."""
    if ctx.opset < 13:
        return attrs.get("axes")
    return ctx.ints(node.input[1]) if has_input(node, 1) else None


def convert_squeeze(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "axes")
    x = ctx.tensor(node.input[0])
    axes = axes_operand(ctx, node, attrs)
    if axes is None:
        axes = [axis for axis, d in enumerate(x.shape) if d == 1]
    axes = {normalized_axis(axis, len(x.shape)) for axis in axes}
    if any(x.shape[axis] != 1 for axis in axes):
        raise Unsupported(f"axes {sorted(axes)} of {fmt(x.shape)} are not all of size 1")
    return reshape(ctx.net, x, [d for axis, d in enumerate(x.shape) if axis not in axes])


def convert_unsqueeze(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "axes")
    x = ctx.tensor(node.input[0])
    axes = axes_operand(ctx, node, attrs)
    if axes is None:
        raise Unsupported("axes are required")
    rank = len(x.shape) + len(axes)
    axes = {normalized_axis(axis, rank) for axis in axes}
    if len(axes) != rank - len(x.shape):
        raise Unsupported("axes repeat an axis")
    dims = iter(x.shape)
    return reshape(ctx.net, x, [1 if axis in axes else next(dims) for axis in range(rank)])


def convert_transpose(ctx: ImportContext, node: NodeProto) -> Tensor:
    attrs = attributes(node, "perm")
    x = ctx.tensor(node.input[0])
    perm = list(attrs.get("perm", reversed(range(len(x.shape)))))
    if sorted(perm) != list(range(len(x.shape))):
        raise Unsupported(f"perm {perm} is not a permutation of the {len(x.shape)} axes")
    moved = [axis for axis in perm if x.shape[axis] != 1]
    if moved != sorted(moved):
        raise Unsupported(
            f"perm {perm} on {fmt(x.shape)} moves data; only transposes that move size-1 axes are supported"
        )
    return reshape(ctx.net, x, [x.shape[axis] for axis in perm])


def convert_identity(ctx: ImportContext, node: NodeProto) -> Value:
    attributes(node)
    return ctx.value(node.input[0])


def convert_dropout(ctx: ImportContext, node: NodeProto) -> Value:
    attributes(node, "ratio", "seed")
    if has_input(node, 2) and np.any(ctx.constant(node.input[2])):
        raise Unsupported("training_mode = true is not supported (small-ir runs inference)")
    return ctx.value(node.input[0])


CAST_TYPES = {
    TensorProto.FLOAT: np.float32,
    TensorProto.FLOAT16: np.float16,
    TensorProto.DOUBLE: np.float64,
    TensorProto.INT32: np.int32,
    TensorProto.INT64: np.int64,
}


def convert_cast(ctx: ImportContext, node: NodeProto) -> Value:
    """Casts of constants (e.g. float16 weights to float32); on a computed tensor only the no-op cast to float32."""
    attrs = attributes(node, "to", "saturate")
    if attrs["to"] not in CAST_TYPES:
        raise Unsupported(f"casting to {TensorProto.DataType.Name(attrs['to'])} is not supported")
    value = ctx.value(node.input[0])
    if isinstance(value, np.ndarray):
        return value.astype(CAST_TYPES[attrs["to"]])
    if attrs["to"] != TensorProto.FLOAT:
        raise Unsupported(
            f"casting a computed tensor to {TensorProto.DataType.Name(attrs['to'])}: small-ir computes in float32"
        )
    return value


def convert_constant(ctx: ImportContext, node: NodeProto) -> np.ndarray:
    attrs = attributes(node, "value", "value_float", "value_floats", "value_int", "value_ints")
    if len(attrs) != 1:
        raise Unsupported("needs exactly one value attribute")
    ((key, value),) = attrs.items()
    if key == "value":
        return numpy_helper.to_array(value)
    return np.array(value, np.float32 if key.startswith("value_float") else np.int64)


CONVERTERS: dict[str, Callable[[ImportContext, NodeProto], Value]] = {
    "Add": convert_add,
    "AveragePool": convert_average_pool,
    "BatchNormalization": convert_batch_norm,
    "Cast": convert_cast,
    "Clip": convert_clip,
    "Concat": convert_concat,
    "Constant": convert_constant,
    "Conv": convert_conv,
    "Dropout": convert_dropout,
    "Flatten": convert_flatten,
    "Gemm": convert_gemm,
    "GlobalAveragePool": convert_global_average_pool,
    "Identity": convert_identity,
    "LeakyRelu": convert_leaky_relu,
    "MatMul": convert_matmul,
    "MaxPool": convert_max_pool,
    "Mul": convert_mul,
    "Pad": convert_pad,
    "Relu": convert_relu,
    "Reshape": convert_reshape,
    "Sigmoid": convert_sigmoid,
    "Softmax": convert_softmax,
    "Squeeze": convert_squeeze,
    "Sub": convert_sub,
    "Transpose": convert_transpose,
    "Unsqueeze": convert_unsqueeze,
}


# The importer.


def is_supported(node: NodeProto) -> bool:
    return node.domain in DEFAULT_DOMAINS and node.op_type in CONVERTERS


def unsupported_op_reason(node: NodeProto) -> str:
    domain = f" of domain '{node.domain}'" if node.domain not in DEFAULT_DOMAINS else ""
    return f"op type {node.op_type}{domain} is not supported"


def one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def load_checked(path: Path) -> onnx.ModelProto:
    try:
        model = onnx.load(path)
    except Exception as error:  # protobuf's DecodeError, missing external data, ...: all mean "not a readable model"
        raise ModelImportError(path, [f"not a readable ONNX model: {error}"]) from None
    try:
        onnx.checker.check_model(model)
    except Exception as error:  # ValidationError, and decoding errors of corrupt strings
        # The checker stops at the first op type it does not know: name every unsupported one.
        problems = Problems(path)
        for index, node in enumerate(model.graph.node):
            if not is_supported(node):
                problems.add(node.name or f"#{index}", node.op_type, unsupported_op_reason(node))
        reasons = [*problems.found, f"the ONNX checker rejects the model: {one_line(error)}"]
        raise ModelImportError(path, reasons) from None
    versions = [opset.version for opset in model.opset_import if opset.domain in DEFAULT_DOMAINS]
    if not versions or versions[0] not in OPSETS:
        found = f"opset {versions[0]}" if versions else "no ai.onnx opset"
        raise ModelImportError(
            path, [f"the model imports {found}; small-ir imports opsets {OPSETS[0]} to {OPSETS[-1]}"]
        )
    return model


def input_shape(value: onnx.ValueInfoProto) -> tuple[int, ...]:
    """The shape of a graph input, with a dynamic batch dimension taken as 1 (also in `value`)."""
    tensor_type = value.type.tensor_type
    if not value.type.HasField("tensor_type") or tensor_type.elem_type != TensorProto.FLOAT:
        raise Unsupported(f"input '{value.name}' is not a float32 tensor; small-ir compiles float32 networks")
    if not tensor_type.HasField("shape"):
        raise Unsupported(f"input '{value.name}' has no shape")
    dims = tensor_type.shape.dim
    if dims and not dims[0].HasField("dim_value"):
        dims[0].dim_value = 1
    shape = tuple(dim.dim_value if dim.HasField("dim_value") else -1 for dim in dims)
    if len(shape) not in (2, 3, 4) or shape[0] != 1 or min(shape) < 1:
        raise Unsupported(
            f"input '{value.name}' has shape {fmt(shape)} (-1: dynamic); small-ir needs static 1xN, 1xAxB or 1xCxHxW inputs"
        )
    return shape


def inferred_shapes(path: Path, model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Static shapes from ONNX shape inference (for stand-ins of unsupported nodes' outputs)."""
    try:
        graph = onnx.shape_inference.infer_shapes(model).graph
    except onnx.shape_inference.InferenceError as error:
        raise ModelImportError(path, [f"ONNX shape inference fails: {one_line(error)}"]) from None
    shapes = {}
    for value in [*graph.value_info, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape") and all(dim.HasField("dim_value") for dim in dims):
            shapes[value.name] = tuple(dim.dim_value for dim in dims)
    return shapes


def verify_new_ops(block: Block, last: Operation | None) -> None:
    """Verifies the nn ops added after `last`, so that what the checks above miss is reported by node."""
    op = last.next_op if last is not None else block.first_op
    while op is not None:
        if isinstance(op, nn.NNOp):
            try:
                op.verify()
            except VerifyException as error:
                raise Unsupported(str(error)) from None
        op = op.next_op


def convert_node(ctx: ImportContext, node: NodeProto) -> None:
    if not is_supported(node):
        raise Unsupported(unsupported_op_reason(node))
    if any(name in ctx.failed for name in node.input):
        ctx.failed.update(node.output)  # the unsupported node upstream is reported already
        return
    for extra in node.output[1:]:
        if extra in ctx.readers or extra in ctx.graph_outputs:
            raise Unsupported(f"only the first output is supported, but '{extra}' is used")
    last = ctx.net.block.last_op
    ctx.net.source = node.output[0]  # onnxruntime can expose this tensor: `small-ir check` compares it
    try:
        ctx.values[node.output[0]] = CONVERTERS[node.op_type](ctx, node)
    finally:
        ctx.net.source = None
    verify_new_ops(ctx.net.block, last)


def graph_results(ctx: ImportContext, names: Sequence[str]) -> tuple[list[Tensor], list[str]]:
    """The tensors of the graph outputs, and the reasons they cannot be network outputs."""
    tensors, reasons = [], []
    for name in names:
        value = ctx.values.get(name)
        if not isinstance(value, Tensor):
            reasons.append(f"graph output '{name}' is not a computed tensor")
        elif value.value in ctx.net.block.args:
            reasons.append(f"graph output '{name}' is a graph input: nothing computes it")
        elif value in tensors:
            reasons.append(f"graph output '{name}' is the same tensor as another graph output")
        tensors.append(value)
    return tensors, reasons


def import_onnx(path: Path) -> ImportedModel:
    """Imports an ONNX model; raises ModelImportError listing everything it does not support."""
    model = load_checked(path)
    graph = model.graph
    initializers = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initializers]
    shapes, reasons = [], []
    for value in inputs:
        try:
            shapes.append(input_shape(value))
        except Unsupported as error:
            reasons.append(str(error))
    if reasons:
        raise ModelImportError(path, reasons)

    readers: dict[str, list[NodeProto]] = {}
    for node in graph.node:
        for name in dict.fromkeys(node.input):
            readers.setdefault(name, []).append(node)
    net = NetworkBuilder(graph.name or "model", *shapes)
    opset = next(opset.version for opset in model.opset_import if opset.domain in DEFAULT_DOMAINS)
    values: dict[str, Value] = {**initializers, **{value.name: x for value, x in zip(inputs, net.inputs)}}
    ctx = ImportContext(net, opset, values, readers, {value.name for value in graph.output})

    problems = Problems(path)
    stand_in_shapes = inferred_shapes(path, model)
    for index, node in enumerate(graph.node):
        try:
            convert_node(ctx, node)
        except Unsupported as error:
            problems.add(node.name or f"#{index}", node.op_type, str(error))
            for name in node.output:
                if name in stand_in_shapes:  # lets the nodes after it be checked too
                    ctx.values[name] = Tensor(net.buffer(stand_in_shapes[name]))
                else:
                    ctx.failed.add(name)
    problems.raise_if_any()

    output_names = [value.name for value in graph.output]
    outputs, reasons = graph_results(ctx, output_names)
    if reasons:
        raise ModelImportError(path, reasons)
    module = net.build(*outputs)
    set_io_layout(module, "nchw")
    return ImportedModel(module, [value.name for value in inputs], output_names, path, framework="onnx")
