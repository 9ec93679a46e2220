"""
The TFLite importer: single-op models built here, run by the TFLite
interpreter and by the compiled C (scalar, avx2), the MLPerf Tiny models, and
bad input.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import small_ir
from small_ir.frontends import ModelImportError, load_model
from small_ir.frontends.tflite import import_tflite
from small_ir.testing import target_params

sys.path.insert(0, str(Path(__file__).parent))
import tflite_builder as tb  # noqa: E402
from tflite_builder import ActivationFunctionType, BuiltinOperator, ModelBuilder, Padding  # noqa: E402

MODELS = Path(__file__).parents[2] / "examples" / "models"
TARGETS = target_params(only=("scalar", "avx2"))  # importer correctness does not depend on the ISA
FEW = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FUSED = st.sampled_from(
    [
        ActivationFunctionType.NONE,
        ActivationFunctionType.RELU,
        ActivationFunctionType.RELU6,
        ActivationFunctionType.RELU_N1_TO_1,
    ]
)
PADDING = st.sampled_from([Padding.SAME, Padding.VALID])
channels = st.integers(1, 20)
size = st.integers(1, 15)
seeds = st.integers(0, 2**32 - 1)


# Helpers.


def import_bytes(data: bytes, name: str = "model.tflite"):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(data)
        return import_tflite(path)


def interpret(data: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Runs a model with TFLite's own kernels (no XNNPACK delegate)."""
    interpreter = Interpreter(
        model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    interpreter.allocate_tensors()
    for detail, array in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], array)
    interpreter.invoke()
    return [interpreter.get_tensor(detail["index"]) for detail in interpreter.get_output_details()]


def check_model(
    model: ModelBuilder,
    inputs: list[int],
    outputs: list[int],
    target: str,
    seed: int,
    reference: ModelBuilder | None = None,
):
    """Imports the model, compiles it for `target`, and compares with the interpreter on random NHWC inputs.
    `reference` is the model the interpreter runs instead (for hybrid models: the float32-weight one)."""
    data = model.build(inputs, outputs)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(model.tensors[index].shape).astype(np.float32) for index in inputs]
    expected = interpret(reference.build(inputs, outputs) if reference else data, arrays)
    imported = import_bytes(data)
    assert imported.io_layout == "nhwc"
    got = small_ir.compile(imported.module, target=target).run(*arrays)
    for actual, wanted in zip(got, expected, strict=True):
        assert actual.shape == wanted.shape
        np.testing.assert_allclose(
            actual, wanted, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(wanted).max(initial=0)))
        )


