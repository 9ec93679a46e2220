"""
small-winograd: marks the blocked stride-1 3x3 convs that small-tile should
compute as Winograd F(2x2, 3x3) (see small_ir/winograd.py): 2.25x fewer
multiplications, paid for with adds in the input and output transforms and
with two arena buffers, so it pays off once both channel counts are large.

    small.layer "conv" %x ... {filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, ...}
    =>  small.layer "conv" %x ... {filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, ..., winograd}
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, UnitAttr
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from small_ir import winograd
from small_ir.dialects import small


@dataclass(frozen=True)
class SmallWinograd(ModulePass):
    name = "small-winograd"

    min_channels: int = winograd.MIN_CHANNELS
    """Only layers with at least this many input and output channels."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.min_channels < 1:
            raise PassFailedException(f"small-winograd: min_channels must be >= 1, got {self.min_channels}")
        for layer in op.walk():
            if isinstance(layer, small.LayerOp) and self.worth_it(layer):
                layer.winograd = UnitAttr()

    def worth_it(self, layer: small.LayerOp) -> bool:
        return layer.winograd_applies() and min(layer.in_channels, layer.out_channels) >= self.min_channels
