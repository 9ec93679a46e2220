"""
What every backend shares: the walk that replaces each `kernel` op by the
ISA's code for it. A backend is a subclass of `Microkernel` that says how a
register tile is stored and how each kernel op reads and updates it; the pass
`LowerKernel` does the rest.

Memory accesses arrive as `Access(memref, indices)` addressing the tile's
first pixel and lane; `access.at(loops, pixel_offset, lane_offset)` moves it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from xdsl.context import Context
from xdsl.dialects import arith, math
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr, UnitAttr
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter
from xdsl.utils.exceptions import PassFailedException

from small_ir import winograd
from small_ir.dialects import kernel
from small_ir.loops import Constants, Index, LoopBuilder


@dataclass(frozen=True)
class TargetSpec:
    """What the rest of the compiler needs to know about an ISA."""

    name: str
    c_ob: int
    """Lanes of the register tile: the channel block of the shared layout."""
    w_ob: int
    """Pixels of the register tile."""
    cflags: tuple[str, ...] = ()
    vector_bits: int = 0
    """Width of the ISA's vectors (0: scalar); `--target host` takes the widest the CPU runs."""
    cpu_features: tuple[str, ...] = ()
    """The /proc/cpuinfo flags a host needs to run this target's code natively."""
    platform: str = "host"
    """Where the code runs: host (natively) or a platform of `small_ir.platforms`, under its emulator."""
    isa: str = ""
    """The backend file whose `lower-kernel-to-<isa>` pass lowers the kernel ops (default: the name)."""
    winograd_min_channels: int = winograd.MIN_CHANNELS
    """small-winograd's threshold by default on this target (0: off)."""
    narrow_block: int = 0
    """small-layout's channel block for activations of at most this many channels (0: all take c_ob)."""
    narrow_w_ob: int = 0
    """Pixels of the register tile of a narrow activation (0: w_ob)."""

    @property
    def kernel_pass(self) -> str:
        return f"lower-kernel-to-{self.isa or self.name}"

    @property
    def native(self) -> bool:
        return self.platform == "host"


@dataclass(frozen=True)
class Access:
    memref: SSAValue
    indices: tuple[SSAValue, ...]

    def at(self, loops: LoopBuilder, pixel_offset: int = 0, lane_offset: int = 0) -> list[SSAValue]:
        """Indices moved by `pixel_offset` along W (rank - 2) and `lane_offset` along lanes."""
        indices: list[Index] = list(self.indices)
        if pixel_offset:
            indices[-2] = loops.add(indices[-2], pixel_offset)
        if lane_offset:
            indices[-1] = loops.add(indices[-1], lane_offset)
        return loops.values(indices)


@dataclass(frozen=True)
class Tile:
    """A register tile as the backend stores it."""

    storage: SSAValue
    pixels: int
    lanes: int


class Microkernel(ABC):
    """One ISA's implementation of the kernel ops."""

    includes: tuple[str, ...] = ()
    vector_lanes: int = 1
    """The tile's lanes must be a multiple of this (the ISA's vector width)..."""
    narrow: ClassVar[type[Microkernel] | None] = None
    """...or of the narrower vectors of this ISA, which then lowers that tile (AVX-512's 8-lane tiles go to AVX2)."""

    @classmethod
    def for_lanes(cls, lanes: int) -> type[Microkernel] | None:
        """
        The ISA that lowers a tile of `lanes` lanes: this one, else its narrow
        one (for any multiple of its width, e.g. AVX-512 with c_ob=24 runs as
        AVX2), else None.
        """
        for isa in (cls, cls.narrow):
            if isa is not None and lanes % isa.vector_lanes == 0:
                return isa
        return None

    def __init__(self, loops: LoopBuilder):
        self.loops = loops

    @abstractmethod
    def declare(self, pixels: int, lanes: int) -> SSAValue: ...
    @abstractmethod
    def fill(self, tile: Tile, value: float) -> None: ...
    @abstractmethod
    def broadcast(self, tile: Tile, source: Access) -> None: ...
    @abstractmethod
    def load(self, tile: Tile, source: Access, pixel_stride: int) -> None: ...
    @abstractmethod
    def store(self, tile: Tile, target: Access, pixel_stride: int) -> None: ...
    @abstractmethod
    def fma(self, tile: Tile, input: Access, weights: Access, pixel_stride: int) -> None: ...
    @abstractmethod
    def lane_fma(self, tile: Tile, input: Access, weights: Access, pixel_stride: int) -> None: ...
    @abstractmethod
    def lanewise(self, tile: Tile, operation: str, source: Access, pixel_stride: int) -> None:
        """operation: max | add | sub | mul (tile = tile op source)."""

    @abstractmethod
    def scale(self, tile: Tile, factor: SSAValue) -> None: ...
    @abstractmethod
    def clamp(self, tile: Tile, low: float, high: float) -> None: ...
    @abstractmethod
    def leaky(self, tile: Tile, alpha: float) -> None: ...
    @abstractmethod
    def sigmoid(self, tile: Tile) -> None: ...
    @abstractmethod
    def copy_tile(self, destination: Tile, source: Tile, scale: float) -> None:
        """destination = scale * source."""

    @abstractmethod
    def add_tile(self, destination: Tile, source: Tile, scale: float) -> None:
        """destination += scale * source."""


