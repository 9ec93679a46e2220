"""
small-winograd: marks the blocked 3x3 convs that small-tile should compute
as Winograd (see small_ir/winograd.py), with the output tile size m as the
mark. Stride 1: 4, F(4x4, 3x3) (4x fewer multiplications), when the layer
has at least `min_tiles` 4x4 output tiles to multiply at once and they need
fewer multiplications than 2x2 ones (the border cuts tiles off), else 2,
F(2x2, 3x3) (2.25x fewer). Stride 2, with `max_stride=2`: 4, F(4x4, 2x2) on
the four phases of the input (1.44x fewer), when the layer has at least
`min_tiles` 4x4 output tiles, else none; its filters grow 11x (25 positions
x 4 phases against 9 taps), so it is off by default. The multiplications
are paid for with the input and output transforms and with arena buffers,
so it pays off once both channel counts are large.

    small.layer "conv" %x ... {filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, ...}
    =>  small.layer "conv" %x ... {filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, ..., winograd = 4 : i64}
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from small_ir import winograd
from small_ir.dialects import small
from small_ir.dialects.small import ceil_div


@dataclass(frozen=True)
class SmallWinograd(ModulePass):
    name = "small-winograd"

    min_channels: int = winograd.MIN_CHANNELS
    """Only layers with at least this many input and output channels."""

    max_tile: int = 4
    """The largest output tile m: 4, or 2 for F(2x2, 3x3) only."""

    max_stride: int = 1
    """2: stride-2 convs too (F(4x4, 2x2) on the phases of the input)."""

    min_tiles: int = 4
    """
    A tile m only for layers with at least this many m x m output tiles: the
    matrix products multiply them at once, one FMA chain per tile and vector
    of C_ob, and 4 chains keep an FMA unit with a latency of 4 busy.
    """

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.min_channels < 1:
            raise PassFailedException(f"small-winograd: min_channels must be >= 1, got {self.min_channels}")
        if self.max_stride not in (1, 2):
            raise PassFailedException(f"small-winograd: max_stride must be 1 or 2, got {self.max_stride}")
        if self.min_tiles < 1:
            raise PassFailedException(f"small-winograd: min_tiles must be >= 1, got {self.min_tiles}")
        if self.max_tile not in winograd.TRANSFORMS:
            raise PassFailedException(
                f"small-winograd: max_tile must be one of {', '.join(map(str, winograd.TRANSFORMS))}, got {self.max_tile}"
            )
        for layer in op.walk():
            if isinstance(layer, small.LayerOp) and self.worth_it(layer) and (tile := self.tile(layer)):
                layer.winograd = IntegerAttr(tile, i64)

    def worth_it(self, layer: small.LayerOp) -> bool:
        return (
            layer.winograd_applies()
            and layer.strides.get_values()[0] <= self.max_stride
            and min(layer.in_channels, layer.out_channels) >= self.min_channels
        )

    def tile(self, layer: small.LayerOp) -> int | None:
        """
        Of the tiles of which the layer has at least `min_tiles`, the one with
        the fewest multiplications (tiles cut off by the border count whole),
        the smaller on a tie; else the smallest tile of a stride-1 conv, and
        none (a direct conv) of a stride-2 one.
        """
        out_h, out_w = layer.out_hw
        transforms = layer.winograd_transforms()

        def tiles(m: int) -> int:
            return ceil_div(out_h, m) * ceil_div(out_w, m)

        fitting = [m for m in transforms if m <= self.max_tile and tiles(m) >= self.min_tiles]
        multiplications = {m: tiles(m) * transforms[m].positions * transforms[m].phases for m in fitting}
        fallback = min(transforms) if layer.strides.get_values()[0] == 1 else None
        return min(fitting, key=lambda m: (multiplications[m], m), default=fallback)
