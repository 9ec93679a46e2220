"""Reference semantics of the network ops: these plain numpy functions are the
ground truth every lowering, pass and generated C kernel is judged against.
They follow ONNX semantics (opset 17, floor-mode output sizes, NCHW layout,
batch 1) on float32 tensors, compute internally in float64 and return
float32, and raise ValueError with a readable message on inconsistent shapes
or attributes instead of silently broadcasting.
"""

from collections.abc import Callable, Sequence

import numpy as np


def conv2d_output_size(
    size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int
) -> int:
    """Floor-mode output length of one spatial axis of a convolution or pooling."""
    if size < 1 or kernel < 1 or stride < 1 or dilation < 1:
        raise ValueError(
            f"size, kernel, stride and dilation must be >= 1, got size={size}, "
            f"kernel={kernel}, stride={stride}, dilation={dilation}"
        )
    if pad_begin < 0 or pad_end < 0:
        raise ValueError(f"pads must be >= 0, got {pad_begin} and {pad_end}")
    extent = (kernel - 1) * dilation + 1
    padded = size + pad_begin + pad_end
    if padded < extent:
        raise ValueError(
            f"empty output: padded size {padded} is smaller than the "
            f"filter extent {extent} (kernel {kernel}, dilation {dilation})"
        )
    return (padded - extent) // stride + 1