def scalar_sigmoid(loops: LoopBuilder, x: SSAValue) -> SSAValue:
    """1 / (1 + exp(-x)) on one f32 value."""
    e = loops.insert(math.ExpOp(loops.insert(arith.NegfOp(x)).result)).result
    return loops.insert(arith.DivfOp(loops.f32(1.0), loops.insert(arith.AddfOp(loops.f32(1.0), e)).result)).result


def _access(memref: SSAValue, indices) -> Access:
    return Access(memref, tuple(indices))


def _products(op: kernel.FmaOp | kernel.LaneFmaOp) -> tuple[Access, Access, int]:
    return _access(op.input, op.input_indices), _access(op.weights, op.weight_indices), op.pixel_stride.value.data


def _window(op: kernel.LoadOp | kernel.StoreOp | kernel.MaxOp | kernel.AddOp | kernel.SubOp | kernel.MulOp) -> tuple[Access, int]:
    return _access(op.memref, op.indices), op.pixel_stride.value.data


LOWERINGS: dict[type[Operation], Callable[[Microkernel, Tile, Any], None]] = {
    kernel.FillOp: lambda isa, tile, op: isa.fill(tile, op.value.value.data),
    kernel.BroadcastOp: lambda isa, tile, op: isa.broadcast(tile, _access(op.memref, op.indices)),
    kernel.LoadOp: lambda isa, tile, op: isa.load(tile, *_window(op)),
    kernel.StoreOp: lambda isa, tile, op: isa.store(tile, *_window(op)),
    kernel.FmaOp: lambda isa, tile, op: isa.fma(tile, *_products(op)),
    kernel.LaneFmaOp: lambda isa, tile, op: isa.lane_fma(tile, *_products(op)),
    kernel.MaxOp: lambda isa, tile, op: isa.lanewise(tile, "max", *_window(op)),
    kernel.AddOp: lambda isa, tile, op: isa.lanewise(tile, "add", *_window(op)),
    kernel.SubOp: lambda isa, tile, op: isa.lanewise(tile, "sub", *_window(op)),
    kernel.MulOp: lambda isa, tile, op: isa.lanewise(tile, "mul", *_window(op)),
    kernel.ScaleOp: lambda isa, tile, op: isa.scale(tile, op.factor),
    kernel.ClampOp: lambda isa, tile, op: isa.clamp(tile, op.min.value.data, op.max.value.data),
    kernel.LeakyOp: lambda isa, tile, op: isa.leaky(tile, op.alpha.value.data),
    kernel.SigmoidOp: lambda isa, tile, op: isa.sigmoid(tile),
}


def lower_op(isa: Microkernel, op: Operation, tiles: dict[SSAValue, Tile]) -> None:
    if isinstance(op, kernel.TileOp):
        tile_type = op.tile.type
        tiles[op.tile] = Tile(isa.declare(tile_type.pixels.data, tile_type.lanes.data), tile_type.pixels.data, tile_type.lanes.data)
        return
    if isinstance(op, kernel.CopyTileOp | kernel.AddTileOp):
        update = isa.copy_tile if isinstance(op, kernel.CopyTileOp) else isa.add_tile
        update(tiles[op.destination], tiles[op.source], op.scale.value.data)
        return
    LOWERINGS[type(op)](isa, tiles[op.operands[0]], op)


@dataclass(frozen=True)
class LowerKernel(ModulePass):
    """Base of the `lower-kernel-to-<isa>` passes."""

    name = "lower-kernel"
    isa: ClassVar[type[Microkernel]]
    freestanding: ClassVar[bool] = False
    """Bare-metal targets: the C may use no libc (sets the module attribute `c.freestanding`)."""

    def isas(self) -> list[type[Microkernel]]:
        return [isa for isa in (self.isa, self.isa.narrow) if isa is not None]

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        kernel_ops = [o for o in op.walk() if o.dialect_name() == "kernel"]
        for tile in (o for o in kernel_ops if isinstance(o, kernel.TileOp)):
            lanes = tile.tile.type.lanes.data
            if self.isa.for_lanes(lanes) is None:
                widths = " or ".join(str(isa.vector_lanes) for isa in self.isas())
                raise PassFailedException(
                    f"{self.name}: a tile of {lanes} lanes is not a multiple of the {widths}-lane vectors; "
                    f"choose small-layout{{c_ob=...}} (and narrow_block) as a multiple of {widths}"
                )
        tiles: dict[SSAValue, Tile] = {}
        constants: dict[Block, Constants] = {}
        for kernel_op in kernel_ops:
            tile = kernel_op.tile if isinstance(kernel_op, kernel.TileOp) else kernel_op.operands[0]
            isa = self.isa.for_lanes(tile.type.lanes.data)
            lower_op(isa(LoopBuilder.before(kernel_op, constants)), kernel_op, tiles)
        for kernel_op in reversed(kernel_ops):
            Rewriter.erase_op(kernel_op, safe_erase=False)
        includes = [StringAttr(name) for name in dict.fromkeys(name for isa in self.isas() for name in isa.includes)]
        if includes:
            op.attributes["c.includes"] = ArrayAttr(includes)
        if self.freestanding:
            op.attributes["c.freestanding"] = UnitAttr()

