"""
Interpreter implementations for every IR level of small-ir, on top of xDSL's
`Interpreter`.

* `nn` and `small` ops run `small_ir.reference` on numpy copies of their
  operands and write the result into the output memref. Blocked activations
  (`[C / Cb][H][W][Cb]`) and packed weights are unpacked to NCHW first; the
  padding channels of inputs are never read, those of outputs become zeros.
* `kernel` ops work on a register tile held as a mutable float32 numpy array
  of shape (pixels, lanes), in float32 arithmetic.
* The std ops that xDSL 0.74 does not interpret and our lowerings use: a few
  `arith` ops, `memref.alloca`, `memref.view`, `memref.copy`, and globals
  without an initial value (zeros). `memref.get_global` returns one buffer
  per global and interpreter, so every get_global sees earlier writes.

Memrefs are xDSL `ShapedArray`s; `numpy_view` gives a numpy array that aliases
one, `shaped_array_from_numpy` makes one from numpy data:

    interpreter = make_interpreter(module)
    x = shaped_array_from_numpy(image, x_type)
    y = shaped_array_from_numpy(np.zeros(y_shape), y_type)
    interpreter.call_op("net", (x, y))
    result = numpy_view(y)

`small_ir.testing.interpret` does all of this for a function.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DenseIntOrFPElementsAttr,
    Float32Type,
    IntegerType,
    MemRefType,
    ModuleOp,
)
from xdsl.interpreter import Interpreter, InterpreterFunctions, PythonValues, impl, register_impls
from xdsl.interpreters.arith import ArithFunctions
from xdsl.interpreters.builtin import BuiltinFunctions, xtype_for_el_type
from xdsl.interpreters.func import FuncFunctions
from xdsl.interpreters.math import MathFunctions
from xdsl.interpreters.memref import MemRefFunctions
from xdsl.interpreters.scf import ScfFunctions
from xdsl.interpreters.shaped_array import ShapedArray
from xdsl.interpreters.utils.ptr import RawPtr, TypedPtr
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.traits import SymbolTable
from xdsl.utils.comparisons import to_signed, to_unsigned
from xdsl.utils.exceptions import InterpretationError

from small_ir import reference
from small_ir.dialects import kernel, nn, small
from small_ir.dialects.small import Activation, activation_of, ceil_div

# region memrefs as numpy arrays


def numpy_view(array: ShapedArray[Any]) -> np.ndarray:
    """A numpy array of `array.shape` that aliases the memory of `array`."""
    raw = array.data_ptr.raw
    dtype = np.dtype(array.element_type.format)
    flat = np.frombuffer(raw.memory, dtype=dtype, count=array.size, offset=raw.offset)
    return flat.reshape(array.shape)


def shaped_array_from_numpy(
    data: np.ndarray, memref_type: MemRefType, index_bitwidth: int = Interpreter.DEFAULT_BITWIDTH
) -> ShapedArray[Any]:
    """A new memref of `memref_type` holding a copy of `data` (same shape)."""
    shape = tuple(memref_type.get_shape())
    if data.shape != shape:
        raise ValueError(f"an array of shape {data.shape} does not fit {memref_type}")
    xtype = xtype_for_el_type(memref_type.get_element_type(), index_bitwidth)  # type: ignore[arg-type]
    packed = np.ascontiguousarray(data, dtype=np.dtype(xtype.format))
    return ShapedArray(TypedPtr(RawPtr(bytearray(packed.tobytes())), xtype=xtype), list(shape))


def _zeros(memref_type: MemRefType, shape: list[int], index_bitwidth: int) -> ShapedArray[Any]:
    xtype = xtype_for_el_type(memref_type.get_element_type(), index_bitwidth)  # type: ignore[arg-type]
    return ShapedArray(TypedPtr.zeros(int(np.prod(shape)), xtype=xtype), shape)


def _static_shape(memref_type: MemRefType, sizes: PythonValues) -> list[int]:
    """The memref type's shape with the dynamic sizes filled in, in order."""
    dynamic = iter(sizes)
    return [next(dynamic) if dim == DYNAMIC_INDEX else dim for dim in memref_type.get_shape()]


def _read(array: ShapedArray[Any]) -> np.ndarray:
    return numpy_view(array).copy()


