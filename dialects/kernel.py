"""
The `kernel` dialect: SMaLL's microkernel, ISA-neutral.

A `!kernel.tile<P x L x f32>` is a register tile of P output pixels by L
channel lanes (W_ob x C_ob). It is mutable state, like a small memref that
lives in registers: `kernel.tile` declares one and every other op reads or
updates it in place. Memory operands use the shared blocked layout
`[C / Cb][H][W][Cb]`: the indices address the tile's first pixel and first
lane; pixel `p` sits `p * pixel_stride` elements further along the W
dimension (rank - 2), lanes run along the last dimension. Rows are
contiguous, so pixels (and the first pixel's W index) past the end of a row
continue on the next row: a 1x1 layer tiles H x W as one flat row of pixels.

The four phases of a microkernel, in IR:

    %t = kernel.tile : !kernel.tile<6x16xf32>
    kernel.broadcast %t, %bias[%kb, %c0] : !kernel.tile<6x16xf32>, memref<4x16xf32>
    kernel.fma %t, %x[%cb, %ih, %iw, %ci] pixel_stride 2, %w[%kb, %cb, %kh, %kw, %ci, %c0] : ...
    kernel.clamp %t {min = 0.0 : f32, max = 6.0 : f32} : !kernel.tile<6x16xf32>
    kernel.store %t, %y[%kb, %oh, %ow, %c0] pixel_stride 1 : ...

Backends (backends/*.py) lower these ops to scalar C or intrinsics.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    AnyFloat,
    Float32Type,
    FloatAttr,
    IndexType,
    IntAttr,
    IntegerAttr,
    MemRefType,
    f32,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    var_operand_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException


@irdl_attr_definition
class TileType(ParametrizedAttribute, TypeAttribute):
    """A W_ob x C_ob register tile: `!kernel.tile<6x16xf32>`."""

    name = "kernel.tile"

    pixels: IntAttr
    lanes: IntAttr
    element_type: Attribute

    def __init__(self, pixels: int, lanes: int, element_type: Attribute = f32):
        super().__init__(IntAttr(pixels), IntAttr(lanes), element_type)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            shape, element_type = parser.parse_ranked_shape()
        if len(shape) != 2:
            parser.raise_error("kernel.tile takes two dimensions: pixels x lanes")
        return [IntAttr(shape[0]), IntAttr(shape[1]), element_type]

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string(f"{self.pixels.data}x{self.lanes.data}x")
            printer.print_attribute(self.element_type)

    def verify(self) -> None:
        if self.pixels.data < 1 or self.lanes.data < 1:
            raise VerifyException("kernel.tile needs at least one pixel and one lane")


PIXEL_STRIDE_FORMAT = "`pixel_stride` $pixel_stride"


def _check_access(op: Operation, memref: SSAValue, indices: Sequence[SSAValue], min_rank: int = 2) -> None:
    memref_type = memref.type
    assert isinstance(memref_type, MemRefType)
    rank = memref_type.get_num_dims()
    if len(indices) != rank:
        raise VerifyException(f"{op.name}: {len(indices)} indices for a memref of rank {rank}")
    if rank < min_rank:
        raise VerifyException(f"{op.name}: needs a memref of rank >= {min_rank} (pixels along rank - 2, lanes along the last)")
    tile_type = op.operands[0].type
    assert isinstance(tile_type, TileType)
    if memref_type.get_element_type() != tile_type.element_type:
        raise VerifyException(f"{op.name}: memref elements {memref_type.get_element_type()} differ from the tile's {tile_type.element_type}")


def _check_pixel_stride(op: Operation, pixel_stride: IntegerAttr) -> None:
    if pixel_stride.value.data < 1:
        raise VerifyException(f"{op.name}: pixel_stride must be >= 1, got {pixel_stride.value.data}")


@irdl_op_definition
class TileOp(IRDLOperation):
    """
    Declares a register tile.

        %t = kernel.tile : !kernel.tile<6x16xf32>
    """

    name = "kernel.tile"
    tile = result_def(TileType)
    assembly_format = "attr-dict `:` type($tile)"

    def __init__(self, pixels: int, lanes: int):
        super().__init__(result_types=[TileType(pixels, lanes)])


@irdl_op_definition
class FillOp(IRDLOperation):
    """
    Sets every element of the tile to a constant (0 for sums, -inf for max).

        kernel.fill %t {value = 0.0 : f32} : !kernel.tile<6x16xf32>
    """

    name = "kernel.fill"
    tile = operand_def(TileType)
    value = prop_def(FloatAttr)
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$tile attr-dict `:` type($tile)"

    def __init__(self, tile: SSAValue, value: float):
        super().__init__(operands=[tile], properties={"value": FloatAttr(value, f32)})


class _TileAccessOp(IRDLOperation):
    """A tile op that reads or writes W_ob pixels x C_ob lanes of one memref."""

    tile = operand_def(TileType)
    memref = operand_def(MemRefType)
    indices = var_operand_def(IndexType)
    pixel_stride = prop_def(IntegerAttr[i64])
    assembly_format = (
        "$tile `,` $memref `[` $indices `]` " + PIXEL_STRIDE_FORMAT + " attr-dict "
        "`:` type($tile) `,` type($memref)"
    )

    def __init__(
        self, tile: SSAValue, memref: SSAValue, indices: Sequence[SSAValue], pixel_stride: int = 1
    ):
        super().__init__(
            operands=[tile, memref, indices],
            properties={"pixel_stride": IntegerAttr(pixel_stride, i64)},
        )

    def verify_(self) -> None:
        _check_pixel_stride(self, self.pixel_stride)
        _check_access(self, self.memref, self.indices)


@irdl_op_definition
class LoadOp(_TileAccessOp):
    """
    tile[p, c] = memref[..., w + p * pixel_stride, l + c]

        kernel.load %t, %x[%cb, %h, %w, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<2x8x8x16xf32>
    """

    name = "kernel.load"


@irdl_op_definition
class StoreOp(_TileAccessOp):
    """
    memref[..., w + p * pixel_stride, l + c] = tile[p, c]

        kernel.store %t, %y[%kb, %h, %w, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<2x8x8x16xf32>
    """

    name = "kernel.store"


@irdl_op_definition
class MaxOp(_TileAccessOp):
    """
    tile[p, c] = max(tile[p, c], memref[..., w + p * pixel_stride, l + c])

        kernel.max %t, %x[%cb, %h, %w, %c0] pixel_stride 2 : !kernel.tile<6x16xf32>, memref<2x8x8x16xf32>
    """

    name = "kernel.max"


@irdl_op_definition
class AddOp(_TileAccessOp):
    """
    tile[p, c] += memref[..., w + p * pixel_stride, l + c]

        kernel.add %t, %x[%cb, %h, %w, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<2x8x8x16xf32>
    """

    name = "kernel.add"


@irdl_op_definition
class SubOp(_TileAccessOp):
    """
    tile[p, c] -= memref[..., w + p * pixel_stride, l + c]

        kernel.sub %t, %x[%cb, %h, %w, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<2x8x8x16xf32>
    """

    name = "kernel.sub"


@irdl_op_definition
class MulOp(_TileAccessOp):
    """
    tile[p, c] *= memref[..., w + p * pixel_stride, l + c]

        kernel.mul %t, %x[%cb, %h, %w, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<2x8x8x16xf32>
    """

    name = "kernel.mul"


@irdl_op_definition
class BroadcastOp(IRDLOperation):
    """
    tile[p, c] = memref[..., l + c] for every pixel p (bias initialisation).

        kernel.broadcast %t, %bias[%kb, %c0] : !kernel.tile<6x16xf32>, memref<4x16xf32>
    """

    name = "kernel.broadcast"
    tile = operand_def(TileType)
    memref = operand_def(MemRefType)
    indices = var_operand_def(IndexType)
    assembly_format = "$tile `,` $memref `[` $indices `]` attr-dict `:` type($tile) `,` type($memref)"

    def __init__(self, tile: SSAValue, memref: SSAValue, indices: Sequence[SSAValue]):
        super().__init__(operands=[tile, memref, indices])

    def verify_(self) -> None:
        _check_access(self, self.memref, self.indices, min_rank=1)


class _TileProductOp(IRDLOperation):
    """A tile op that accumulates products of an input window and weights."""

    tile = operand_def(TileType)
    input = operand_def(MemRefType)
    input_indices = var_operand_def(IndexType)
    weights = operand_def(MemRefType)
    weight_indices = var_operand_def(IndexType)
    pixel_stride = prop_def(IntegerAttr[i64])
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    assembly_format = (
        "$tile `,` $input `[` $input_indices `]` " + PIXEL_STRIDE_FORMAT + " `,` "
        "$weights `[` $weight_indices `]` attr-dict "
        "`:` type($tile) `,` type($input) `,` type($weights)"
    )

    def __init__(
        self,
        tile: SSAValue,
        input: SSAValue,
        input_indices: Sequence[SSAValue],
        weights: SSAValue,
        weight_indices: Sequence[SSAValue],
        pixel_stride: int = 1,
    ):
        super().__init__(
            operands=[tile, input, input_indices, weights, weight_indices],
            properties={"pixel_stride": IntegerAttr(pixel_stride, i64)},
        )

    def verify_(self) -> None:
        _check_pixel_stride(self, self.pixel_stride)
        _check_access(self, self.input, self.input_indices)
        _check_access(self, self.weights, self.weight_indices, min_rank=1)


@irdl_op_definition
class FmaOp(_TileProductOp):
    """
    Rank-1 update (conv): broadcast one input channel of each pixel against
    C_ob weights.  tile[p, c] += input[..., w + p * pixel_stride, l] * weights[..., m + c]

        kernel.fma %t, %x[%cb, %h, %w, %ci] pixel_stride 1, %wt[%kb, %cb, %kh, %kw, %ci, %c0]
            : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>, memref<2x1x3x3x16x16xf32>
    """

    name = "kernel.fma"


@irdl_op_definition
class LaneFmaOp(_TileProductOp):
    """
    Lane-wise multiply-accumulate (depthwise conv).
    tile[p, c] += input[..., w + p * pixel_stride, l + c] * weights[..., m + c]

        kernel.lane_fma %t, %x[%cb, %h, %w, %c0] pixel_stride 1, %wt[%cb, %kh, %kw, %c0]
            : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>, memref<1x3x3x16xf32>
    """

    name = "kernel.lane_fma"


@irdl_op_definition
class ScaleOp(IRDLOperation):
    """
    tile[p, c] *= factor (average pooling).

        kernel.scale %t, %factor : !kernel.tile<6x16xf32>
    """

    name = "kernel.scale"
    tile = operand_def(TileType)
    factor = operand_def(Float32Type)
    assembly_format = "$tile `,` $factor attr-dict `:` type($tile)"

    def __init__(self, tile: SSAValue, factor: SSAValue):
        super().__init__(operands=[tile, factor])


@irdl_op_definition
class ClampOp(IRDLOperation):
    """
    tile = min(max(tile, min), max): relu is clamp(0, inf), relu6 clamp(0, 6).

        kernel.clamp %t {min = 0.0 : f32, max = 6.0 : f32} : !kernel.tile<6x16xf32>
    """

    name = "kernel.clamp"
    tile = operand_def(TileType)
    min = prop_def(FloatAttr[AnyFloat])
    max = prop_def(FloatAttr[AnyFloat])
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$tile attr-dict `:` type($tile)"

    def __init__(self, tile: SSAValue, min: float, max: float):
        super().__init__(
            operands=[tile], properties={"min": FloatAttr(min, f32), "max": FloatAttr(max, f32)}
        )


@irdl_op_definition
class LeakyOp(IRDLOperation):
    """
    tile = tile if tile >= 0 else alpha * tile.

        kernel.leaky %t {alpha = 0.1 : f32} : !kernel.tile<6x16xf32>
    """

    name = "kernel.leaky"
    tile = operand_def(TileType)
    alpha = prop_def(FloatAttr[AnyFloat])
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$tile attr-dict `:` type($tile)"

    def __init__(self, tile: SSAValue, alpha: float):
        super().__init__(operands=[tile], properties={"alpha": FloatAttr(alpha, f32)})


class _TileTileOp(IRDLOperation):
    """An update of one tile from another of the same type, times a constant."""

    destination = operand_def(TileType)
    source = operand_def(TileType)
    scale = prop_def(FloatAttr[Float32Type], default_value=FloatAttr(1.0, f32))
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$destination `,` $source attr-dict `:` type($destination) `,` type($source)"

    def __init__(self, destination: SSAValue, source: SSAValue, scale: float = 1.0):
        super().__init__(operands=[destination, source], properties={"scale": FloatAttr(scale, f32)})

    def verify_(self) -> None:
        if self.destination.type != self.source.type:
            raise VerifyException(f"{self.name}: tiles {self.destination.type} and {self.source.type} differ")


@irdl_op_definition
class CopyTileOp(_TileTileOp):
    """
    destination = scale * source (a sum of a Winograd transform, see small_ir/winograd.py).

        kernel.copy_tile %t, %u {scale = -2.0 : f32} : !kernel.tile<1x16xf32>, !kernel.tile<1x16xf32>
    """

    name = "kernel.copy_tile"


@irdl_op_definition
class AddTileOp(_TileTileOp):
    """
    destination += scale * source (partial sums of a split reduction; Winograd transforms).

        kernel.add_tile %t, %partial : !kernel.tile<1x16xf32>, !kernel.tile<1x16xf32>
        kernel.add_tile %t, %u {scale = 4.0 : f32} : !kernel.tile<1x16xf32>, !kernel.tile<1x16xf32>
    """

    name = "kernel.add_tile"


@irdl_op_definition
class SigmoidOp(IRDLOperation):
    """
    tile = 1 / (1 + exp(-tile)).

        kernel.sigmoid %t : !kernel.tile<6x16xf32>
    """

    name = "kernel.sigmoid"
    tile = operand_def(TileType)
    assembly_format = "$tile attr-dict `:` type($tile)"

    def __init__(self, tile: SSAValue):
        super().__init__(operands=[tile])


Kernel = Dialect(
    "kernel",
    [
        TileOp,
        FillOp,
        BroadcastOp,
        LoadOp,
        FmaOp,
        LaneFmaOp,
        MaxOp,
        AddOp,
        SubOp,
        MulOp,
        ScaleOp,
        ClampOp,
        LeakyOp,
        SigmoidOp,
        CopyTileOp,
        AddTileOp,
        StoreOp,
    ],
    [TileType],
)
