"""
Winograd F(2x2, 3x3) (Lavin & Gray, 2016): a 2x2 output tile of a 3x3 conv
from a 4x4 input tile d, with 16 multiplications per channel pair instead of 36:

    Y = A^T [ (G g G^T) * (B^T d B) ] A       (* element-wise over the 4x4 positions)

The filter transform U = G g G^T runs at compile time; the input transform
V = B^T d B and the output transform A^T M A only add and subtract, so they
are listed here as signed sums that small-tile emits as tile loads, adds and
subtracts. small-tile copies each input window into a zero-padded buffer
first, so the sums never leave out a pixel.
"""

from __future__ import annotations

import numpy as np

MIN_CHANNELS = 16
"""small-winograd's default: layers with fewer input or output channels stay direct convs."""

TILE = 2
"""Output pixels per tile side."""

WINDOW = 4
"""Input pixels per tile side (TILE + 3 - 1)."""

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float32)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float32)

Term = tuple[float, int, int]
"""sign, row, column: one addend of a transform."""


def transform_filters(packed: np.ndarray) -> np.ndarray:
    """
    Blocked conv weights [K/Cb][F_c/Cb][3][3][ci][co] -> U [16][K/Cb][F_c/Cb][ci][co],
    the 16 positions of G g G^T in row-major order.
    """
    u = np.einsum("ih,jw,kchwab->ijkcab", G.astype(np.float64), G.astype(np.float64), packed.astype(np.float64))
    return u.reshape(WINDOW * WINDOW, *u.shape[2:]).astype(np.float32)


def terms(matrix: np.ndarray, i: int, j: int) -> list[Term]:
    """The addends of (matrix X matrix^T)[i][j], positive ones first (the coefficients are +-1)."""
    size = range(matrix.shape[1])
    found = [(float(matrix[i][r] * matrix[j][c]), r, c) for r in size for c in size if matrix[i][r] and matrix[j][c]]
    return sorted(found, key=lambda term: term[0] < 0)


def input_terms(i: int, j: int) -> list[Term]:
    """V[i][j] = (B^T d B)[i][j] as a sum over the input pixels d[row][column]."""
    return terms(B_T, i, j)


def output_terms(r: int, c: int) -> list[Term]:
    """Y[r][c] = (A^T M A)[r][c] as a sum over the products M[i][j]."""
    return terms(A_T, r, c)
