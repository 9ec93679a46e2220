"""
small-tile: lowers every blocked `small.layer` to SMaLL's unified loop nest
around `kernel` microkernel ops on a W_ob x C_ob register tile.

    for each output channel block kb:
      for each output row oh:                 (rows touching padding run fewer filter rows)
        left columns touching padding         (one pixel per tile, valid filter taps only)
        full W_ob tiles, then one remainder tile
        right columns touching padding
          tile = init (bias | 0 | -inf | input)
          for reduction block, filter row, filter column [, channel]: accumulate
          epilogue (scale, combine other, clamp | leaky | sigmoid), store

Padding is never materialised: the filter-tap bounds of every tile are
computed (statically along the tile, with index arithmetic across it), so
padded taps are never visited. Two other tilings of the same nest:

* a 1x1 window with stride 1 and no padding tiles H x W as one flat row
  (kernel accesses continue onto the next row);
* an output narrower than a tile and taller than one is tiled down its
  columns: "row" and "column" above swap, and a tile's pixels are a row apart.

A `winograd` conv is lowered by WinogradNest instead (below).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, memref
from xdsl.dialects.builtin import ModuleOp, i64
from xdsl.ir import Block, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern
from xdsl.utils.exceptions import PassFailedException

from small_ir import winograd
from small_ir.builder import memref_type
from small_ir.dialects import kernel, small
from small_ir.dialects.small import ceil_div
from small_ir.loops import Constants, Index, LoopBuilder
from small_ir.weights import add_constant, constant_array


@dataclass(frozen=True)
class Bounds:
    """Filter taps [lo, hi) that stay inside the input for one output coordinate."""

    lo: Index
    hi: Index


def store(loops: LoopBuilder, op: small.LayerOp, tile: SSAValue, out_index: list[Index], pixel_stride: int = 1) -> None:
    """The epilogue (combine other, activation) and the store of an output tile of `op`."""
    out_index = loops.values(out_index)
    if op.other is not None:
        combine = {"add": kernel.AddOp, "sub": kernel.SubOp, "mul": kernel.MulOp}[op.combine.data]
        loops.insert(combine(tile, op.other, out_index, pixel_stride))
    if op.clamp_bounds is not None:
        low, high = op.clamp_bounds
        loops.insert(kernel.ClampOp(tile, low, high))
    if op.leaky is not None:
        loops.insert(kernel.LeakyOp(tile, op.leaky.value.data))
    if op.sigmoid is not None:
        loops.insert(kernel.SigmoidOp(tile))
    loops.insert(kernel.StoreOp(tile, op.output, out_index, pixel_stride))


def tile_runs(count: int, width: int, body: Callable[[Index, int], None], loops: LoopBuilder, first: Index = 0) -> None:
    """body(start, pixels) over [first, first + count) in tiles of `width`, then one narrower remainder."""
    full, remainder = divmod(count, width)
    loops.for_(0, full, lambda t: body(loops.add(first, loops.mul(t, width)), width))
    if remainder:
        body(loops.add(first, full * width), remainder)


def balanced_runs(count: int, width: int, body: Callable[[Index, int], None], loops: LoopBuilder) -> None:
    """body(start, pixels) over range(count) in as few tiles of at most `width` as tile_runs, of near-equal widths."""
    tiles = ceil_div(count, width)
    narrow, wide = divmod(count, tiles)
    tile_runs(wide * (narrow + 1), narrow + 1, body, loops)
    tile_runs(count - wide * (narrow + 1), narrow, body, loops, wide * (narrow + 1))


class LayerNest:
    """Builds the loop nest of one blocked small.layer."""

    def __init__(self, op: small.LayerOp, loops: LoopBuilder, split_k: int = 1):
        self.op = op
        self.loops = loops
        self.split_k = split_k
        self.kind = op.kind.data
        self.block = op.block
        self.w_ob = op.w_ob.value.data
        self.height, self.width = op.in_hw.get_values()
        self.fh, self.fw = op.filter.get_values()
        self.sh, self.sw = op.strides.get_values()
        self.dh, self.dw = op.dilations.get_values()
        self.top, self.left, _, _ = op.pads.get_values()
        self.out_h, self.out_w = op.out_hw
        self.down = self.out_w < self.w_ob < self.out_h and not self.flat()
        """Tiles run down the columns: the output is narrower than a W_ob tile and taller than one."""
        self.in_step = self.sh * self.width if self.down else self.sw
        """Elements along W (continuing on the next rows) from one pixel of a tile to the next, in the input..."""
        self.out_step = self.out_w if self.down else 1
        """...and in the output."""

    # Filter-tap bounds for output coordinate `o` along one axis.
    def taps(self, o: Index, stride: int, pad: int, size: int, extent: int, dilation: int) -> Bounds:
        loops = self.loops
        start = loops.sub(loops.mul(o, stride), pad)  # first input coordinate of the window
        lo = loops.ceil_div(loops.max(0, loops.sub(0, start)), dilation)
        hi = loops.min(extent, loops.ceil_div(loops.max(0, loops.sub(size, start)), dilation))
        return Bounds(lo, hi)

    def row_taps(self, oh: Index) -> Bounds:
        return self.taps(oh, self.sh, self.top, self.height, self.fh, self.dh)

    def column_taps(self, ow: Index) -> Bounds:
        return self.taps(ow, self.sw, self.left, self.width, self.fw, self.dw)

    def interior(self) -> tuple[int, int]:
        """[lo, hi): output columns (rows if `down`) whose whole window lies inside the input."""
        if self.down:
            pad, stride, size, extent, dilation, out = self.top, self.sh, self.height, self.fh, self.dh, self.out_h
        else:
            pad, stride, size, extent, dilation, out = self.left, self.sw, self.width, self.fw, self.dw, self.out_w
        lo = min(ceil_div(pad, stride), out)
        last = size - 1 + pad - (extent - 1) * dilation
        hi = min(last // stride + 1, out) if last >= 0 else 0
        return lo, max(lo, hi)

    def build(self) -> None:
        loops, n_blocks = self.loops, ceil_div(self.op.out_channels, self.block)
        if self.flat():
            one = Bounds(0, 1)
            pixels = self.out_h * self.out_w

            def flat_row(kb: Index) -> None:
                balanced_runs(pixels, self.w_ob, lambda p, n: self.tile(kb, 0, p, n, one, one), loops)

            loops.for_(0, n_blocks, flat_row)
            return
        lines = self.out_w if self.down else self.out_h
        loops.for_(0, n_blocks, lambda kb: loops.for_(0, lines, lambda line: self.line(kb, line)))

    def flat(self) -> bool:
        """A 1x1 window with stride 1 and no padding maps pixels one to one: its tiles run across rows."""
        return (self.fh, self.fw, self.sh, self.sw) == (1, 1, 1, 1) and not any(self.op.pads.get_values())

    def line(self, kb: Index, line: Index) -> None:
        """One output row (column if `down`): border pixels one at a time, the interior in W_ob tiles."""
        loops = self.loops
        if self.down:
            across, along_taps, full, length = self.column_taps(line), self.row_taps, Bounds(0, self.fh), self.out_h
        else:
            across, along_taps, full, length = self.row_taps(line), self.column_taps, Bounds(0, self.fw), self.out_w

        def tile(o: Index, pixels: int, along: Bounds) -> None:
            """A tile starting at coordinate `o` along the line, with filter taps `along` in that direction."""
            if self.down:
                self.tile(kb, o, line, pixels, along, across)
            else:
                self.tile(kb, line, o, pixels, across, along)

        lo, hi = self.interior()
        loops.for_(0, lo, lambda o: tile(o, 1, along_taps(o)))
        tile_runs(hi - lo, self.w_ob, lambda o, pixels: tile(o, pixels, full), loops, lo)
        loops.for_(hi, length, lambda o: tile(o, 1, along_taps(o)))

    def tile(self, kb: Index, oh: Index, ow: Index, pixels: int, rows: Bounds, columns: Bounds) -> None:
        loops = self.loops
        tile = loops.insert(kernel.TileOp(pixels, self.block)).tile
        self.initialise(tile, kb, oh, ow)
        partials = self.partial_sums(pixels, rows if self.down else columns)
        self.accumulate([tile, *partials], kb, oh, ow, rows, columns)
        for partial in partials:
            loops.insert(kernel.AddTileOp(tile, partial))
        if self.kind == "avg":
            self.average(tile, rows, columns)
        store(loops, self.op, tile, [kb, oh, ow, 0], self.out_step)

    def partial_sums(self, pixels: int, along: Bounds) -> list[SSAValue]:
        """
        Extra zeroed tiles for a narrow conv tile (dense layers, border pixels,
        narrow outputs): its reduction is split over up to split_k tiles, as
        many as fit in a full tile's accumulators, so that more FMA chains run
        independently; they are summed at the end. `along`: the filter taps
        along the tile's direction, known at compile time.
        """
        if self.kind != "conv":
            return []
        count = min(self.split_k, self.w_ob // pixels)
        if self.op.in_channels < count:
            static = isinstance(along.lo, int) and isinstance(along.hi, int)
            count = min(count, along.hi - along.lo) if static else min(count, self.op.in_channels)
        partials = [self.loops.insert(kernel.TileOp(pixels, self.block)).tile for _ in range(count - 1)]
        for partial in partials:
            self.loops.insert(kernel.FillOp(partial, 0.0))
        return partials

    def initialise(self, tile: SSAValue, kb: Index, oh: Index, ow: Index) -> None:
        loops, op = self.loops, self.op
        if op.bias is not None:
            loops.insert(kernel.BroadcastOp(tile, op.bias, loops.values([kb, 0])))
        elif self.kind == "max":
            loops.insert(kernel.FillOp(tile, float("-inf")))
        elif self.kind == "copy":
            loops.insert(kernel.LoadOp(tile, op.input, loops.values([kb, oh, ow, 0]), self.in_step))
        else:
            loops.insert(kernel.FillOp(tile, 0.0))

    def accumulate(self, tiles: list[SSAValue], kb: Index, oh: Index, ow: Index, rows: Bounds, columns: Bounds) -> None:
        if self.kind == "copy":
            return
        loops, tile = self.loops, tiles[0]
        in_row = loops.sub(loops.mul(oh, self.sh), self.top)
        in_column = loops.sub(loops.mul(ow, self.sw), self.left)

        def tap(kh: Index, kw: Index, conv_tiles: list[SSAValue] = tiles) -> None:
            ih = loops.add(in_row, loops.mul(kh, self.dh))
            iw = loops.add(in_column, loops.mul(kw, self.dw))
            if self.kind == "conv":
                self.conv_tap(conv_tiles, kb, kh, kw, ih, iw)
                return
            window = loops.values([kb, ih, iw, 0])
            if self.kind == "dwconv":
                weights = loops.values([kb, kh, kw, 0])
                loops.insert(kernel.LaneFmaOp(tile, self.op.input, window, self.op.weights, weights, self.in_step))
            elif self.kind == "max":
                loops.insert(kernel.MaxOp(tile, self.op.input, window, self.in_step))
            else:
                loops.insert(kernel.AddOp(tile, self.op.input, window, self.in_step))

        # Taps across the tile's direction in the outer loop, along it (known at compile time) inside.
        across, along = (columns, rows) if self.down else (rows, columns)
        at = (lambda a, b, *rest: tap(b, a, *rest)) if self.down else tap

        def line(a: Index) -> None:
            if self.kind == "conv" and self.op.in_channels < len(tiles):
                # too few channels to share out: tap b along the tile goes to tile b % len(tiles) (see partial_sums)
                for b in range(along.lo, along.hi):
                    at(a, b, [tiles[b % len(tiles)]])
                return
            loops.for_(along.lo, along.hi, lambda b: at(a, b))

        loops.for_(across.lo, across.hi, line)

    def conv_tap(self, tiles: list[SSAValue], kb: Index, kh: Index, kw: Index, ih: Index, iw: Index) -> None:
        """Rank-1 updates over the reduction channels, one input-channel block at a time;
        with several tiles, channel ci goes to tile ci % len(tiles)."""
        loops, op = self.loops, self.op

        def channel(tile: SSAValue, cb: Index, ci: Index) -> None:
            input_index, weight_index = loops.values([cb, ih, iw, ci]), loops.values([kb, cb, kh, kw, ci, 0])
            loops.insert(kernel.FmaOp(tile, op.input, input_index, op.weights, weight_index, self.in_step))

        def round_robin(cb: Index, first: Index) -> None:
            for offset, tile in enumerate(tiles):
                channel(tile, cb, loops.add(first, offset))

        def channels(cb: Index, count: int) -> None:
            whole = count - count % len(tiles)
            loops.for_(0, whole, lambda ci: round_robin(cb, ci), step=len(tiles))
            loops.for_(whole, count, lambda ci: channel(tiles[0], cb, ci))

        input_block = op.input_block
        full_blocks, rest = divmod(op.in_channels, input_block)
        loops.for_(0, full_blocks, lambda cb: channels(cb, input_block))
        if rest:
            channels(full_blocks, rest)

    def average(self, tile: SSAValue, rows: Bounds, columns: Bounds) -> None:
        loops = self.loops
        if self.op.count_include_pad is not None:
            loops.insert(kernel.ScaleOp(tile, loops.f32(1.0 / (self.fh * self.fw))))
            return
        count = loops.mul(loops.sub(rows.hi, rows.lo), loops.sub(columns.hi, columns.lo))
        if isinstance(count, int):
            loops.insert(kernel.ScaleOp(tile, loops.f32(1.0 / count)))
            return
        as_i64 = loops.insert(arith.IndexCastOp(count, i64)).result
        as_float = loops.insert(arith.SIToFPOp(as_i64, loops.f32(0.0).type)).result
        factor = loops.insert(arith.DivfOp(loops.f32(1.0), as_float)).result
        loops.insert(kernel.ScaleOp(tile, factor))


def runs(lo: int, hi: int, key: Callable[[int], object]) -> list[tuple[int, int, object]]:
    """The [start, stop) ranges of range(lo, hi) over which key(i) is the same, with that key."""
    found: list[tuple[int, int, object]] = []
    for i in range(lo, hi):
        if found and found[-1][2] == key(i):
            found[-1] = (found[-1][0], i + 1, found[-1][2])
        else:
            found.append((i, i + 1, key(i)))
    return found


class WinogradNest:
    """
    A `winograd` conv, F(m x m, r x r) with m = the layer's `winograd` tile
    and r = 3, or r = 2 on the 4 phases of a stride-2 conv's input (see
    small_ir/winograd.py), one strip of tile rows at a time, through arena
    buffers that stay in cache: X, the strip's input rows with their padding
    as zeros, [in blocks][rows][columns][Cb]; V, [phases x in blocks][(m + r - 1)^2
    positions][tiles][Cb], and M, [out blocks][positions][tiles][Cb] (the
    strip's tiles in row-major order); T and S, one tile's halfway transforms:

        X = the strip's input window, zero-padded
        V = B^T d B        every window d of X (stride 2: of each phase), per input channel block: T = B^T d, then V = T B
        M[i][j] = V[i][j] U[i][j]     one matrix product per position: FMA register tiles of up to W_ob tiles
        y = A^T M A + bias, epilogue  every output tile, per output channel block: S = A^T M, then y = S A

    A transform loads a column (row) of its input into 1-pixel tiles and runs
    the matrix's `winograd.Program` on them; a loop runs the columns (rows) of
    a tile. One loop runs the strips (padding rows are zeroed by index
    arithmetic); output tiles cut off by the border store only their pixels
    inside the output, so a strip with such tiles (output height not a
    multiple of m) is emitted on its own.
    """

    def __init__(self, op: small.LayerOp, loops: LoopBuilder, module: ModuleOp):
        self.op, self.loops = op, loops
        self.f = op.winograd_transforms()[op.winograd.value.data]
        self.stride = self.f.stride
        self.block, self.w_ob = op.block, op.w_ob.value.data
        self.height, self.width = op.in_hw.get_values()
        self.top, self.left, _, _ = op.pads.get_values()
        self.out_h, self.out_w = op.out_hw
        self.tiles_h, self.tiles_w = ceil_div(self.out_h, self.f.tile), ceil_div(self.out_w, self.f.tile)
        # About one register tile per strip (smaller strips stay in L1), all of one size, so that one loop runs them.
        target = max(1, ceil_div(self.w_ob, self.tiles_w))
        self.strip_rows = max(rows for rows in range(1, target + 1) if self.tiles_h % rows == 0)
        self.strip_tiles = self.strip_rows * self.tiles_w
        self.in_blocks, self.out_blocks = ceil_div(op.in_channels, self.block), ceil_div(op.out_channels, self.block)
        window, positions = self.f.window, self.f.positions
        self.window_columns = self.span(self.tiles_w)
        self.x = self.buffer((self.in_blocks, self.span(self.strip_rows), self.window_columns, self.block))
        self.v = self.buffer((self.f.phases * self.in_blocks, positions, self.strip_tiles, self.block))
        self.m = self.buffer((self.out_blocks, positions, self.strip_tiles, self.block))
        self.t = self.buffer((window, window, self.block))
        self.s = self.buffer((self.f.tile, window, self.block))
        m = self.f.tile
        self.u = add_constant(module, op, self.f.transform_filters(constant_array(op.weights, op)), f"wino{m}x{m}_")
        self.b_t, self.a_t = winograd.program(self.f.b_t), winograd.program(self.f.a_t)

    def span(self, tiles: int) -> int:
        """Input pixels under `tiles` adjacent tiles (with the last phase's window)."""
        return self.stride * (self.f.tile * tiles + self.f.window - self.f.tile)

    def buffer(self, shape: tuple[int, ...]) -> SSAValue:
        return self.loops.insert(memref.AllocOp([], [], memref_type(shape))).memref

    def output_rows(self, ty: int) -> tuple[int, ...]:
        return tuple(r for r in range(self.f.tile) if self.f.tile * ty + r < self.out_h)

    def output_columns(self, tx: int) -> tuple[int, ...]:
        return tuple(c for c in range(self.f.tile) if self.f.tile * tx + c < self.out_w)

    def build(self) -> None:
        """One loop over the strips; the last one on its own if the output cuts its tiles off."""
        loops, size = self.loops, self.strip_rows
        strips = self.tiles_h // size
        cut = self.output_rows(self.tiles_h - 1) != tuple(range(self.f.tile))
        loops.for_(0, strips - cut, lambda s: self.strip(loops.mul(s, size), size))
        if cut:
            self.strip((strips - 1) * size, size)

    def strip(self, ty0: Index, rows: int) -> None:
        loops = self.loops
        loops.for_(0, self.in_blocks, lambda cb: self.gather(cb, ty0, rows))
        loops.for_(0, self.in_blocks, lambda cb: self.transform_input(cb, rows))
        self.multiply()
        if isinstance(ty0, int):
            row_runs = runs(ty0, ty0 + rows, self.output_rows)
        else:  # a strip in the loop: its tiles are whole
            row_runs = [(ty0, loops.add(ty0, rows), tuple(range(self.f.tile)))]
        for ty_lo, ty_hi, row_set in row_runs:
            for tx_lo, tx_hi, column_set in runs(0, self.tiles_w, self.output_columns):
                self.transform_output(ty0, (ty_lo, ty_hi), (tx_lo, tx_hi), row_set, column_set)

    def transform_output(self, ty0: Index, ty_range: tuple, tx_range: tuple, rows: tuple, columns: tuple) -> None:
        """The output tiles in ty_range x tx_range, whose pixels inside the output are `rows` x `columns`."""
        loops = self.loops

        def tile_row(kb: Index, ty: Index) -> None:
            loops.for_(*tx_range, lambda tx: self.output_tile(kb, ty0, ty, tx, rows, columns))

        loops.for_(0, self.out_blocks, lambda kb: loops.for_(*ty_range, lambda ty: tile_row(kb, ty)))

    def gather(self, cb: Index, ty0: Index, rows: int) -> None:
        """X = the input rows under the strip, zero outside the image."""
        loops, block = self.loops, self.block
        first_row = loops.sub(loops.mul(ty0, self.stride * self.f.tile), self.top)
        lo, hi = min(self.left, self.window_columns), min(self.left + self.width, self.window_columns)

        def zero(r: Index, q: Index, pixels: int) -> None:
            tile = loops.insert(kernel.TileOp(pixels, block)).tile
            loops.insert(kernel.FillOp(tile, 0.0))
            loops.insert(kernel.StoreOp(tile, self.x, loops.values([cb, r, q, 0])))

        def copy(r: Index, q: Index, pixels: int) -> None:
            tile = loops.insert(kernel.TileOp(pixels, block)).tile
            source = [cb, loops.add(first_row, r), loops.sub(q, self.left), 0]
            loops.insert(kernel.LoadOp(tile, self.op.input, loops.values(source)))
            loops.insert(kernel.StoreOp(tile, self.x, loops.values([cb, r, q, 0])))

        def row(r: Index, inside: bool) -> None:
            if not inside:
                tile_runs(self.window_columns, self.w_ob, lambda q, n: zero(r, q, n), loops)
                return
            tile_runs(lo, self.w_ob, lambda q, n: zero(r, q, n), loops)
            tile_runs(hi - lo, self.w_ob, lambda q, n: copy(r, q, n), loops, lo)
            tile_runs(self.window_columns - hi, self.w_ob, lambda q, n: zero(r, q, n), loops, hi)

        count = self.span(rows)
        inside_lo = loops.min(count, loops.max(0, loops.sub(0, first_row)))
        inside_hi = loops.max(inside_lo, loops.min(count, loops.sub(self.height, first_row)))
        loops.for_(0, inside_lo, lambda r: row(r, False))
        loops.for_(inside_lo, inside_hi, lambda r: row(r, True))
        loops.for_(inside_hi, count, lambda r: row(r, False))

    def transform_input(self, cb: Index, rows: int) -> None:
        """
        V = B^T d B for every window d of X (stride 2: of each phase p, q, the
        pixels 2i + p, 2j + q): T = B^T d a column at a time, then V = T B a row at a time.
        """
        loops, f, stride = self.loops, self.f, self.stride

        def transform(ty: Index, tx: Index, p: Index, q: Index) -> None:
            top, left = loops.mul(ty, f.tile), loops.mul(tx, f.tile)
            t = loops.add(loops.mul(ty, self.tiles_w), tx)
            v_block = loops.add(cb, loops.mul(loops.add(loops.mul(p, stride), q), self.in_blocks))

            def column(b: Index) -> None:  # T[i][b] = sum over a of B^T[i][a] d[a][b]
                x_column = loops.add(loops.mul(loops.add(left, b), stride), q)

                def x_index(a: int) -> list:
                    return [cb, loops.add(loops.mul(loops.add(top, a), stride), p), x_column, 0]

                self.apply(self.b_t, range(f.window), self.x, x_index, self.t, lambda i: [i, b, 0])

            def row(i: Index) -> None:  # V[i][j] = sum over b of B^T[j][b] T[i][b]
                first_position = loops.mul(i, f.window)

                def v_index(j: int) -> list:
                    return [v_block, loops.add(first_position, j), t, 0]

                self.apply(self.b_t, range(f.window), self.t, lambda b: [i, b, 0], self.v, v_index)

            loops.for_(0, f.window, column)
            loops.for_(0, f.window, row)

        def tile(ty: Index, tx: Index) -> None:
            loops.for_(0, stride, lambda p: loops.for_(0, stride, lambda q: transform(ty, tx, p, q)))

        loops.for_(0, rows, lambda ty: loops.for_(0, self.tiles_w, lambda tx: tile(ty, tx)))

    def apply(self, program: winograd.Program, rows: Sequence[int], source: SSAValue, index: Callable, target: SSAValue, target_index: Callable) -> None:
        """target[target_index(r)] = row r of program x, x[k] = source[index(k)], for each of `rows`."""
        for row, value in zip(rows, self.evaluate(program, rows, source, index)):
            self.loops.insert(kernel.StoreOp(value, target, self.loops.values(target_index(row))))

    def evaluate(self, program: winograd.Program, rows: Sequence[int], source: SSAValue, index: Callable[[int], list]) -> list[SSAValue]:
        """
        `rows` of program x, with x[k] = source[index(k)]: 1-pixel tiles. Loads
        the inputs these rows take, then their sums, one tile each.
        """
        loops, values = self.loops, {}
        for value in sorted(program.needed(rows)):
            tile = values[value] = loops.insert(kernel.TileOp(1, self.block)).tile
            if value < program.inputs:
                loops.insert(kernel.LoadOp(tile, source, loops.values(index(value))))
                continue
            (first_coefficient, first), *terms = program.sums[value - program.inputs]
            loops.insert(kernel.CopyTileOp(tile, values[first], first_coefficient))
            for coefficient, term in terms:
                loops.insert(kernel.AddTileOp(tile, values[term], coefficient))
        return [values[program.outputs[row]] for row in rows]

    def multiply(self) -> None:
        """M[kb][position] = V[position] U[position][kb], for every output block and position, W_ob tiles at a time."""
        loops = self.loops
        full_blocks, rest = divmod(self.op.in_channels, self.block)

        def product(kb: Index, position: Index, t: Index, pixels: int) -> None:
            tile = loops.insert(kernel.TileOp(pixels, self.block)).tile
            loops.insert(kernel.FillOp(tile, 0.0))

            def channel(cb: Index, ci: Index) -> None:
                v_index, u_index = loops.values([cb, position, t, ci]), loops.values([position, kb, cb, ci, 0])
                loops.insert(kernel.FmaOp(tile, self.v, v_index, self.u, u_index))

            def phase(first: Index) -> None:  # V and U hold the phases' channel blocks one after the other
                loops.for_(0, full_blocks, lambda cb: loops.for_(0, self.block, lambda ci: channel(loops.add(first, cb), ci)))
                loops.for_(0, rest, lambda ci: channel(loops.add(first, full_blocks), ci))

            loops.for_(0, self.f.phases, lambda p: phase(loops.mul(p, self.in_blocks)))
            loops.insert(kernel.StoreOp(tile, self.m, loops.values([kb, position, t, 0])))

        def position(kb: Index, p: Index) -> None:
            balanced_runs(self.strip_tiles, self.w_ob, lambda t, pixels: product(kb, p, t, pixels), loops)

        loops.for_(0, self.out_blocks, lambda kb: loops.for_(0, self.f.positions, lambda p: position(kb, p)))

    def output_tile(self, kb: Index, ty0: Index, ty: Index, tx: Index, rows: tuple, columns: tuple) -> None:
        """y = A^T M A (+ bias, epilogue) for output tile (ty, tx), its pixels in `rows` x `columns`:
        S = A^T M a column at a time, then y = S A a row at a time."""
        loops, op, f = self.loops, self.op, self.f
        t = loops.add(loops.mul(loops.sub(ty, ty0), self.tiles_w), tx)

        def column(b: Index) -> None:  # S[r][b] = sum over i of A^T[r][i] M[i][b]
            def m_index(i: int) -> list:
                return [kb, loops.add(b, i * f.window), t, 0]

            self.apply(self.a_t, rows, self.m, m_index, self.s, lambda r: [r, b, 0])

        def row(r: Index) -> None:  # y[r][c] = bias + sum over b of A^T[c][b] S[r][b], then the epilogue
            oh = loops.add(loops.mul(ty, f.tile), r)
            window = self.evaluate(self.a_t, columns, self.s, lambda b: [r, b, 0])
            for c, value in zip(columns, window):
                tile = loops.insert(kernel.TileOp(1, self.block)).tile
                if op.bias is None:
                    loops.insert(kernel.CopyTileOp(tile, value))
                else:
                    loops.insert(kernel.BroadcastOp(tile, op.bias, loops.values([kb, 0])))
                    loops.insert(kernel.AddTileOp(tile, value))
                store(loops, op, tile, [kb, oh, loops.add(loops.mul(tx, f.tile), c), 0])

        loops.for_(0, f.window, column)
        loops.for_(0, len(rows), row)


class TileLayer(RewritePattern):
    def __init__(self, split_k: int):
        self.split_k = split_k
        self.constants: dict[Block, Constants] = {}

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: small.LayerOp, rewriter: PatternRewriter):
        if not op.block:
            raise PassFailedException(f"small-tile: {op.kind.data} layer is not blocked yet; run small-layout first")
        loops = LoopBuilder.before(op, self.constants)
        if op.winograd is not None:
            module = op.get_toplevel_object()
            assert isinstance(module, ModuleOp)
            WinogradNest(op, loops, module).build()
        else:
            LayerNest(op, loops, self.split_k).build()
        rewriter.erase(op)


@dataclass(frozen=True)
class SmallTile(ModulePass):
    """Lowers blocked abstract layers to loop nests around kernel ops."""

    name = "small-tile"

    split_k: int = 4
    """Narrow conv tiles (dense layers, border pixels) split their reduction over up to this many tiles."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.split_k < 1:
            raise PassFailedException(f"small-tile: split_k must be >= 1, got {self.split_k}")
        PatternRewriteWalker(TileLayer(self.split_k), apply_recursively=False).rewrite_module(op)