def out_size(size: int, kernel: int, stride: int, dilation: int, padding: int) -> int:
    """TFLite's output extent: SAME ceil(in / stride), VALID ceil((in - extent + 1) / stride)."""
    extent = dilation * (kernel - 1) + 1
    return -(-size // stride) if padding == Padding.SAME else -(-(size - extent + 1) // stride)


@st.composite
def windows(draw, height: int, width: int, max_kernel: int = 5, dilation: bool = True):
    """padding, kernel, strides, dilations that fit a height x width input."""
    padding = draw(PADDING)
    dilations = tuple(draw(st.integers(1, 2)) for _ in range(2)) if dilation else (1, 1)
    kernel = []
    for extent, d in zip((height, width), dilations):
        # VALID needs the dilated window inside the input; SAME takes any window.
        largest = max_kernel if padding == Padding.SAME else min(max_kernel, (extent - 1) // d + 1)
        kernel.append(draw(st.integers(1, largest)))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(2))
    return padding, tuple(kernel), strides, dilations


def random_weights(rng, shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# Single ops against the interpreter.


@pytest.mark.parametrize("target", TARGETS)
@given(c=channels, k=channels, groups=st.integers(1, 3), h=size, w=size, data=st.data(), activation=FUSED, seed=seeds)
@SOME
def test_conv_2d(target, c, k, groups, h, w, data, activation, seed):
    """Strides 1..3, dilations, SAME/VALID, groups (input channels a multiple of the weights'), fused activations."""
    c, k = max(1, c // groups) * groups, max(1, k // groups) * groups
    padding, kernel, strides, dilations = data.draw(windows(h, w))
    rng = np.random.default_rng(seed)
    model = ModelBuilder()
    x = model.tensor("x", [1, h, w, c])
    weight = model.constant("w", random_weights(rng, (k, *kernel, c // groups)))
    bias = model.constant("b", random_weights(rng, (k,)))
    out = [out_size(n, f, s, d, padding) for n, f, s, d in zip((h, w), kernel, strides, dilations)]
    y = model.tensor("y", [1, *out, k])
    model.op(
        BuiltinOperator.CONV_2D, [x, weight, bias], [y], tb.conv2d_options(padding, strides, dilations, activation)
    )
    check_model(model, [x], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(c=channels, multiplier=st.integers(1, 2), h=size, w=size, data=st.data(), activation=FUSED, seed=seeds)
@SOME
def test_depthwise_conv_2d(target, c, multiplier, h, w, data, activation, seed):
    padding, kernel, strides, dilations = data.draw(windows(h, w))
    rng = np.random.default_rng(seed)
    model = ModelBuilder()
    x = model.tensor("x", [1, h, w, c])
    weight = model.constant("w", random_weights(rng, (1, *kernel, c * multiplier)))
    inputs = [x, weight, model.constant("b", random_weights(rng, (c * multiplier,)))]  # TFLite requires the bias
    out = [out_size(n, f, s, d, padding) for n, f, s, d in zip((h, w), kernel, strides, dilations)]
    y = model.tensor("y", [1, *out, c * multiplier])
    options = tb.depthwise_options(padding, strides, dilations, multiplier, activation)
    model.op(BuiltinOperator.DEPTHWISE_CONV_2D, inputs, [y], options)
    check_model(model, [x], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(k=st.integers(1, 40), n=channels, bias=st.booleans(), activation=FUSED, seed=seeds)
@FEW
def test_fully_connected(target, k, n, bias, activation, seed):
    rng = np.random.default_rng(seed)
    model = ModelBuilder()
    x = model.tensor("x", [1, k])
    weight = model.constant("w", random_weights(rng, (n, k)))
    y = model.tensor("y", [1, n])
    inputs = [x, weight, model.constant("b", random_weights(rng, (n,))) if bias else -1]
    model.op(BuiltinOperator.FULLY_CONNECTED, inputs, [y], tb.fully_connected_options(activation))
    check_model(model, [x], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(c=channels, h=size, w=size, reshape=st.booleans(), seed=seeds)
@SOME
def test_fully_connected_on_nhwc_tensor(target, c, h, w, reshape, seed):
    """FC after a RESHAPE that flattens NHWC, or directly on the 4-D tensor: the weights follow the NHWC order."""
    rng = np.random.default_rng(seed)
    model = ModelBuilder()
    x = model.tensor("x", [1, h, w, c])
    fc_input = x
    if reshape:
        fc_input = model.tensor("flat", [1, h * w * c])
        model.op(BuiltinOperator.RESHAPE, [x, model.constant("shape", np.array([1, -1], np.int32))], [fc_input])
    y = model.tensor("y", [1, 7])
    model.op(
        BuiltinOperator.FULLY_CONNECTED,
        [fc_input, model.constant("w", random_weights(rng, (7, h * w * c))), -1],
        [y],
        tb.fully_connected_options(),
    )
    check_model(model, [x], [y], target, seed)


BINARY = {
    BuiltinOperator.ADD: tb.add_options,
    BuiltinOperator.SUB: tb.sub_options,
    BuiltinOperator.MUL: tb.mul_options,
}


@pytest.mark.parametrize("target", TARGETS)
@given(code=st.sampled_from(list(BINARY)), c=channels, h=size, w=size, flat=st.booleans(), activation=FUSED, seed=seeds)
@FEW
def test_binary_two_tensors(target, code, c, h, w, flat, activation, seed):
    shape = [1, c * h * w] if flat else [1, h, w, c]
    model = ModelBuilder()
    a, b, y = model.tensor("a", shape), model.tensor("b", shape), model.tensor("y", shape)
    model.op(code, [a, b], [y], BINARY[code](activation))
    check_model(model, [a, b], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(
    code=st.sampled_from(list(BINARY)),
    c=channels,
    h=size,
    w=size,
    flat=st.booleans(),
    constant_shape=st.sampled_from(["scalar", "vector", "full rank"]),
    constant_first=st.booleans(),
    activation=FUSED,
    seed=seeds,
)
@SOME
def test_binary_with_constant(target, code, c, h, w, flat, constant_shape, constant_first, activation, seed):
    """A scalar or per-channel constant on either side: a 1x1 depthwise conv."""
    shape = [1, c] if flat else [1, h, w, c]
    constant = {"scalar": [], "vector": [c], "full rank": [1] * (len(shape) - 1) + [c]}[constant_shape]
    model = ModelBuilder()
    x, y = model.tensor("x", shape), model.tensor("y", shape)
    k = model.constant("k", random_weights(np.random.default_rng(seed + 1), constant))
    model.op(code, [k, x] if constant_first else [x, k], [y], BINARY[code](activation))
    check_model(model, [x], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(
    code=st.sampled_from([BuiltinOperator.AVERAGE_POOL_2D, BuiltinOperator.MAX_POOL_2D]),
    c=channels,
    h=size,
    w=size,
    data=st.data(),
    activation=FUSED,
    seed=seeds,
)
@SOME
def test_pool(target, code, c, h, w, data, activation, seed):
    """TFLite's average pool leaves the SAME padding out of the average."""
    padding, kernel, strides, _ = data.draw(windows(h, w, dilation=False))
    model = ModelBuilder()
    x = model.tensor("x", [1, h, w, c])
    y = model.tensor("y", [1, *[out_size(n, f, s, 1, padding) for n, f, s in zip((h, w), kernel, strides)], c])
    model.op(code, [x], [y], tb.pool_options(kernel, padding, strides, activation))
    check_model(model, [x], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(c=channels, h=size, w=size, keep_dims=st.booleans(), seed=seeds)
@FEW
def test_mean_over_height_and_width(target, c, h, w, keep_dims, seed):
    model = ModelBuilder()
    x = model.tensor("x", [1, h, w, c])
    y = model.tensor("y", [1, 1, 1, c] if keep_dims else [1, c])
    model.op(
        BuiltinOperator.MEAN,
        [x, model.constant("axes", np.array([1, 2], np.int32))],
        [y],
        tb.reducer_options(keep_dims),
    )
    check_model(model, [x], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(c=channels, h=size, w=size, flat=st.booleans(), seed=seeds)
@FEW
def test_softmax_over_channels(target, c, h, w, flat, seed):
    shape = [1, c] if flat else [1, h, w, c]
    model = ModelBuilder()
    x, y = model.tensor("x", shape), model.tensor("y", shape)
    model.op(BuiltinOperator.SOFTMAX, [x], [y], tb.softmax_options(1.0))
    check_model(model, [x], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(counts=st.lists(channels, min_size=1, max_size=3), h=size, w=size, axis=st.sampled_from([3, -1]), seed=seeds)
@FEW
def test_concatenation_on_channels(target, counts, h, w, axis, seed):
    model = ModelBuilder()
    xs = [model.tensor(f"x{i}", [1, h, w, c]) for i, c in enumerate(counts)]
    y = model.tensor("y", [1, h, w, sum(counts)])
    model.op(BuiltinOperator.CONCATENATION, xs, [y], tb.concatenation_options(axis))
    check_model(model, xs, [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(
    code=st.sampled_from(
        [
            BuiltinOperator.RELU,
            BuiltinOperator.RELU6,
            BuiltinOperator.RELU_N1_TO_1,
            BuiltinOperator.LOGISTIC,
            BuiltinOperator.LEAKY_RELU,
        ]
    ),
    c=channels,
    h=size,
    w=size,
    seed=seeds,
)
@FEW
def test_activation_ops(target, code, c, h, w, seed):
    model = ModelBuilder()
    x, y = model.tensor("x", [1, h, w, c]), model.tensor("y", [1, h, w, c])
    model.op(code, [x], [y], tb.leaky_relu_options(0.2) if code == BuiltinOperator.LEAKY_RELU else None)
    check_model(model, [x], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(
    consumer=st.sampled_from(
        [BuiltinOperator.CONV_2D, BuiltinOperator.DEPTHWISE_CONV_2D, BuiltinOperator.AVERAGE_POOL_2D]
    ),
    c=channels,
    h=size,
    w=size,
    pads=st.lists(st.integers(0, 2), min_size=4, max_size=4),
    padding=PADDING,
    seed=seeds,
)
@SOME
def test_pad_folded_into_consumer(target, consumer, c, h, w, pads, padding, seed):
    """PAD then a conv or depthwise conv (SAME or VALID) or an average pool (VALID: the PAD's zeros count)."""
    top, bottom, left, right = pads
    if consumer == BuiltinOperator.AVERAGE_POOL_2D:
        padding = Padding.VALID
    rng = np.random.default_rng(seed)
    model = ModelBuilder()
    x = model.tensor("x", [1, h, w, c])
    ph, pw = h + top + bottom, w + left + right
    padded = model.tensor("padded", [1, ph, pw, c])
    model.op(
        BuiltinOperator.PAD,
        [x, model.constant("paddings", np.array([[0, 0], [top, bottom], [left, right], [0, 0]], np.int32))],
        [padded],
        tb.pad_options(),
    )
    kernel = (min(3, ph), min(3, pw))
    out = [out_size(n, f, 1, 1, padding) for n, f in zip((ph, pw), kernel)]
    if consumer == BuiltinOperator.CONV_2D:
        y = model.tensor("y", [1, *out, 5])
        inputs = [
            padded,
            model.constant("w", random_weights(rng, (5, *kernel, c))),
            model.constant("b", random_weights(rng, (5,))),
        ]
        model.op(consumer, inputs, [y], tb.conv2d_options(padding))
    elif consumer == BuiltinOperator.DEPTHWISE_CONV_2D:
        y = model.tensor("y", [1, *out, c])
        inputs = [
            padded,
            model.constant("w", random_weights(rng, (1, *kernel, c))),
            model.constant("b", random_weights(rng, (c,))),
        ]
        model.op(consumer, inputs, [y], tb.depthwise_options(padding))
    else:
        y = model.tensor("y", [1, *out, c])
        model.op(consumer, [padded], [y], tb.pool_options(kernel, padding))
    check_model(model, [x], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(c=channels, h=size, w=size, n=st.integers(1, 40), seed=seeds)
@FEW
def test_reshapes_that_keep_the_nchw_order(target, c, h, w, n, seed):
    """Reshapes whose NHWC and NCHW element orders agree become nn.reshape."""
    model = ModelBuilder()
    inputs, outputs = [], []
    for before, after in [
        ([1, 1, 1, c], [1, c]),
        ([1, n], [1, 1, 1, n]),
        ([1, h, w, c], [1, h * w, 1, c]),
        ([1, h, w, 1], [1, h * w]),
    ]:
        inputs.append(model.tensor(f"x{len(inputs)}", before))
        outputs.append(model.tensor(f"y{len(outputs)}", after))
        model.op(
            BuiltinOperator.RESHAPE,
            [inputs[-1], model.constant(f"shape{len(inputs)}", np.array(after, np.int32))],
            [outputs[-1]],
        )
    check_model(model, inputs, outputs, target, seed)


# Weights stored as float16 or int8.


def conv_with_weights(weight_of, k: int, c: int, h: int, w: int, kind: int, seed: int) -> tuple[ModelBuilder, int, int]:
    """A single CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED whose weights tensor `weight_of(model, shape)` makes."""
    rng = np.random.default_rng(seed)
    model = ModelBuilder()
    if kind == BuiltinOperator.FULLY_CONNECTED:
        x, y = model.tensor("x", [1, c]), model.tensor("y", [1, k])
        model.op(
            kind,
            [x, weight_of(model, (k, c)), model.constant("b", random_weights(rng, (k,)))],
            [y],
            tb.fully_connected_options(),
        )
        return model, x, y
    x = model.tensor("x", [1, h, w, c])
    if kind == BuiltinOperator.CONV_2D:
        y = model.tensor("y", [1, h, w, k])
        model.op(
            kind,
            [x, weight_of(model, (k, 3, 3, c)), model.constant("b", random_weights(rng, (k,)))],
            [y],
            tb.conv2d_options(),
        )
    else:
        y = model.tensor("y", [1, h, w, c])
        model.op(
            kind,
            [x, weight_of(model, (1, 3, 3, c)), model.constant("b", random_weights(rng, (c,)))],
            [y],
            tb.depthwise_options(),
        )
    return model, x, y


WEIGHTED = st.sampled_from(
    [BuiltinOperator.CONV_2D, BuiltinOperator.DEPTHWISE_CONV_2D, BuiltinOperator.FULLY_CONNECTED]
)


def output_channel_dimension(kind: int) -> int:
    """Where the weights keep their output channels: 3 for depthwise [1,H,W,C*M], else 0."""
    return 3 if kind == BuiltinOperator.DEPTHWISE_CONV_2D else 0


@pytest.mark.parametrize("target", TARGETS)
@given(kind=WEIGHTED, k=channels, c=channels, h=size, w=size, seed=seeds)
@FEW
def test_float16_weights_through_dequantize(target, kind, k, c, h, w, seed):
    rng = np.random.default_rng(seed)

    def float16_weights(model, shape):
        weights = model.tensor("w", shape)
        model.op(
            BuiltinOperator.DEQUANTIZE,
            [model.constant("w16", rng.standard_normal(shape).astype(np.float16))],
            [weights],
        )
        return weights

    model, x, y = conv_with_weights(float16_weights, k, c, h, w, kind, seed)
    check_model(model, [x], [y], target, seed)


def int8_weights(rng, shape, dimension: int, per_channel: bool, zero_points: bool):
    """Random int8 values with (scales, zero points, dimension), per tensor or per channel along `dimension`."""
    count = shape[dimension] if per_channel else 1
    scales = rng.uniform(0.001, 0.05, count)
    zero = rng.integers(-20, 20, count) if zero_points else np.zeros(count, np.int64)
    values = rng.integers(-127, 128, shape).astype(np.int8)
    broadcast = [1] * len(shape)
    broadcast[dimension] = count
    floats = ((values.astype(np.float64) - zero.reshape(broadcast)) * scales.reshape(broadcast)).astype(np.float32)
    return values, (scales, zero, dimension), floats


@pytest.mark.parametrize("target", TARGETS)
@given(kind=WEIGHTED, k=channels, c=channels, h=size, w=size, per_channel=st.booleans(), seed=seeds)
@FEW
def test_int8_weights_through_dequantize(target, kind, k, c, h, w, per_channel, seed):
    """DEQUANTIZE of int8 constants with zero points, per tensor or per output channel."""
    rng = np.random.default_rng(seed)

    def dequantized(model, shape):
        dimension = output_channel_dimension(kind)
        values, quantization, _ = int8_weights(rng, shape, dimension, per_channel, zero_points=True)
        weights = model.tensor("w", shape)
        model.op(BuiltinOperator.DEQUANTIZE, [model.constant("w8", values, quantization)], [weights])
        return weights

    model, x, y = conv_with_weights(dequantized, k, c, h, w, kind, seed)
    check_model(model, [x], [y], target, seed)


@pytest.mark.parametrize("target", TARGETS)
@given(kind=WEIGHTED, k=channels, c=channels, h=size, w=size, per_channel=st.booleans(), seed=seeds)
@FEW
def test_hybrid_int8_weights(target, kind, k, c, h, w, per_channel, seed):
    """Dynamic-range models: float inputs meet int8 weights with scales. The interpreter runs those with
    hybrid kernels (it quantizes the input), so the reference is the same model with float32 weights."""
    quantized = []

    def hybrid(model, shape):
        rng, dimension = np.random.default_rng(seed), output_channel_dimension(kind)
        values, quantization, floats = int8_weights(rng, shape, dimension, per_channel, zero_points=False)
        quantized.append(floats)
        return model.constant("w", values, quantization)

    def dequantized(model, shape):
        return model.constant("w", quantized[0])

    model, x, y = conv_with_weights(hybrid, k, c, h, w, kind, seed)
    reference, _, _ = conv_with_weights(dequantized, k, c, h, w, kind, seed)
    check_model(model, [x], [y], target, seed, reference=reference)

    # The interpreter's hybrid kernels agree roughly (they quantize the input to 8 bits);
    # its hybrid depthwise conv only takes per-channel scales.
    if kind == BuiltinOperator.DEPTHWISE_CONV_2D and not per_channel:
        return
    data = model.build([x], [y])
    inputs = [np.random.default_rng(seed).standard_normal(model.tensors[x].shape).astype(np.float32)]
    (hybrid_output,) = interpret(data, inputs)
    (float_output,) = interpret(reference.build([x], [y]), inputs)
    np.testing.assert_allclose(hybrid_output, float_output, atol=0.05 * max(1.0, float(np.abs(float_output).max())))


# The MLPerf Tiny models.

FLOAT_MODELS = [
    "ic_resnet8_float",
    "kws_dscnn_float",
    "vww_mobilenetv1_float",
    "ad_autoencoder_float",
    "kws_dscnn_hybrid",
]


@pytest.mark.parametrize("name", FLOAT_MODELS)
def test_mlperf_float_models_import(name):
    model = load_model(MODELS / f"{name}.tflite")
    assert model.io_layout == "nhwc"
    assert model.input_names == ["input_1"] and model.output_names == ["Identity"]
    model.module.verify()


def test_kws_dscnn_float_runs_like_the_interpreter():
    data = (MODELS / "kws_dscnn_float.tflite").read_bytes()
    features = np.random.default_rng(0).standard_normal((1, 49, 10, 1)).astype(np.float32)
    (expected,) = interpret(data, [features])
    (got,) = small_ir.compile(import_bytes(data).module, target="scalar").run(features)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "name, ops",
    [
        (
            "ic_resnet8_int8",
            {"CONV_2D": 9, "ADD": 3, "AVERAGE_POOL_2D": 1, "RESHAPE": 1, "FULLY_CONNECTED": 1, "SOFTMAX": 1},
        ),
        (
            "kws_dscnn_int8",
            {
                "CONV_2D": 5,
                "DEPTHWISE_CONV_2D": 4,
                "AVERAGE_POOL_2D": 1,
                "RESHAPE": 1,
                "FULLY_CONNECTED": 1,
                "SOFTMAX": 1,
            },
        ),
        ("ad_autoencoder_int8", {"FULLY_CONNECTED": 10}),
    ],
)
def test_mlperf_int8_models_are_reported(name, ops):
    with pytest.raises(ModelImportError) as error:
        import_tflite(MODELS / f"{name}.tflite")
    assert str(MODELS / f"{name}.tflite") in str(error.value)
    assert all(problem.endswith("int8 activations: use the float or hybrid model") for problem in error.value.problems)
    for op, count in ops.items():
        assert sum(f"({op}):" in problem for problem in error.value.problems) == count


def test_mlperf_vww_int8_is_reported():
    with pytest.raises(ModelImportError, match=r"\(DEPTHWISE_CONV_2D\): int8 activations"):
        import_tflite(MODELS / "vww_mobilenetv1_int8.tflite")


# Bad input: one ModelImportError naming the file and the op or tensor.


def conv_model(weight_shape=(4, 3, 3, 3), weight_buffer=None) -> bytes:
    model = ModelBuilder()
    x = model.tensor("x", [1, 6, 6, 3])
    if weight_buffer is None:
        weight = model.constant("w", np.zeros(weight_shape, np.float32))
    else:
        weight = model.tensor("w", weight_shape, buffer=weight_buffer)
    y = model.tensor("y", [1, 6, 6, weight_shape[0]])
    model.op(
        BuiltinOperator.CONV_2D,
        [x, weight, model.constant("b", np.zeros(weight_shape[0], np.float32))],
        [y],
        tb.conv2d_options(),
    )
    return model.build([x], [y])


def import_error(data: bytes) -> str:
    with pytest.raises(ModelImportError) as error:
        import_bytes(data, "bad.tflite")
    message = str(error.value)
    assert "bad.tflite: cannot import the model" in message
    return message


def test_truncated_file():
    assert "corrupt or truncated TFLite flatbuffer" in import_error(conv_model()[:300])


@given(cut=st.integers(0, len(conv_model()) - 1))
@settings(max_examples=50, deadline=None)
def test_any_truncation_is_a_clean_error(cut):
    import_error(conv_model()[:cut])


def test_wrong_magic():
    data = bytearray(conv_model())
    data[4:8] = b"ONNX"
    assert "not a TFLite model: the file identifier is b'ONNX', expected b'TFL3'" in import_error(bytes(data))


def test_inconsistent_weight_shape():
    message = import_error(conv_model(weight_shape=(4, 3, 3, 2)))
    assert "node 'y' (CONV_2D): the weights take 2 input channels, the input has 3" in message


def test_missing_weight_buffer():
    assert "node 'y' (CONV_2D): tensor 'w' has no data (its buffer 0 is empty) and no op computes it" in import_error(
        conv_model(weight_buffer=0)
    )
    assert "tensor 'w' has no data (its buffer 77 does not exist (the model has 2))" in import_error(
        conv_model(weight_buffer=77)
    )


def one_op_model(code, options=None, shape=(1, 4, 4, 3), custom_code=None, out_shape=None) -> bytes:
    model = ModelBuilder()
    x, y = model.tensor("x", shape), model.tensor("y", out_shape or shape)
    model.op(code, [x], [y], options, custom_code=custom_code)
    return model.build([x], [y])


@pytest.mark.parametrize(
    "data, expected",
    [
        (one_op_model(BuiltinOperator.TANH), "node 'y' (TANH): TANH is not supported"),
        (
            one_op_model(BuiltinOperator.CUSTOM, custom_code="MyOp"),
            "node 'y' (CUSTOM 'MyOp'): custom ops are not supported",
        ),
        (
            one_op_model(BuiltinOperator.SOFTMAX, tb.softmax_options(0.5)),
            "node 'y' (SOFTMAX): beta 0.5 is not supported (only 1)",
        ),
        (
            one_op_model(BuiltinOperator.MAX_POOL_2D, tb.pool_options((2, 2), activation=ActivationFunctionType.TANH)),
            "node 'y' (MAX_POOL_2D): fused activation TANH is not supported",
        ),
        (
            one_op_model(BuiltinOperator.CONCATENATION, tb.concatenation_options(1), out_shape=(1, 4, 4, 3)),
            "node 'y' (CONCATENATION): concatenation on axis 1 of 4-D tensors",
        ),
        (
            one_op_model(BuiltinOperator.CONCATENATION, tb.concatenation_options(3, ActivationFunctionType.RELU)),
            "node 'y' (CONCATENATION): a fused activation on CONCATENATION is not supported (TFLite rejects it too)",
        ),
        (
            one_op_model(BuiltinOperator.RESHAPE, tb.reshape_options([1, 4, 12]), out_shape=(1, 4, 12)),
            "node 'y' (RESHAPE): tensor 'y' has shape [1, 4, 12]; small-ir takes 1xN and 1xHxWxC tensors (batch 1)",
        ),
        (
            one_op_model(BuiltinOperator.RESHAPE, tb.reshape_options([1, 48]), out_shape=(1, 48)),
            "node 'y' (RESHAPE): reshaping [1, 4, 4, 3] to [1, 48] reorders the data in NCHW",
        ),
        (one_op_model(BuiltinOperator.RELU, shape=(2, 4, 4, 3)), "node 'x' (input): tensor 'x' has shape [2, 4, 4, 3]"),
    ],
)
def test_unsupported_ops_are_reported(data, expected):
    assert expected in import_error(data)


def test_every_problem_is_reported_at_once():
    """Two unsupported ops and a PAD that cannot be folded (its consumer is a max pool)."""
    model = ModelBuilder()
    x = model.tensor("x", [1, 4, 4, 3])
    a, b, padded, c = (
        model.tensor(name, shape)
        for name, shape in [("a", [1, 4, 4, 3]), ("b", [1, 4, 4, 3]), ("padded", [1, 6, 6, 3]), ("c", [1, 3, 3, 3])]
    )
    model.op(BuiltinOperator.TANH, [x], [a])
    model.op(BuiltinOperator.RELU, [a], [b])  # its input is already reported: nothing more to say
    paddings = model.constant("paddings", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    model.op(BuiltinOperator.PAD, [x, paddings], [padded], tb.pad_options())
    model.op(BuiltinOperator.MAX_POOL_2D, [padded], [c], tb.pool_options((2, 2), Padding.VALID, (2, 2)))
    d = model.tensor("d", [1, 4, 4, 3])
    model.op(BuiltinOperator.HARD_SWISH, [x], [d])
    message = import_error(model.build([x], [b, c, d]))
    assert "(3 problems)" in message
    assert "node 'a' (TANH)" in message and "node 'd' (HARD_SWISH)" in message
    assert (
        "node 'padded' (PAD): a PAD is folded into the conv, depthwise conv or average pool (VALID) that is its only consumer; this one feeds MAX_POOL_2D"
        in message
    )


def test_pad_before_average_pool_with_same_padding_is_reported():
    model = ModelBuilder()
    x, padded, y = (
        model.tensor("x", [1, 4, 4, 3]),
        model.tensor("padded", [1, 6, 6, 3]),
        model.tensor("y", [1, 6, 6, 3]),
    )
    paddings = model.constant("paddings", np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    model.op(BuiltinOperator.PAD, [x, paddings], [padded], tb.pad_options())
    model.op(BuiltinOperator.AVERAGE_POOL_2D, [padded], [y], tb.pool_options((3, 3), Padding.SAME))
    assert "node 'padded' (PAD): a PAD is folded into" in import_error(model.build([x], [y]))


def test_extra_subgraphs_are_reported():
    model = ModelBuilder()
    x, y = model.tensor("x", [1, 4]), model.tensor("y", [1, 4])
    model.op(BuiltinOperator.RELU, [x], [y])
    message = import_error(model.build([x], [y], extra_subgraphs=["while_cond", "while_body"]))
    assert "(2 problems)" in message
    assert "node 'while_body' (SUBGRAPH): only single-subgraph models are supported" in message


def test_binary_operands_that_do_not_broadcast_per_channel_are_reported():
    model = ModelBuilder()
    x, other, y, z = (
        model.tensor("x", [1, 4, 4, 3]),
        model.tensor("other", [1, 1, 1, 3]),
        model.tensor("y", [1, 4, 4, 3]),
        model.tensor("z", [1, 4, 4, 3]),
    )
    model.op(BuiltinOperator.MUL, [x, model.constant("k", np.ones((1, 4, 4, 3), np.float32))], [y], tb.mul_options())
    model.op(BuiltinOperator.ADD, [x, other], [z], tb.add_options())
    message = import_error(model.build([x, other], [y, z]))
    assert "node 'y' (MUL): constant 'k' of shape [1, 4, 4, 3] does not broadcast per channel (3 channels)" in message
    assert "node 'z' (ADD): broadcasting [1, 4, 4, 3] with [1, 1, 1, 3] is not supported" in message
