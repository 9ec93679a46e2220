"""Hypothesis strategies that draw random but valid single-layer cases.

Use them to property-test your own passes and lowerings against the reference
semantics in :mod:`small_ir.reference`::

    from hypothesis import given, settings
    from small_ir.strategies import conv2d_cases

    @settings(max_examples=50, deadline=None)
    @given(case=conv2d_cases(max_channels=5, max_size=6))
    def test_my_lowering(case):
        inputs = case.random_inputs(np.random.default_rng(0))
        np.testing.assert_allclose(my_run(case, *inputs), case.reference(*inputs), rtol=1e-4, atol=1e-4)

Every strategy takes the same size limits (``max_channels``, ``max_size`` for H
and W, ``max_filter`` for each filter axis), so ``layer_cases(**limits)`` can
pass them to all of them; shrink the limits for slow backends. Every drawn case
has a non-empty output, pooling pads are smaller than the kernel as ONNX
requires, and no max-pool window covers only padding. Weights are generated
from a drawn integer seed, uniform in [-1, 1], so cases are reproducible and
shrink well.

``network_chains`` and ``winograd_convs`` draw small networks with their inputs.
"""

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from xdsl.dialects.builtin import ModuleOp

from small_ir import reference
from small_ir.builder import NetworkBuilder

WEIGHT_KEYS = ("weight", "bias")
MAX_STRIDE = 3
MAX_DILATION = 2
MAX_DEPTH_MULTIPLIER = 3
MAX_GROUPS = 4


@dataclass(frozen=True, eq=False)
class LayerCase:
    """One op with its activation input shapes and its parameters.

    ``params`` holds the weights (float32 arrays under "weight" and, if present,
    "bias") and the attributes, named exactly like the keyword arguments of
    ``reference.OPS[op]``.
    """

    op: str
    input_shapes: tuple[tuple[int, ...], ...]
    params: dict

    @property
    def weights(self) -> list[np.ndarray]:
        """Weight then bias, those that are present, in call order."""
        return [self.params[key] for key in WEIGHT_KEYS if key in self.params]

    @property
    def attributes(self) -> dict:
        """The params that are not weights."""
        return {key: value for key, value in self.params.items() if key not in WEIGHT_KEYS}

    def reference(self, *inputs: np.ndarray) -> np.ndarray:
        """The expected output for these activation inputs."""
        return reference.OPS[self.op](*inputs, *self.weights, **self.attributes)

    def random_inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        """One float32 array per input shape, uniform in [-1, 1]."""
        return [rng.uniform(-1.0, 1.0, shape).astype(np.float32) for shape in self.input_shapes]

    def __repr__(self) -> str:
        shown = {
            key: f"<{value.dtype} array {value.shape}>" if isinstance(value, np.ndarray) else value
            for key, value in self.params.items()
        }
        return f"LayerCase(op={self.op!r}, input_shapes={self.input_shapes!r}, params={shown!r})"


@dataclass(frozen=True)
class _Axis:
    """One spatial axis of a sliding-window op."""

    size: int
    kernel: int
    stride: int
    dilation: int
    pad_begin: int
    pad_end: int


def _draw_axis(draw, max_size: int, max_filter: int, *, dilated: bool, pool: bool) -> _Axis:
    """Draw an axis whose padded size holds at least one full window.

    Convolution pads go up to the filter extent minus one; pooling pads stay
    below the kernel size (ONNX). For max pooling the input is at least as long
    as the dilation, which guarantees every window meets a real element.
    """
    kernel = draw(st.integers(1, max_filter))
    max_dilation = min(MAX_DILATION, max_size) if pool else MAX_DILATION
    dilation = draw(st.integers(1, max_dilation)) if dilated else 1
    min_size = dilation if pool else 1
    size = draw(st.integers(min_size, max_size))
    extent = (kernel - 1) * dilation + 1
    max_pad = kernel - 1 if pool else extent - 1
    shortfall = extent - size
    pad_begin = draw(st.integers(max(0, shortfall - max_pad), max_pad))
    pad_end = draw(st.integers(max(0, shortfall - pad_begin), max_pad))
    stride = draw(st.integers(1, MAX_STRIDE))
    return _Axis(size, kernel, stride, dilation, pad_begin, pad_end)


