"""The reference semantics agree with onnxruntime on random and hand-picked layers.

Each case is turned into the equivalent single-node ONNX model (opset 17) and run
with onnxruntime's CPU provider. The cases come from small_ir.strategies, so the
strategies are checked to produce valid layers too.
"""

import re

import numpy as np
import onnx
import onnxruntime
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from small_ir import reference
from small_ir.strategies import (
    LayerCase,
    concat_cases,
    conv2d_cases,
    dense_cases,
    depthwise_cases,
    elementwise_cases,
    flatten_cases,
    global_pool_cases,
    layer_cases,
    pool_cases,
    reshape_cases,
    softmax_cases,
)

OPSET = 17
IR_VERSION = 8  # the IR version that introduced opset 17; every onnxruntime >= 1.13 reads it
FEW = settings(max_examples=40, deadline=None)
MANY = settings(max_examples=150, deadline=None)  # the sliding-window ops have the most corners

seeds = st.integers(0, 2**32 - 1)


def _float_tensor(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def _window_attributes(case: LayerCase) -> dict:
    keys = ("kernel_shape", "strides", "pads", "dilations", "group")
    return {key: case.params[key] for key in keys if key in case.params}


def _onnx_node(case: LayerCase, inputs: list[str]) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    """The ONNX node computing case (output "y") and the initializers it needs."""
    weight_names = [f"w{index}" for index in range(len(case.weights))]
    weights = [_float_tensor(name, value) for name, value in zip(weight_names, case.weights)]
    attributes = case.attributes
    match case.op:
        case "conv2d":
            node = helper.make_node("Conv", inputs + weight_names, ["y"], **_window_attributes(case))
        case "max_pool2d":
            node = helper.make_node("MaxPool", inputs, ["y"], **_window_attributes(case))
        case "avg_pool2d":
            include_pad = int(attributes["count_include_pad"])
            node = helper.make_node(
                "AveragePool", inputs, ["y"], count_include_pad=include_pad, **_window_attributes(case)
            )
        case "global_avg_pool":
            node = helper.make_node("GlobalAveragePool", inputs, ["y"])
        case "dense":
            node = helper.make_node("Gemm", inputs + weight_names, ["y"], transB=1)
        case "add" | "sub" | "mul" | "relu" | "sigmoid":
            node = helper.make_node(case.op.capitalize(), inputs, ["y"])
        case "clip":
            bounds = [_float_tensor("min", attributes["min"]), _float_tensor("max", attributes["max"])]
            return helper.make_node("Clip", inputs + ["min", "max"], ["y"]), bounds
        case "leaky_relu":
            node = helper.make_node("LeakyRelu", inputs, ["y"], alpha=attributes["alpha"])
        case "softmax" | "flatten" | "concat":
            node = helper.make_node(case.op.capitalize(), inputs, ["y"], axis=attributes["axis"])
        case "reshape":
            shape = numpy_helper.from_array(np.array(attributes["shape"], dtype=np.int64), "shape")
            return helper.make_node("Reshape", inputs + ["shape"], ["y"]), [shape]
        case _:
            raise AssertionError(f"no ONNX translation for op {case.op!r}")
    return node, weights


def onnxruntime_output(case: LayerCase, inputs: list[np.ndarray]) -> np.ndarray:
    names = [f"x{index}" for index in range(len(inputs))]
    node, initializers = _onnx_node(case, names)
    graph = helper.make_graph(
        [node],
        case.op,
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, x.shape) for name, x in zip(names, inputs)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return session.run(None, dict(zip(names, inputs)))[0]


def assert_matches_onnxruntime(case: LayerCase, seed: int = 0) -> None:
    inputs = case.random_inputs(np.random.default_rng(seed))
    ours = case.reference(*inputs)
    theirs = onnxruntime_output(case, inputs)
    assert ours.dtype == np.float32
    assert ours.shape == theirs.shape, f"{case}: shape {ours.shape} != onnxruntime {theirs.shape}"
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * scale, err_msg=repr(case))


