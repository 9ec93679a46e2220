"""What the ONNX and TFLite importers share: window padding, Pad folding, per-channel constants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

import numpy as np

from small_ir.builder import NetworkBuilder, Tensor
from small_ir.dialects.nn import fmt, window_output_size

Pads = tuple[int, int, int, int]
"""top, left, bottom, right"""


class Unsupported(Exception):
    """A node the nn dialect cannot express exactly; the message says why."""


@dataclass(frozen=True)
class Padded:
    """The output of a constant zero Pad, left for its only reader to fold into its window."""

    tensor: Tensor
    pads: Pads

    @property
    def shape(self) -> tuple[int, ...]:
        _, channels, height, width = self.tensor.shape
        top, left, bottom, right = self.pads
        return (1, channels, height + top + bottom, width + left + right)


def add_pads(a: Sequence[int], b: Sequence[int]) -> Pads:
    return tuple(x + y for x, y in zip(a, b))  # type: ignore[return-value]


def same_pads(size: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int], odd_at_end: bool = True) -> Pads:
    """SAME padding: output size ceil(size / stride); the odd pixel at the end (TFLite SAME, ONNX SAME_UPPER) or the start."""
    totals = [
        max(0, (-(-n // s) - 1) * s + d * (k - 1) + 1 - n) for n, k, s, d in zip(size, kernel, strides, dilations)
    ]
    begins = [total // 2 if odd_at_end else total - total // 2 for total in totals]
    return (begins[0], begins[1], totals[0] - begins[0], totals[1] - begins[1])


def check_window_fits(size: Sequence[int], kernel: Sequence[int], strides, pads: Pads, dilations=(1, 1)) -> None:
    for axis in (0, 1):
        if window_output_size(size[axis], kernel[axis], strides[axis], pads[axis], pads[axis + 2], dilations[axis]) < 1:
            raise Unsupported(
                f"the {fmt(kernel)} window (dilations {list(dilations)}) does not fit the {fmt(size)} input with pads {list(pads)}"
            )


def channel_affine(net: NetworkBuilder, x: Tensor, scale: np.ndarray, shift: np.ndarray | None) -> Tensor:
    """y[:, c] = scale[c] * x[:, c] + shift[c], as a 1x1 depthwise conv (on a 1xCxHx1 view unless x is NCHW)."""
    channels = x.shape[1]
    weight = np.asarray(scale, np.float32).reshape(channels, 1, 1, 1)
    bias = None if shift is None else np.asarray(shift, np.float32)
    if len(x.shape) == 4:
        return net.conv2d(x, weight, bias, group=channels)
    image = net.reshape(x, shape=(1, channels, prod(x.shape[2:]), 1))
    return net.reshape(net.conv2d(image, weight, bias, group=channels), shape=x.shape)