def _check_activation(x: np.ndarray, op: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{op} expects an NCHW input of rank 4, got shape {x.shape}")


def _check_pair(name: str, value: Sequence[int]) -> None:
    if len(value) != 2:
        raise ValueError(f"{name} must have 2 entries (H, W), got {tuple(value)}")


def _check_pads(pads: Sequence[int]) -> None:
    if len(pads) != 4:
        raise ValueError(f"pads must be (top, left, bottom, right), got {tuple(pads)}")


def _check_pool_pads(pads: Sequence[int], kernel_shape: Sequence[int]) -> None:
    _check_pads(pads)
    top, left, bottom, right = pads
    kernel_h, kernel_w = kernel_shape
    if max(top, bottom) >= kernel_h or max(left, right) >= kernel_w:
        raise ValueError(
            f"pooling pads {tuple(pads)} must be smaller than the kernel {tuple(kernel_shape)} (as in ONNX)"
        )


def _pad_spatial(x: np.ndarray, pads: Sequence[int], value: float) -> np.ndarray:
    top, left, bottom, right = pads
    widths = ((0, 0), (0, 0), (top, bottom), (left, right))
    return np.pad(x, widths, mode="constant", constant_values=value)


def _output_shape(x, kernel_shape, strides, pads, dilations) -> tuple[int, int]:
    top, left, bottom, right = pads
    out_h = conv2d_output_size(x.shape[2], kernel_shape[0], strides[0], top, bottom, dilations[0])
    out_w = conv2d_output_size(x.shape[3], kernel_shape[1], strides[1], left, right, dilations[1])
    return out_h, out_w


def _taps(padded, kernel_shape, strides, dilations, out_shape):
    """Yield ((i, j), window) for every filter tap; window[..., oh, ow] is the
    padded input element that tap (i, j) reads for output pixel (oh, ow)."""
    out_h, out_w = out_shape
    for i in range(kernel_shape[0]):
        row = i * dilations[0]
        rows = slice(row, row + (out_h - 1) * strides[0] + 1, strides[0])
        for j in range(kernel_shape[1]):
            col = j * dilations[1]
            cols = slice(col, col + (out_w - 1) * strides[1] + 1, strides[1])
            yield (i, j), padded[:, :, rows, cols]


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    *,
    strides: Sequence[int] = (1, 1),
    pads: Sequence[int] = (0, 0, 0, 0),
    dilations: Sequence[int] = (1, 1),
    group: int = 1,
) -> np.ndarray:
    """ONNX Conv. weight is (C_out, C_in // group, Fh, Fw); pads are (top, left, bottom, right)."""
    _check_activation(x, "conv2d")
    _check_pair("strides", strides)
    _check_pair("dilations", dilations)
    _check_pads(pads)
    if weight.ndim != 4:
        raise ValueError(f"conv2d weight must be (C_out, C_in/group, Fh, Fw), got {weight.shape}")
    batch, c_in = x.shape[:2]
    c_out, c_in_per_group, fh, fw = weight.shape
    if group < 1 or c_in % group or c_out % group:
        raise ValueError(
            f"group={group} must divide both input channels ({c_in}) and output channels ({c_out})"
        )
    if c_in_per_group != c_in // group:
        raise ValueError(
            f"weight has {c_in_per_group} input channels per group, but input has "
            f"{c_in} channels in {group} groups"
        )
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(f"bias must have shape ({c_out},), got {bias.shape}")

    out_h, out_w = _output_shape(x, (fh, fw), strides, pads, dilations)
    padded = _pad_spatial(x.astype(np.float64), pads, 0.0)
    # Per group: out[g, m, pixels] += weight[g, m, c, tap] @ window[g, c, pixels]
    grouped_weight = weight.astype(np.float64).reshape(group, c_out // group, c_in_per_group, fh, fw)
    out = np.zeros((batch, group, c_out // group, out_h * out_w))
    for (i, j), window in _taps(padded, (fh, fw), strides, dilations, (out_h, out_w)):
        grouped_window = window.reshape(batch, group, c_in_per_group, out_h * out_w)
        out += grouped_weight[:, :, :, i, j] @ grouped_window
    out = out.reshape(batch, c_out, out_h, out_w)
    if bias is not None:
        out += bias.astype(np.float64).reshape(1, c_out, 1, 1)
    return out.astype(np.float32)


def max_pool2d(
    x: np.ndarray,
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int] = (1, 1),
    pads: Sequence[int] = (0, 0, 0, 0),
    dilations: Sequence[int] = (1, 1),
) -> np.ndarray:
    """ONNX MaxPool; padding never wins (it is -inf). Every window must cover
    at least one real element."""
    _check_activation(x, "max_pool2d")
    for name, value in (("kernel_shape", kernel_shape), ("strides", strides), ("dilations", dilations)):
        _check_pair(name, value)
    _check_pool_pads(pads, kernel_shape)
    out_shape = _output_shape(x, kernel_shape, strides, pads, dilations)
    if not _real_elements_per_window(x, kernel_shape, strides, pads, dilations, out_shape).all():
        # Undefined in ONNX: onnxruntime yields -FLT_MAX, onnx.reference yields 0.
        raise ValueError(
            "max_pool2d has a window that covers only padding (dilation skips "
            f"every input element): input {x.shape}, kernel {tuple(kernel_shape)}, "
            f"pads {tuple(pads)}, dilations {tuple(dilations)}"
        )
    padded = _pad_spatial(x.astype(np.float64), pads, -np.inf)
    out = np.full(x.shape[:2] + out_shape, -np.inf)
    for _, window in _taps(padded, kernel_shape, strides, dilations, out_shape):
        np.maximum(out, window, out=out)
    return out.astype(np.float32)


def avg_pool2d(
    x: np.ndarray,
    *,
    kernel_shape: Sequence[int],
    strides: Sequence[int] = (1, 1),
    pads: Sequence[int] = (0, 0, 0, 0),
    count_include_pad: bool = False,
) -> np.ndarray:
    """ONNX AveragePool. Without count_include_pad each window is divided by
    the number of real (unpadded) elements it covers."""
    _check_activation(x, "avg_pool2d")
    _check_pair("kernel_shape", kernel_shape)
    _check_pair("strides", strides)
    _check_pool_pads(pads, kernel_shape)
    no_dilation = (1, 1)
    out_shape = _output_shape(x, kernel_shape, strides, pads, no_dilation)
    padded = _pad_spatial(x.astype(np.float64), pads, 0.0)
    total = np.zeros(x.shape[:2] + out_shape)
    for _, window in _taps(padded, kernel_shape, strides, no_dilation, out_shape):
        total += window
    if count_include_pad:
        return (total / (kernel_shape[0] * kernel_shape[1])).astype(np.float32)
    count = _real_elements_per_window(x, kernel_shape, strides, pads, no_dilation, out_shape)
    return (total / count).astype(np.float32)


def _real_elements_per_window(x, kernel_shape, strides, pads, dilations, out_shape) -> np.ndarray:
    """How many unpadded input elements each output window reads, shape (1, 1, out_h, out_w)."""
    is_real = _pad_spatial(np.ones((1, 1) + x.shape[2:]), pads, 0.0)
    count = np.zeros((1, 1) + out_shape)
    for _, window in _taps(is_real, kernel_shape, strides, dilations, out_shape):
        count += window
    return count


def global_avg_pool(x: np.ndarray) -> np.ndarray:
    """ONNX GlobalAveragePool: (1, C, H, W) -> (1, C, 1, 1)."""
    _check_activation(x, "global_avg_pool")
    return x.astype(np.float64).mean(axis=(2, 3), keepdims=True).astype(np.float32)


def dense(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """Fully connected layer like torch Linear: x (1, K), weight (N, K), bias (N,) -> (1, N)."""
    if x.ndim != 2:
        raise ValueError(f"dense expects a (1, K) input, got shape {x.shape}")
    if weight.ndim != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"dense weight must be (N, {x.shape[1]}), got {weight.shape}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {bias.shape}")
    out = x.astype(np.float64) @ weight.astype(np.float64).T
    if bias is not None:
        out += bias.astype(np.float64)
    return out.astype(np.float32)


def _check_same_shape(op: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{op} needs equal shapes (no broadcasting), got {a.shape} and {b.shape}")


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _check_same_shape("add", a, b)
    return (a.astype(np.float64) + b.astype(np.float64)).astype(np.float32)


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _check_same_shape("mul", a, b)
    return (a.astype(np.float64) * b.astype(np.float64)).astype(np.float32)


def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _check_same_shape("sub", a, b)
    return (a.astype(np.float64) - b.astype(np.float64)).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.float32(0)).astype(np.float32)


def clip(x: np.ndarray, *, min: float, max: float) -> np.ndarray:  # noqa: A002 (ONNX names)
    if min > max:
        raise ValueError(f"clip needs min <= max, got min={min}, max={max}")
    return np.clip(x.astype(np.float64), min, max).astype(np.float32)


def leaky_relu(x: np.ndarray, *, alpha: float = 0.01) -> np.ndarray:
    wide = x.astype(np.float64)
    return np.where(wide >= 0, wide, alpha * wide).astype(np.float32)


def _normalised_axis(axis: int, rank: int, op: str, allow_end: bool = False) -> int:
    upper = rank if allow_end else rank - 1
    if not -rank <= axis <= upper:
        raise ValueError(f"{op} axis {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def softmax(x: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """ONNX Softmax (opset >= 13): normalises along the single given axis."""
    axis = _normalised_axis(axis, x.ndim, "softmax")
    wide = x.astype(np.float64)
    exp = np.exp(wide - wide.max(axis=axis, keepdims=True))
    return (exp / exp.sum(axis=axis, keepdims=True)).astype(np.float32)


def reshape(x: np.ndarray, *, shape: Sequence[int]) -> np.ndarray:
    """ONNX Reshape in C order: a 0 copies the input dimension at that index,
    one -1 is inferred from the remaining size."""
    if sum(1 for dim in shape if dim == -1) > 1:
        raise ValueError(f"reshape allows at most one -1, got {tuple(shape)}")
    if any(dim < -1 for dim in shape):
        raise ValueError(f"reshape dimensions must be >= -1, got {tuple(shape)}")
    if any(dim == 0 and index >= x.ndim for index, dim in enumerate(shape)):
        raise ValueError(f"reshape 0 copies an input dimension, but input {x.shape} has too few")
    target = [x.shape[index] if dim == 0 else dim for index, dim in enumerate(shape)]
    known = int(np.prod([dim for dim in target if dim != -1]))
    if (-1 in target and (known == 0 or x.size % known)) or (-1 not in target and known != x.size):
        raise ValueError(f"cannot reshape {x.shape} ({x.size} elements) to {tuple(shape)}")
    return x.reshape(target).astype(np.float32)


def flatten(x: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """ONNX Flatten: dimensions before axis form rows, the rest form columns."""
    axis = _normalised_axis(axis, x.ndim, "flatten", allow_end=True)
    rows = int(np.prod(x.shape[:axis]))
    columns = int(np.prod(x.shape[axis:]))
    return x.reshape(rows, columns).astype(np.float32)


def concat(*xs: np.ndarray, axis: int = 1) -> np.ndarray:
    if not xs:
        raise ValueError("concat needs at least one input")
    rank = xs[0].ndim
    if any(x.ndim != rank for x in xs):
        raise ValueError(f"concat inputs must have equal rank, got shapes {[x.shape for x in xs]}")
    axis = _normalised_axis(axis, rank, "concat")
    others = {x.shape[:axis] + x.shape[axis + 1 :] for x in xs}
    if len(others) > 1:
        raise ValueError(
            f"concat inputs must agree on all dimensions except axis {axis}, "
            f"got shapes {[x.shape for x in xs]}"
        )
    return np.concatenate(xs, axis=axis).astype(np.float32)


OPS: dict[str, Callable[..., np.ndarray]] = {
    "conv2d": conv2d,
    "max_pool2d": max_pool2d,
    "avg_pool2d": avg_pool2d,
    "global_avg_pool": global_avg_pool,
    "dense": dense,
    "add": add,
    "sub": sub,
    "sigmoid": sigmoid,
    "mul": mul,
    "relu": relu,
    "clip": clip,
    "leaky_relu": leaky_relu,
    "softmax": softmax,
    "reshape": reshape,
    "flatten": flatten,
    "concat": concat,
}