@MANY
@given(case=conv2d_cases(), seed=seeds)
def test_conv2d_matches_onnxruntime(case, seed):
    assert_matches_onnxruntime(case, seed)


@MANY
@given(case=depthwise_cases(), seed=seeds)
def test_depthwise_conv_matches_onnxruntime(case, seed):
    assert_matches_onnxruntime(case, seed)


@MANY
@given(case=pool_cases(), seed=seeds)
def test_pooling_matches_onnxruntime(case, seed):
    assert_matches_onnxruntime(case, seed)


@FEW
@given(case=global_pool_cases(), seed=seeds)
def test_global_avg_pool_matches_onnxruntime(case, seed):
    assert_matches_onnxruntime(case, seed)


@FEW
@given(case=dense_cases(), seed=seeds)
def test_dense_matches_onnxruntime(case, seed):
    assert_matches_onnxruntime(case, seed)


@FEW
@given(case=elementwise_cases(), seed=seeds)
def test_elementwise_matches_onnxruntime(case, seed):
    assert_matches_onnxruntime(case, seed)


@FEW
@given(case=softmax_cases(), seed=seeds)
def test_softmax_matches_onnxruntime(case, seed):
    assert_matches_onnxruntime(case, seed)


@FEW
@given(case=concat_cases(), seed=seeds)
def test_concat_matches_onnxruntime(case, seed):
    assert_matches_onnxruntime(case, seed)


@FEW
@given(case=reshape_cases(), seed=seeds)
def test_reshape_matches_onnxruntime(case, seed):
    assert_matches_onnxruntime(case, seed)


@FEW
@given(case=flatten_cases(), seed=seeds)
def test_flatten_matches_onnxruntime(case, seed):
    assert_matches_onnxruntime(case, seed)


TINY = {"max_channels": 5, "max_size": 6, "max_filter": 3}


@FEW
@given(case=layer_cases(**TINY), seed=seeds)
def test_tiny_layer_cases_stay_within_limits_and_match(case, seed):
    if case.op in ("conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool"):
        _, channels, height, width = case.input_shapes[0]
        assert channels <= TINY["max_channels"]
        assert height <= TINY["max_size"] and width <= TINY["max_size"]
    assert all(size <= TINY["max_filter"] for size in _filter_shape(case))
    assert_matches_onnxruntime(case, seed)


def _filter_shape(case: LayerCase) -> tuple[int, ...]:
    if case.op == "conv2d":
        return case.params["weight"].shape[2:]
    return case.params.get("kernel_shape", ())


def _conv_case(input_shape, weight_shape, bias=True, **attributes) -> LayerCase:
    weight, bias_values = (
        np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
        for shape in (weight_shape, weight_shape[:1])
    )
    params = {"weight": weight, **({"bias": bias_values} if bias else {}), **attributes}
    return LayerCase("conv2d", (input_shape,), params)


EDGE_CASES = {
    "1x1 image, 7x7 filter, same padding": _conv_case((1, 3, 1, 1), (4, 3, 7, 7), pads=(3, 3, 3, 3)),
    "1x1 image, 7x7 filter, lopsided padding": _conv_case(
        (1, 2, 1, 1), (3, 2, 7, 7), pads=(6, 0, 0, 6), strides=(2, 3)
    ),
    "stride 3 dilation 2": _conv_case(
        (1, 5, 17, 13), (6, 5, 3, 4), strides=(3, 3), dilations=(2, 2), pads=(1, 2, 0, 3)
    ),
    "depthwise, multiplier 2": _conv_case(
        (1, 6, 9, 8), (12, 1, 3, 3), bias=False, group=6, pads=(1, 1, 1, 1), strides=(2, 1)
    ),
    "grouped, 3 groups": _conv_case((1, 6, 7, 7), (9, 2, 3, 2), group=3, dilations=(1, 2)),
    "max pool, corner windows mostly padding": LayerCase(
        "max_pool2d", ((1, 2, 3, 3),), {"kernel_shape": (3, 3), "pads": (2, 2, 2, 2)}
    ),
    "max pool, dilated over a 2-pixel row": LayerCase(
        "max_pool2d",
        ((1, 1, 2, 5),),
        {"kernel_shape": (2, 2), "pads": (1, 0, 1, 1), "dilations": (2, 2), "strides": (1, 2)},
    ),
    "avg pool, mostly padding, count real elements": LayerCase(
        "avg_pool2d",
        ((1, 2, 2, 3),),
        {"kernel_shape": (4, 3), "pads": (3, 2, 3, 2), "count_include_pad": False},
    ),
    "avg pool, mostly padding, count padding": LayerCase(
        "avg_pool2d",
        ((1, 2, 2, 3),),
        {"kernel_shape": (4, 3), "pads": (3, 2, 3, 2), "count_include_pad": True},
    ),
    "reshape, 0 copies a dimension": LayerCase("reshape", ((1, 4, 3, 5),), {"shape": (0, 0, -1)}),
    "flatten at axis 0": LayerCase("flatten", ((1, 4, 3, 5),), {"axis": 0}),
}