def _write(array: ShapedArray[Any], value: np.ndarray) -> None:
    view = numpy_view(array)
    if value.shape != view.shape:
        raise InterpretationError(f"a result of shape {value.shape} does not fit the output of shape {view.shape}")
    view[...] = value


# endregion
# region std ops that xDSL lacks


def _bitwidth(interpreter: Interpreter, type: Attribute) -> int:
    return type.width.data if isinstance(type, IntegerType) else interpreter.index_bitwidth


def _float(value: float, type: Attribute) -> float:
    """`value` rounded to the precision of the float type."""
    return float(np.float32(value)) if isinstance(type, Float32Type) else float(value)


@register_impls
class StdFunctions(InterpreterFunctions):
    """The arith and memref ops our lowerings use that xDSL 0.74 does not interpret."""

    @impl(arith.MaxSIOp)
    def run_maxsi(self, interpreter: Interpreter, op: arith.MaxSIOp, args: PythonValues):
        width = _bitwidth(interpreter, op.result.type)
        return (max(to_signed(args[0], width), to_signed(args[1], width)),)

    @impl(arith.MinSIOp)
    def run_minsi(self, interpreter: Interpreter, op: arith.MinSIOp, args: PythonValues):
        width = _bitwidth(interpreter, op.result.type)
        return (min(to_signed(args[0], width), to_signed(args[1], width)),)

    @impl(arith.DivUIOp)
    def run_divui(self, interpreter: Interpreter, op: arith.DivUIOp, args: PythonValues):
        width = _bitwidth(interpreter, op.result.type)
        return (to_signed(to_unsigned(args[0], width) // to_unsigned(args[1], width), width),)

    @impl(arith.RemUIOp)
    def run_remui(self, interpreter: Interpreter, op: arith.RemUIOp, args: PythonValues):
        width = _bitwidth(interpreter, op.result.type)
        return (to_signed(to_unsigned(args[0], width) % to_unsigned(args[1], width), width),)

    @impl(arith.CeilDivSIOp)
    def run_ceildivsi(self, interpreter: Interpreter, op: arith.CeilDivSIOp, args: PythonValues):
        width = _bitwidth(interpreter, op.result.type)
        return (to_signed(-(-to_signed(args[0], width) // to_signed(args[1], width)), width),)

    @impl(arith.DivfOp)
    def run_divf(self, interpreter: Interpreter, op: arith.DivfOp, args: PythonValues):
        lhs, rhs = args
        with np.errstate(divide="ignore", invalid="ignore"):
            quotient = np.float64(lhs) / np.float64(rhs)
        return (_float(quotient, op.result.type),)

    @impl(arith.NegfOp)
    def run_negf(self, interpreter: Interpreter, op: arith.NegfOp, args: PythonValues):
        return (-args[0],)

    @impl(arith.SIToFPOp)
    def run_sitofp(self, interpreter: Interpreter, op: arith.SIToFPOp, args: PythonValues):
        width = _bitwidth(interpreter, op.input.type)
        return (_float(to_signed(args[0], width), op.result.type),)

    @impl(arith.UIToFPOp)
    def run_uitofp(self, interpreter: Interpreter, op: arith.UIToFPOp, args: PythonValues):
        width = _bitwidth(interpreter, op.input.type)
        return (_float(to_unsigned(args[0], width), op.result.type),)

    @impl(memref.AllocaOp)
    def run_alloca(self, interpreter: Interpreter, op: memref.AllocaOp, args: PythonValues):
        shape = _static_shape(op.memref.type, args)
        return (_zeros(op.memref.type, shape, interpreter.index_bitwidth),)

    @impl(memref.ViewOp)
    def run_view(self, interpreter: Interpreter, op: memref.ViewOp, args: PythonValues):
        source, byte_shift, *sizes = args
        result_type = op.result.type
        shape = _static_shape(result_type, sizes)
        xtype = xtype_for_el_type(result_type.get_element_type(), interpreter.index_bitwidth)
        raw = source.data_ptr.raw + byte_shift
        end = raw.offset + int(np.prod(shape)) * xtype.compile_time_size
        if byte_shift < 0 or end > len(raw.memory):
            raise InterpretationError(
                f"memref.view: bytes {raw.offset}..{end} are outside the {len(raw.memory)}-byte source"
            )
        return (ShapedArray(TypedPtr(raw, xtype=xtype), shape),)

    @impl(memref.CopyOp)
    def run_copy(self, interpreter: Interpreter, op: memref.CopyOp, args: PythonValues):
        source, destination = args
        _write(destination, _read(source))
        return ()


@register_impls
class GlobalMemRefFunctions(MemRefFunctions):
    """xDSL's memref functions, with one buffer per global (uninitialised ones are zeros)."""

    @impl(memref.GetGlobalOp)
    def run_get_global(self, interpreter: Interpreter, op: memref.GetGlobalOp, args: PythonValues):
        buffers: dict[str, ShapedArray[Any]] = interpreter.get_data(GlobalMemRefFunctions, "globals", dict)
        name = op.name_.string_value()
        if name not in buffers:
            buffers[name] = self._new_global(interpreter, op)
        return (buffers[name],)

    def _new_global(self, interpreter: Interpreter, op: memref.GetGlobalOp) -> ShapedArray[Any]:
        global_op = SymbolTable.lookup_symbol(op, op.name_)
        if not isinstance(global_op, memref.GlobalOp):
            raise InterpretationError(f"@{op.name_.string_value()} is not a memref.global")
        initial = global_op.initial_value
        if not isinstance(initial, DenseIntOrFPElementsAttr):
            return _zeros(global_op.type, list(global_op.type.get_shape()), interpreter.index_bitwidth)
        xtype = xtype_for_el_type(initial.get_element_type(), interpreter.index_bitwidth)
        return ShapedArray(TypedPtr.new(initial.get_values(), xtype=xtype), list(initial.get_shape()))


# endregion
# region nn


def _pair(values) -> tuple[int, ...]:
    return tuple(values.get_values())


@register_impls
class NNFunctions(InterpreterFunctions):
    """nn layers, computed by `small_ir.reference`; every op returns nothing and writes `output`."""

    @impl(nn.Conv2dOp)
    def run_conv2d(self, interpreter: Interpreter, op: nn.Conv2dOp, args: PythonValues):
        x, weight, *bias, output = args
        result = reference.conv2d(
            _read(x),
            _read(weight),
            _read(bias[0]) if bias else None,
            strides=_pair(op.strides),
            pads=_pair(op.pads),
            dilations=_pair(op.dilations),
            group=op.group.value.data,
        )
        _write(output, result)
        return ()

    @impl(nn.MaxPool2dOp)
    def run_max_pool2d(self, interpreter: Interpreter, op: nn.MaxPool2dOp, args: PythonValues):
        x, output = args
        result = reference.max_pool2d(
            _read(x),
            kernel_shape=_pair(op.kernel_shape),
            strides=_pair(op.strides),
            pads=_pair(op.pads),
            dilations=_pair(op.dilations),
        )
        _write(output, result)
        return ()

    @impl(nn.AvgPool2dOp)
    def run_avg_pool2d(self, interpreter: Interpreter, op: nn.AvgPool2dOp, args: PythonValues):
        x, output = args
        result = reference.avg_pool2d(
            _read(x),
            kernel_shape=_pair(op.kernel_shape),
            strides=_pair(op.strides),
            pads=_pair(op.pads),
            count_include_pad=bool(op.count_include_pad.value.data),
        )
        _write(output, result)
        return ()

    @impl(nn.GlobalAvgPoolOp)
    def run_global_avg_pool(self, interpreter: Interpreter, op: nn.GlobalAvgPoolOp, args: PythonValues):
        x, output = args
        _write(output, reference.global_avg_pool(_read(x)))
        return ()

    @impl(nn.DenseOp)
    def run_dense(self, interpreter: Interpreter, op: nn.DenseOp, args: PythonValues):
        x, weight, *bias, output = args
        _write(output, reference.dense(_read(x), _read(weight), _read(bias[0]) if bias else None))
        return ()

    @impl(nn.AddOp)
    def run_add(self, interpreter: Interpreter, op: nn.AddOp, args: PythonValues):
        return _apply(args, reference.add)

    @impl(nn.SubOp)
    def run_sub(self, interpreter: Interpreter, op: nn.SubOp, args: PythonValues):
        return _apply(args, reference.sub)

    @impl(nn.SigmoidOp)
    def run_sigmoid(self, interpreter: Interpreter, op: nn.SigmoidOp, args: PythonValues):
        return _apply(args, reference.sigmoid)

    @impl(nn.MulOp)
    def run_mul(self, interpreter: Interpreter, op: nn.MulOp, args: PythonValues):
        return _apply(args, reference.mul)

    @impl(nn.ReluOp)
    def run_relu(self, interpreter: Interpreter, op: nn.ReluOp, args: PythonValues):
        return _apply(args, reference.relu)

    @impl(nn.ClipOp)
    def run_clip(self, interpreter: Interpreter, op: nn.ClipOp, args: PythonValues):
        return _apply(args, reference.clip, min=op.min.value.data, max=op.max.value.data)

    @impl(nn.LeakyReluOp)
    def run_leaky_relu(self, interpreter: Interpreter, op: nn.LeakyReluOp, args: PythonValues):
        return _apply(args, reference.leaky_relu, alpha=op.alpha.value.data)

    @impl(nn.SoftmaxOp)
    def run_softmax(self, interpreter: Interpreter, op: nn.SoftmaxOp, args: PythonValues):
        return _apply(args, reference.softmax, axis=op.axis.value.data)

    @impl(nn.ReshapeOp)
    def run_reshape(self, interpreter: Interpreter, op: nn.ReshapeOp, args: PythonValues):
        x, output = args
        _write(output, reference.reshape(_read(x), shape=output.shape))
        return ()

    @impl(nn.ConcatOp)
    def run_concat(self, interpreter: Interpreter, op: nn.ConcatOp, args: PythonValues):
        *xs, output = args
        _write(output, reference.concat(*(_read(x) for x in xs), axis=op.axis.value.data))
        return ()


# endregion
# region small


def _apply(args: PythonValues, function, **attributes) -> PythonValues:
    """Writes function(*inputs, **attributes) into the output, the last of `args` (destination passing)."""
    *inputs, output = args
    _write(output, function(*(_read(x) for x in inputs), **attributes))
    return ()


def read_activation(array: ShapedArray[Any], activation: Activation) -> np.ndarray:
    """The 1 x C x H x W contents of a plain or blocked activation memref."""
    data = _read(array)
    c, h, w = activation.channels, activation.height, activation.width
    if activation.nhwc:
        return data.reshape(1, h, w, c).transpose(0, 3, 1, 2)
    if not activation.block:
        return data.reshape(1, c, h, w)
    blocks = data.transpose(0, 3, 1, 2).reshape(-1, h, w)
    return blocks[:c][None]


def write_activation(array: ShapedArray[Any], activation: Activation, value: np.ndarray) -> None:
    """Stores 1 x C x H x W data into a plain or blocked memref; padding channels become zeros."""
    c, h, w, block = activation.channels, activation.height, activation.width, activation.block
    if value.shape != (1, c, h, w):
        raise InterpretationError(f"a result of shape {value.shape} does not fit the activation {activation}")
    if activation.nhwc:
        _write(array, value.transpose(0, 2, 3, 1))
        return
    if not block:
        _write(array, value.reshape(numpy_view(array).shape))
        return
    padded = np.zeros((ceil_div(c, block) * block, h, w), np.float32)
    padded[:c] = value[0]
    _write(array, padded.reshape(-1, block, h, w).transpose(0, 2, 3, 1))


def unpack_weights(op: small.LayerOp, weights: np.ndarray) -> np.ndarray:
    """conv and dwconv weights as reference.conv2d takes them: K x F_c x Fh x Fw, or C x 1 x Fh x Fw."""
    if not op.block:
        return weights
    k, f_c = op.out_channels, op.in_channels
    fh, fw = _pair(op.filter)
    if op.kind.data == "conv":
        # [kb][cb][h][w][ci][co] -> [kb][co][cb][ci][h][w]
        return weights.transpose(0, 5, 1, 4, 2, 3).reshape(-1, weights.shape[1] * weights.shape[4], fh, fw)[:k, :f_c]
    # [cb][h][w][c] -> [cb][c][h][w]
    return weights.transpose(0, 3, 1, 2).reshape(-1, 1, fh, fw)[:k]


def _window_layer(op: small.LayerOp, x: np.ndarray, weights: np.ndarray | None, bias: np.ndarray | None) -> np.ndarray:
    """The layer's kind applied to the 1 x C x H x W input, before the epilogue."""
    kind = op.kind.data
    window = {"strides": _pair(op.strides), "pads": _pair(op.pads)}
    if kind == "conv":
        return reference.conv2d(x, weights, bias, dilations=_pair(op.dilations), **window)
    if kind == "dwconv":
        return reference.conv2d(x, weights, bias, dilations=_pair(op.dilations), group=x.shape[1], **window)
    if kind == "max":
        return reference.max_pool2d(x, kernel_shape=_pair(op.filter), dilations=_pair(op.dilations), **window)
    if kind == "avg":
        if _pair(op.dilations) != (1, 1):
            raise InterpretationError("small.layer avg: dilated average pooling is not defined")
        include_pad = op.count_include_pad is not None
        return reference.avg_pool2d(x, kernel_shape=_pair(op.filter), count_include_pad=include_pad, **window)
    if _pair(op.filter) != (1, 1):
        raise InterpretationError(f"small.layer copy: the window must be 1x1, got {_pair(op.filter)}")
    # A 1x1 identity window: strides subsample, padding reads zeros.
    identity = np.ones((x.shape[1], 1, 1, 1), np.float32)
    return reference.conv2d(x, identity, dilations=_pair(op.dilations), group=x.shape[1], **window)


def _epilogue(op: small.LayerOp, y: np.ndarray, other: np.ndarray | None) -> np.ndarray:
    if other is not None:
        assert op.combine is not None
        y = {"add": reference.add, "sub": reference.sub, "mul": reference.mul}[op.combine.data](y, other)
    if op.clamp_bounds is not None:
        low, high = (np.float32(bound) for bound in op.clamp_bounds)
        y = np.minimum(np.maximum(y, low), high)
    if op.leaky is not None:
        y = reference.leaky_relu(y, alpha=op.leaky.value.data)
    if op.sigmoid is not None:
        y = reference.sigmoid(y)
    return y


@register_impls
class SmallFunctions(InterpreterFunctions):
    """small ops on plain or blocked memrefs, computed by `small_ir.reference`."""

    @impl(small.LayerOp)
    def run_layer(self, interpreter: Interpreter, op: small.LayerOp, args: PythonValues):
        arrays: dict[SSAValue, ShapedArray[Any]] = dict(zip(op.operands, args))
        x = read_activation(arrays[op.input], op.input_activation())
        weights = bias = other = None
        if op.weights is not None:
            weights = unpack_weights(op, _read(arrays[op.weights]))
        if op.bias is not None:
            bias = _read(arrays[op.bias]).reshape(-1)[: op.out_channels]
        if op.other is not None:
            other = read_activation(arrays[op.other], op.output_activation())
        y = _epilogue(op, _window_layer(op, x, weights, bias), other)
        write_activation(arrays[op.output], op.output_activation(), y)
        return ()

    @impl(small.ConvertOp)
    def run_convert(self, interpreter: Interpreter, op: small.ConvertOp, args: PythonValues):
        x, output = args
        source, destination = op.source(), op.destination()
        data = read_activation(x, source)
        shape = (1, destination.channels, destination.height, destination.width)
        write_activation(output, destination, data.reshape(shape))
        return ()

    @impl(small.SoftmaxOp)
    def run_softmax(self, interpreter: Interpreter, op: small.SoftmaxOp, args: PythonValues):
        x, output = args
        activation = activation_of(op.input, op.channels.value.data, op.c_ob.value.data)
        write_activation(output, activation, reference.softmax(read_activation(x, activation), axis=1))
        return ()

    @impl(small.ConcatOp)
    def run_concat(self, interpreter: Interpreter, op: small.ConcatOp, args: PythonValues):
        *xs, output = args
        parts = [read_activation(x, part) for x, part in zip(xs, op.parts())]
        activation = activation_of(op.output, sum(_pair(op.channels)), op.c_ob.value.data)
        write_activation(output, activation, reference.concat(*parts, axis=1))
        return ()


# endregion
# region kernel


def _window(
    op: Operation,
    array: ShapedArray[Any],
    indices: PythonValues,
    *,
    pixels: int = 1,
    stride: int = 0,
    lanes: int = 1,
    across_rows: bool = False,
) -> tuple[np.ndarray, ...]:
    """
    The numpy index of a pixels x lanes window of `array` at `indices`: pixel p
    sits `p * stride` further along dimension rank - 2, lane c `c` further along
    the last dimension. With `across_rows` (the pixels of a tile), a W index
    past the end of a row continues on the next rows of dimension rank - 3.
    Raises if any element lies outside the memref, or a W index is negative.
    """
    shape = array.shape
    if pixels > 1 and len(shape) < 2:
        raise InterpretationError(f"{op.name}: {pixels} pixels need a memref of rank >= 2, got shape {shape}")
    offsets = [np.zeros((1, 1), int) for _ in shape]
    offsets[-1] = np.arange(lanes)[None, :]
    if pixels > 1:
        offsets[-2] = stride * np.arange(pixels)[:, None]
    index = list(start + offset for start, offset in zip(indices, offsets))
    if across_rows and len(shape) >= 3 and index[-2].min() >= 0:  # see the kernel dialect
        index[-3], index[-2] = index[-3] + index[-2] // shape[-2], index[-2] % shape[-2]
    index = tuple(index)
    for dim, (size, positions) in enumerate(zip(shape, index)):
        if positions.min() < 0 or positions.max() >= size:
            raise InterpretationError(
                f"{op.name}: indices {list(indices)} reach {positions.min()}..{positions.max()} "
                f"in dimension {dim} of a memref of shape {shape}"
            )
    return index


def _tile_window(op: kernel._TileAccessOp, tile: np.ndarray, array: ShapedArray[Any], indices: PythonValues):
    pixels, lanes = tile.shape
    return _window(op, array, indices, pixels=pixels, stride=op.pixel_stride.value.data, lanes=lanes, across_rows=True)


@register_impls
class KernelFunctions(InterpreterFunctions):
    """kernel ops; a tile is a float32 numpy array of shape (pixels, lanes), updated in place."""

    @impl(kernel.TileOp)
    def run_tile(self, interpreter: Interpreter, op: kernel.TileOp, args: PythonValues):
        return (np.zeros((op.tile.type.pixels.data, op.tile.type.lanes.data), np.float32),)

    @impl(kernel.FillOp)
    def run_fill(self, interpreter: Interpreter, op: kernel.FillOp, args: PythonValues):
        (tile,) = args
        tile[...] = np.float32(op.value.value.data)
        return ()

    @impl(kernel.BroadcastOp)
    def run_broadcast(self, interpreter: Interpreter, op: kernel.BroadcastOp, args: PythonValues):
        tile, array, *indices = args
        tile[...] = numpy_view(array)[_window(op, array, indices, lanes=tile.shape[1])]
        return ()

    @impl(kernel.LoadOp)
    def run_load(self, interpreter: Interpreter, op: kernel.LoadOp, args: PythonValues):
        tile, array, *indices = args
        tile[...] = numpy_view(array)[_tile_window(op, tile, array, indices)]
        return ()

    @impl(kernel.StoreOp)
    def run_store(self, interpreter: Interpreter, op: kernel.StoreOp, args: PythonValues):
        tile, array, *indices = args
        numpy_view(array)[_tile_window(op, tile, array, indices)] = tile
        return ()

    @impl(kernel.MaxOp)
    def run_max(self, interpreter: Interpreter, op: kernel.MaxOp, args: PythonValues):
        tile, array, *indices = args
        np.maximum(tile, numpy_view(array)[_tile_window(op, tile, array, indices)], out=tile)
        return ()

    @impl(kernel.AddOp)
    def run_add(self, interpreter: Interpreter, op: kernel.AddOp, args: PythonValues):
        tile, array, *indices = args
        tile += numpy_view(array)[_tile_window(op, tile, array, indices)]
        return ()

    @impl(kernel.SubOp)
    def run_sub(self, interpreter: Interpreter, op: kernel.SubOp, args: PythonValues):
        tile, array, *indices = args
        tile -= numpy_view(array)[_tile_window(op, tile, array, indices)]
        return ()

    @impl(kernel.CopyTileOp)
    def run_copy_tile(self, interpreter: Interpreter, op: kernel.CopyTileOp, args: PythonValues):
        destination, source = args
        destination[...] = np.float32(op.scale.value.data) * source
        return ()

    @impl(kernel.AddTileOp)
    def run_add_tile(self, interpreter: Interpreter, op: kernel.AddTileOp, args: PythonValues):
        destination, source = args
        destination += np.float32(op.scale.value.data) * source
        return ()

    @impl(kernel.SigmoidOp)
    def run_sigmoid(self, interpreter: Interpreter, op: kernel.SigmoidOp, args: PythonValues):
        (tile,) = args
        tile[...] = np.float32(1) / (np.float32(1) + np.exp(-tile))
        return ()

    @impl(kernel.MulOp)
    def run_mul(self, interpreter: Interpreter, op: kernel.MulOp, args: PythonValues):
        tile, array, *indices = args
        tile *= numpy_view(array)[_tile_window(op, tile, array, indices)]
        return ()

    @impl(kernel.FmaOp)
    def run_fma(self, interpreter: Interpreter, op: kernel.FmaOp, args: PythonValues):
        tile, x, w, x_indices, w_indices = _product_operands(op, args)
        pixels, lanes = tile.shape
        stride = op.pixel_stride.value.data
        column = numpy_view(x)[_window(op, x, x_indices, pixels=pixels, stride=stride, across_rows=True)]
        row = numpy_view(w)[_window(op, w, w_indices, lanes=lanes)]
        tile += column * row
        return ()

    @impl(kernel.LaneFmaOp)
    def run_lane_fma(self, interpreter: Interpreter, op: kernel.LaneFmaOp, args: PythonValues):
        tile, x, w, x_indices, w_indices = _product_operands(op, args)
        pixels, lanes = tile.shape
        stride = op.pixel_stride.value.data
        window = numpy_view(x)[_window(op, x, x_indices, pixels=pixels, stride=stride, lanes=lanes, across_rows=True)]
        row = numpy_view(w)[_window(op, w, w_indices, lanes=lanes)]
        tile += window * row
        return ()

    @impl(kernel.ScaleOp)
    def run_scale(self, interpreter: Interpreter, op: kernel.ScaleOp, args: PythonValues):
        tile, factor = args
        tile *= np.float32(factor)
        return ()

    @impl(kernel.ClampOp)
    def run_clamp(self, interpreter: Interpreter, op: kernel.ClampOp, args: PythonValues):
        (tile,) = args
        np.maximum(tile, np.float32(op.min.value.data), out=tile)
        np.minimum(tile, np.float32(op.max.value.data), out=tile)
        return ()

    @impl(kernel.LeakyOp)
    def run_leaky(self, interpreter: Interpreter, op: kernel.LeakyOp, args: PythonValues):
        (tile,) = args
        tile[...] = np.where(tile >= 0, tile, np.float32(op.alpha.value.data) * tile)
        return ()


def _product_operands(op: kernel.FmaOp | kernel.LaneFmaOp, args: PythonValues):
    """(tile, input, weights, input indices, weight indices) of a kernel.fma or kernel.lane_fma."""
    tile, x, *rest = args
    rank = len(x.shape)
    x_indices, (w, *w_indices) = rest[:rank], rest[rank:]
    return tile, x, w, tuple(x_indices), tuple(w_indices)


# endregion


def make_interpreter(module: ModuleOp) -> Interpreter:
    """An interpreter for `module` that runs builtin, arith, memref, scf, func, math and small-ir's ops."""
    interpreter = Interpreter(module)
    for functions in (
        BuiltinFunctions(),
        ArithFunctions(),
        GlobalMemRefFunctions(),
        ScfFunctions(),
        FuncFunctions(),
        MathFunctions(),
        StdFunctions(),
        NNFunctions(),
        SmallFunctions(),
        KernelFunctions(),
    ):
        interpreter.register_implementations(functions)
    return interpreter
