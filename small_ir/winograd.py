"""
Winograd convolution F(m x m, 3x3) (Lavin & Gray, 2016): an m x m output tile
of a 3x3 conv from an (m + 2) x (m + 2) input tile d,

    Y = A^T [ (G g G^T) * (B^T d B) ] A       (* element-wise over the (m + 2)^2 positions)

with (m + 2)^2 multiplications per channel pair instead of 9 m^2: 2.25x fewer
for F(2x2, 3x3), 4x fewer for F(4x4, 3x3). The filter transform U = G g G^T
runs at compile time.

A stride-2 3x3 conv is the sum of four stride-1 2x2 convs, one per phase
(p, q) of its input (the pixels 2i + p, 2j + q) with the taps 2a + p, 2b + q
of its filter (zero where that is past 2). F(4x4, 2x2) computes each with 25
multiplications per 16 outputs: 100 against 144, 1.44x fewer; the four sum
in the transformed domain, as if the phases were 4x the input channels.

small-tile computes the input and output transforms one matrix at a time
(B^T d, then (B^T d) B; A^T M, then (A^T M) A), as the `Program` of the
matrix on vectors in registers: adds and subtracts for the coefficients +-1,
FMAs by a constant for the others. small-tile copies each input window into
a zero-padded buffer first, so the sums never leave out a pixel.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_CHANNELS = 16
"""small-winograd's default: layers with fewer input or output channels stay direct convs."""


@dataclass(frozen=True)
class Transform:
    """The matrices of F(tile x tile, taps x taps) for a 3x3 conv of stride `stride` (taps 3 for stride 1, 2 for stride 2)."""

    tile: int
    """Output pixels per tile side."""
    b_t: np.ndarray
    g: np.ndarray
    a_t: np.ndarray
    stride: int = 1

    @property
    def window(self) -> int:
        """Input pixels per tile side (tile + taps - 1), of each phase."""
        return self.tile + self.g.shape[1] - 1

    @property
    def positions(self) -> int:
        return self.window**2

    @property
    def phases(self) -> int:
        return self.stride**2

    def transform_filters(self, packed: np.ndarray) -> np.ndarray:
        """
        Blocked conv weights [K/Cb][F_c/Cb][3][3][ci][co] -> U [positions][K/Cb][phases x F_c/Cb][ci][co]
        (phase-major), the positions of G g G^T in row-major order.
        """
        taps, stride = self.g.shape[1], self.stride
        phases = []
        for p, q in itertools.product(range(stride), repeat=2):
            phase = np.zeros((*packed.shape[:2], taps, taps, *packed.shape[4:]), np.float64)
            taken = packed[:, :, p::stride, q::stride]
            phase[:, :, : taken.shape[2], : taken.shape[3]] = taken
            phases.append(phase)
        g = self.g.astype(np.float64)
        u = np.einsum("ih,jw,kchwab->ijkcab", g, g, np.concatenate(phases, axis=1))
        return u.reshape(self.positions, *u.shape[2:]).astype(np.float32)


F2 = Transform(
    tile=2,
    b_t=np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32),
    g=np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64),
    a_t=np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float32),
)
"""F(2x2, 3x3): interpolation points 0, 1, -1 and infinity."""

F4 = Transform(
    tile=4,
    b_t=np.array(
        [
            [4, 0, -5, 0, 1, 0],
            [0, -4, -4, 1, 1, 0],
            [0, 4, -4, -1, 1, 0],
            [0, -2, -1, 2, 1, 0],
            [0, 2, -1, -2, 1, 0],
            [0, 4, 0, -5, 0, 1],
        ],
        np.float32,
    ),
    g=np.array(
        [
            [1 / 4, 0, 0],
            [-1 / 6, -1 / 6, -1 / 6],
            [-1 / 6, 1 / 6, -1 / 6],
            [1 / 24, 1 / 12, 1 / 6],
            [1 / 24, -1 / 12, 1 / 6],
            [0, 0, 1],
        ],
        np.float64,
    ),
    a_t=np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float32),
)
"""F(4x4, 3x3): interpolation points 0, 1, -1, 2, -2 and infinity."""

F4_STRIDE2 = Transform(
    tile=4,
    b_t=np.array(
        [[2, -1, -2, 1, 0], [0, -2, -1, 1, 0], [0, 2, -3, 1, 0], [0, -1, 0, 1, 0], [0, 2, -1, -2, 1]], np.float32
    ),
    g=np.array([[1 / 2, 0], [-1 / 2, -1 / 2], [-1 / 6, 1 / 6], [1 / 6, 1 / 3], [0, 1]], np.float64),
    a_t=np.array([[1, 1, 1, 1, 0], [0, 1, -1, 2, 0], [0, 1, 1, 4, 0], [0, 1, -1, 8, 1]], np.float32),
    stride=2,
)
"""F(4x4, 2x2) on the four phases of a stride-2 3x3 conv: interpolation points 0, 1, -1, 2 and infinity."""

