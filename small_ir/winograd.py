"""
Winograd convolution F(m x m, 3x3) (Lavin & Gray, 2016): an m x m output tile
of a 3x3 conv from an (m + 2) x (m + 2) input tile d,

    Y = A^T [ (G g G^T) * (B^T d B) ] A       (* element-wise over the (m + 2)^2 positions)

with (m + 2)^2 multiplications per channel pair instead of 9 m^2: 2.25x fewer
for F(2x2, 3x3), 4x fewer for F(4x4, 3x3). The filter transform U = G g G^T
runs at compile time. small-tile computes the input and output transforms
one matrix at a time (B^T d, then (B^T d) B; A^T M, then (A^T M) A), as
sums of rows whose coefficients are +-1 (adds and subtracts) or small
integers (FMAs by a constant); every row below holds a +1 to start from.
small-tile copies each input window into a zero-padded buffer first, so the
sums never leave out a pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_CHANNELS = 16
"""small-winograd's default: layers with fewer input or output channels stay direct convs."""


@dataclass(frozen=True)
class Transform:
    """The matrices of F(tile x tile, 3x3)."""

    tile: int
    """Output pixels per tile side."""
    b_t: np.ndarray
    g: np.ndarray
    a_t: np.ndarray

    @property
    def window(self) -> int:
        """Input pixels per tile side (tile + 3 - 1)."""
        return self.tile + 2

    @property
    def positions(self) -> int:
        return self.window**2

    def transform_filters(self, packed: np.ndarray) -> np.ndarray:
        """
        Blocked conv weights [K/Cb][F_c/Cb][3][3][ci][co] -> U [positions][K/Cb][F_c/Cb][ci][co],
        the positions of G g G^T in row-major order.
        """
        g = self.g.astype(np.float64)
        u = np.einsum("ih,jw,kchwab->ijkcab", g, g, packed.astype(np.float64))
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

TRANSFORMS = {transform.tile: transform for transform in (F2, F4)}

Term = tuple[float, int]
"""coefficient, index: one addend of a row of a transform matrix."""


def row_terms(matrix: np.ndarray, row: int) -> list[Term]:
    """The nonzero coefficients of `row` with their column indices, a +1 first."""
    found = [(float(coefficient), index) for index, coefficient in enumerate(matrix[row]) if coefficient]
    return sorted(found, key=lambda term: term[0] != 1)


def coefficients(transform: Transform) -> list[float]:
    """The coefficients of the transforms that are not +-1: the constants their FMAs multiply by."""
    values = {float(c) for matrix in (transform.b_t, transform.a_t) for c in matrix.flat if c and abs(c) != 1}
    return sorted(values)