def _window_params(rows: _Axis, cols: _Axis) -> dict:
    return {
        "strides": (rows.stride, cols.stride),
        "pads": (rows.pad_begin, cols.pad_begin, rows.pad_end, cols.pad_end),
    }


def _uniform_arrays(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, shape).astype(np.float32) for shape in shapes]


def _conv_case(draw, channels_in, channels_out, group, max_size, max_filter) -> LayerCase:
    rows = _draw_axis(draw, max_size, max_filter, dilated=True, pool=False)
    cols = _draw_axis(draw, max_size, max_filter, dilated=True, pool=False)
    has_bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    weight_shape = (channels_out, channels_in // group, rows.kernel, cols.kernel)
    weight, bias = _uniform_arrays(seed, weight_shape, (channels_out,))
    params = {"weight": weight, **({"bias": bias} if has_bias else {})}
    params |= _window_params(rows, cols)
    params |= {"dilations": (rows.dilation, cols.dilation), "group": group}
    return LayerCase("conv2d", ((1, channels_in, rows.size, cols.size),), params)


@st.composite
def conv2d_cases(draw, max_channels: int = 70, max_size: int = 40, max_filter: int = 7) -> LayerCase:
    """Conv layers, ordinary (group 1) or grouped with up to 4 groups."""
    group = draw(st.integers(1, min(MAX_GROUPS, max_channels)))
    in_per_group = draw(st.integers(1, max_channels // group))
    out_per_group = draw(st.integers(1, max_channels // group))
    return _conv_case(draw, in_per_group * group, out_per_group * group, group, max_size, max_filter)


@st.composite
def depthwise_cases(draw, max_channels: int = 70, max_size: int = 40, max_filter: int = 7) -> LayerCase:
    """Depthwise conv layers (group = input channels), depth multiplier 1 to 3."""
    multiplier = draw(st.integers(1, min(MAX_DEPTH_MULTIPLIER, max_channels)))
    channels = draw(st.integers(1, max_channels // multiplier))
    return _conv_case(draw, channels, channels * multiplier, channels, max_size, max_filter)


@st.composite
def pool_cases(draw, max_channels: int = 70, max_size: int = 40, max_filter: int = 7) -> LayerCase:
    """Max pooling (with dilation) and average pooling (both count_include_pad values)."""
    op = draw(st.sampled_from(["max_pool2d", "avg_pool2d"]))
    is_max = op == "max_pool2d"
    channels = draw(st.integers(1, max_channels))
    rows = _draw_axis(draw, max_size, max_filter, dilated=is_max, pool=True)
    cols = _draw_axis(draw, max_size, max_filter, dilated=is_max, pool=True)
    params = {"kernel_shape": (rows.kernel, cols.kernel), **_window_params(rows, cols)}
    if is_max:
        params["dilations"] = (rows.dilation, cols.dilation)
    else:
        params["count_include_pad"] = draw(st.booleans())
    return LayerCase(op, ((1, channels, rows.size, cols.size),), params)


def _image_shape(draw, max_channels: int, max_size: int) -> tuple[int, int, int, int]:
    channels = draw(st.integers(1, max_channels))
    return (1, channels, draw(st.integers(1, max_size)), draw(st.integers(1, max_size)))


def _activation_shape(draw, max_channels: int, max_size: int) -> tuple[int, ...]:
    """An NCHW image or, sometimes, a (1, N) feature vector."""
    if draw(st.booleans()):
        return _image_shape(draw, max_channels, max_size)
    return (1, draw(st.integers(1, max_channels * max_size)))


@st.composite
def global_pool_cases(draw, max_channels: int = 70, max_size: int = 40, max_filter: int = 7) -> LayerCase:
    """Global average pooling over the whole image."""
    return LayerCase("global_avg_pool", (_image_shape(draw, max_channels, max_size),), {})


@st.composite
def dense_cases(draw, max_channels: int = 70, max_size: int = 40, max_filter: int = 7) -> LayerCase:
    """Fully connected layers: up to max_channels * max_size inputs, max_channels outputs."""
    in_features = draw(st.integers(1, max_channels * max_size))
    out_features = draw(st.integers(1, max_channels))
    has_bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    weight, bias = _uniform_arrays(seed, (out_features, in_features), (out_features,))
    params = {"weight": weight, **({"bias": bias} if has_bias else {})}
    return LayerCase("dense", ((1, in_features),), params)


def _float32s(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, width=32, allow_subnormal=False)


@st.composite
def elementwise_cases(draw, max_channels: int = 70, max_size: int = 40, max_filter: int = 7) -> LayerCase:
    """add, sub, mul (two equal shapes), relu, clip, leaky_relu and sigmoid."""
    op = draw(st.sampled_from(["add", "sub", "mul", "relu", "clip", "leaky_relu", "sigmoid"]))
    shape = _activation_shape(draw, max_channels, max_size)
    if op in ("add", "sub", "mul"):
        return LayerCase(op, (shape, shape), {})
    params = {}
    if op == "clip":
        low = draw(_float32s(-1.0, 1.0))
        params = {"min": low, "max": draw(_float32s(low, 1.0))}
    if op == "leaky_relu":
        params = {"alpha": draw(_float32s(0.0, 1.0))}
    return LayerCase(op, (shape,), params)


@st.composite
def softmax_cases(draw, max_channels: int = 70, max_size: int = 40, max_filter: int = 7) -> LayerCase:
    """Softmax along any axis (negative axes too) of an image or a vector."""
    shape = _activation_shape(draw, max_channels, max_size)
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return LayerCase("softmax", (shape,), {"axis": axis})


@st.composite
def concat_cases(draw, max_channels: int = 70, max_size: int = 40, max_filter: int = 7) -> LayerCase:
    """Two to four images joined along channels, height or width."""
    axis = draw(st.sampled_from([1, 2, 3, -1, -2, -3]))
    base = _image_shape(draw, max_channels, max_size)
    limit = max_channels if axis % 4 == 1 else max_size
    lengths = draw(st.lists(st.integers(1, limit), min_size=2, max_size=4))
    shapes = tuple(base[: axis % 4] + (length,) + base[axis % 4 + 1 :] for length in lengths)
    return LayerCase("concat", shapes, {"axis": axis})


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


@st.composite
def reshape_cases(draw, max_channels: int = 70, max_size: int = 40, max_filter: int = 7) -> LayerCase:
    """Image reshaped to a random factorisation of its size, rank 2 to 4, sometimes with one -1."""
    shape = _image_shape(draw, max_channels, max_size)
    remaining = int(np.prod(shape))
    target = [1]
    for _ in range(draw(st.integers(0, 2))):
        dim = draw(st.sampled_from(_divisors(remaining)))
        target.append(dim)
        remaining //= dim
    target.append(remaining)
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return LayerCase("reshape", (shape,), {"shape": tuple(target)})


@st.composite
def flatten_cases(draw, max_channels: int = 70, max_size: int = 40, max_filter: int = 7) -> LayerCase:
    """ONNX Flatten of an image at any axis from -4 to 4."""
    shape = _image_shape(draw, max_channels, max_size)
    return LayerCase("flatten", (shape,), {"axis": draw(st.integers(-4, 4))})


_ALL_CASES = (
    conv2d_cases,
    depthwise_cases,
    pool_cases,
    global_pool_cases,
    dense_cases,
    elementwise_cases,
    softmax_cases,
    concat_cases,
    reshape_cases,
    flatten_cases,
)


def layer_cases(**limits) -> st.SearchStrategy[LayerCase]:
    """Any of the above; limits (max_channels, max_size, max_filter) go to every strategy."""
    return st.one_of([strategy(**limits) for strategy in _ALL_CASES])


@st.composite
def network_chains(draw, max_channels: int = 20, max_size: int = 12):
    """
    A small network and its input (1..max_channels channels, 4..max_size
    pixels square): conv -> relu -> pool -> dense -> softmax, a residual
    block, or a depthwise-separable block.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    channels, size = draw(st.integers(1, max_channels)), draw(st.integers(4, max_size))
    kind = draw(st.sampled_from(["classifier", "residual", "separable"]))
    w = lambda *shape: rng.uniform(-1, 1, shape).astype(np.float32)  # noqa: E731
    net = NetworkBuilder("chain", (1, channels, size, size))
    x = net.input
    if kind == "classifier":
        x = net.relu(net.conv2d(x, w(8, channels, 3, 3), w(8), strides=(2, 2), pads=(1, 1, 1, 1)))
        x = net.max_pool2d(x, kernel_shape=(2, 2), strides=(2, 2))
        flat = net.flatten(x)
        x = net.softmax(net.dense(flat, w(5, flat.shape[1]), w(5)))
    elif kind == "residual":
        y = net.relu(net.conv2d(x, w(channels, channels, 3, 3), w(channels), pads=(1, 1, 1, 1)))
        y = net.conv2d(y, w(channels, channels, 3, 3), None, pads=(1, 1, 1, 1))
        x = net.relu(net.add(y, x))
    else:
        x = net.relu6(net.conv2d(x, w(channels, 1, 3, 3), w(channels), strides=(2, 2), pads=(1, 1, 1, 1), group=channels))
        x = net.relu6(net.conv2d(x, w(24, channels, 1, 1), w(24)))
        x = net.global_avg_pool(x)
    return net.build(x), rng.uniform(-1, 1, (1, channels, size, size)).astype(np.float32)


@dataclass(frozen=True, eq=False)
class NetworkCase:
    """A small nn module, random inputs for it, and a short description (its repr)."""

    description: str
    module: ModuleOp
    inputs: list[np.ndarray]

    def __repr__(self) -> str:
        return self.description


@st.composite
def winograd_convs(draw, max_channels: int = 40, max_size: int = 13):
    """
    A 3x3 conv of stride 1 or 2 (what small-winograd takes) with random
    channels, size, padding, bias and epilogue: none, relu, leaky relu, or a
    residual add (a second input) and relu. Sizes from 1 pixel up, so that
    tiles are cut off by the border.
    """
    c_in, c_out = draw(st.integers(1, max_channels)), draw(st.integers(1, max_channels))
    stride = draw(st.sampled_from((1, 2)))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    height = draw(st.integers(max(1, 3 - pads[0] - pads[2]), max_size))
    width = draw(st.integers(max(1, 3 - pads[1] - pads[3]), max_size))
    epilogue, has_bias = draw(st.sampled_from(("none", "relu", "residual", "leaky"))), draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out_hw = ((height + pads[0] + pads[2] - 3) // stride + 1, (width + pads[1] + pads[3] - 3) // stride + 1)
    out_shape = (1, c_out, *out_hw)
    shapes = [(1, c_in, height, width), *([out_shape] if epilogue == "residual" else [])]
    net = NetworkBuilder("net", *shapes)
    weight = rng.uniform(-1, 1, (c_out, c_in, 3, 3)).astype(np.float32)
    bias = rng.uniform(-1, 1, c_out).astype(np.float32) if has_bias else None
    # through a relu: a network input narrower than C_ob, read by convs only, would be one exact block instead
    y = net.conv2d(net.relu(net.inputs[0]), weight, bias, pads=pads, strides=(stride, stride))
    if epilogue == "relu":
        y = net.relu(y)
    elif epilogue == "leaky":
        y = net.leaky_relu(y, alpha=0.1)
    elif epilogue == "residual":
        y = net.relu(net.add(y, net.inputs[1]))
    description = f"{c_in}->{c_out} channels, {height}x{width}, stride {stride}, pads {pads}, bias {has_bias}, {epilogue}"
    return NetworkCase(description, net.build(y), [rng.uniform(-1, 1, shape).astype(np.float32) for shape in shapes])