@pytest.mark.parametrize("case", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_case_matches_onnxruntime(case):
    assert_matches_onnxruntime(case)


def _ones(*shape) -> np.ndarray:
    return np.ones(shape, dtype=np.float32)


BAD_CALLS = {
    "channels not divisible by group": (
        lambda: reference.conv2d(_ones(1, 5, 4, 4), _ones(4, 2, 3, 3), group=2),
        "group=2 must divide",
    ),
    "weight channels disagree with input": (
        lambda: reference.conv2d(_ones(1, 4, 4, 4), _ones(4, 3, 3, 3)),
        "3 input channels per group",
    ),
    "conv output would be empty": (
        lambda: reference.conv2d(_ones(1, 1, 2, 2), _ones(1, 1, 5, 5)),
        "empty output",
    ),
    "pooling pad as large as the kernel": (
        lambda: reference.avg_pool2d(_ones(1, 1, 4, 4), kernel_shape=(2, 2), pads=(2, 0, 0, 0)),
        "smaller than the kernel",
    ),
    "max pool window of padding only": (
        lambda: reference.max_pool2d(
            _ones(1, 1, 1, 3), kernel_shape=(2, 1), pads=(1, 0, 1, 0), dilations=(2, 1)
        ),
        "covers only padding",
    ),
    "dense inner dimension mismatch": (
        lambda: reference.dense(_ones(1, 5), _ones(3, 4)),
        "weight must be (N, 5)",
    ),
    "add without broadcasting": (
        lambda: reference.add(_ones(1, 3, 2, 2), _ones(1, 3, 1, 1)),
        "equal shapes",
    ),
    "concat of mismatched images": (
        lambda: reference.concat(_ones(1, 2, 3, 3), _ones(1, 2, 4, 3), axis=1),
        "agree on all dimensions except axis 1",
    ),
    "reshape to the wrong size": (
        lambda: reference.reshape(_ones(1, 2, 3, 3), shape=(1, 5, -1)),
        "cannot reshape",
    ),
    "clip with min above max": (
        lambda: reference.clip(_ones(1, 4), min=1.0, max=0.0),
        "min <= max",
    ),
    "softmax axis out of range": (
        lambda: reference.softmax(_ones(1, 4), axis=2),
        "out of range",
    ),
    "conv on a 3-D input": (
        lambda: reference.conv2d(_ones(3, 4, 4), _ones(1, 3, 1, 1)),
        "rank 4",
    ),
}


@pytest.mark.parametrize("call, message", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_shapes_raise_value_error(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_output_size_is_floor_mode():
    assert reference.conv2d_output_size(10, 3, 2, 1, 0, 1) == 5
    assert reference.conv2d_output_size(1, 7, 1, 3, 3, 1) == 1
    assert reference.conv2d_output_size(7, 3, 3, 0, 0, 2) == 1


def test_ops_table_names_every_op():
    expected = {
        "conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool", "dense", "add", "sub", "mul", "sigmoid",
        "relu", "clip", "leaky_relu", "softmax", "reshape", "flatten", "concat",
    }  # fmt: skip
    assert set(reference.OPS) == expected