TRANSFORMS = {transform.tile: transform for transform in (F2, F4)}
"""The stride-1 transforms by output tile m."""

STRIDE_2 = {F4_STRIDE2.tile: F4_STRIDE2}


def transforms(stride: int) -> dict[int, Transform]:
    """The transforms for 3x3 convs of this stride (1 or 2), by output tile m."""
    return {1: TRANSFORMS, 2: STRIDE_2}.get(stride, {})

Term = tuple[float, int]
"""coefficient, value: one addend of a sum in a `Program`."""


@dataclass(frozen=True)
class Program:
    """
    y = matrix x as straight-line code, one vector per element: the values
    are the inputs x, then the sums in order, each over earlier values. Two
    rows equal up to the sign of some of their terms are E + O and E - O, E
    the sum of the other terms and O of those (B^T's rows for the points +-1
    and for +-2); two columns equal up to sign enter as x1 + x2 or x1 - x2,
    each made once (A^T's m1 +- m2 and m3 +- m4). F(4x4)'s B^T takes 12 adds
    and FMAs instead of 16, its A^T 10 instead of 13.
    """

    inputs: int
    sums: tuple[tuple[Term, ...], ...]
    """Sum k is value inputs + k; its first term has coefficient 1 where it has one."""
    outputs: tuple[int, ...]
    """The value of each row of y."""

    def needed(self, rows: Sequence[int]) -> set[int]:
        """The values that `rows` of y take."""
        found: set[int] = set()
        pending = [self.outputs[row] for row in rows]
        while pending:
            value = pending.pop()
            if value not in found:
                found.add(value)
                if value >= self.inputs:
                    pending += [term for _, term in self.sums[value - self.inputs]]
        return found

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        values = list(x)
        for terms in self.sums:
            values.append(sum(coefficient * values[value] for coefficient, value in terms))
        return np.array([values[value] for value in self.outputs])


class _ProgramBuilder:
    def __init__(self, inputs: int):
        self.inputs = inputs
        self.sums: list[tuple[Term, ...]] = []

    def value(self, terms: Sequence[Term]) -> int:
        """The value of sum(terms): an input as it is, or a sum (made once)."""
        terms = tuple(sorted(terms, key=lambda term: term[0] != 1))
        if len(terms) == 1 and terms[0][0] == 1:
            return terms[0][1]
        if terms not in self.sums:
            self.sums.append(terms)
        return self.inputs + self.sums.index(terms)

    def factored(self, terms: Sequence[Term]) -> Term:
        """(factor, value) with factor * value = sum(terms); terms of one magnitude a give a sum of +-1s, factor +a if it can."""
        if len(terms) == 1 or len({abs(c) for c, _ in terms}) > 1:
            return (1.0, self.value(terms)) if len(terms) > 1 else terms[0]
        factor = max(c for c, _ in terms)
        return factor, self.value([(c / factor, v) for c, v in terms])


def program(matrix: np.ndarray) -> Program:
    """Straight-line code for `matrix` (see `Program`)."""
    rows, inputs = matrix.shape
    builder = _ProgramBuilder(inputs)
    terms = [{k: float(c) for k, c in enumerate(matrix[r]) if c} for r in range(rows)]
    # Columns equal up to sign: their sum and difference, once.
    for k1, k2 in itertools.combinations(range(inputs), 2):
        if any(k1 not in row or k2 not in row or abs(row[k1]) != abs(row[k2]) for row in terms if k1 in row or k2 in row):
            continue
        for row in terms:
            if k1 in row:
                c1, c2 = row.pop(k1), row.pop(k2)
                row[builder.value([(1.0, k1), (c2 / c1, k2)])] = c1
    # Rows equal up to the sign of some terms: E + O and E - O.
    outputs: dict[int, int] = {}
    for i, j in itertools.combinations(range(rows), 2):
        if i in outputs or j in outputs or terms[i].keys() != terms[j].keys():
            continue
        if any(abs(terms[i][k]) != abs(terms[j][k]) for k in terms[i]):
            continue
        same = [(c, k) for k, c in terms[i].items() if terms[j][k] == c]
        flipped = [(c, k) for k, c in terms[i].items() if terms[j][k] != c]
        if not same or not flipped:
            continue
        (e_factor, e), (o_factor, o) = builder.factored(same), builder.factored(flipped)
        outputs[i] = builder.value([(e_factor, e), (o_factor, o)])
        outputs[j] = builder.value([(e_factor, e), (-o_factor, o)])
    for r in range(rows):
        if r not in outputs:
            outputs[r] = builder.value([(c, k) for k, c in terms[r].items()])
    return Program(inputs, tuple(builder.sums), tuple(outputs[r] for r in range(rows)))
