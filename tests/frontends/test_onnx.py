"""The ONNX importer: imported models agree with onnxruntime, the MLPerf Tiny models import, and bad models
are reported by file and node.

Each model is built with `onnx.helper`, run by onnxruntime (CPU provider, no graph optimizations), saved,
imported, compiled for each host target, and run on the same inputs. Several ops of a family share one
model (one output each) to keep the number of C compilations down.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import small_ir
from small_ir.frontends import ImportedModel, ModelImportError, load_model
from small_ir.frontends.onnx import import_onnx
from small_ir.testing import assert_close, target_params

MODELS = Path(__file__).parents[2] / "examples" / "models"
TARGETS = target_params(only=("scalar", "avx2"))  # importer correctness does not depend on the ISA
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class OnnxCase:
    """A model and its inputs; printed as ONNX text when a test fails."""

    def __init__(self, model: onnx.ModelProto, inputs: dict[str, np.ndarray]):
        self.model = model
        self.inputs = inputs

    def __repr__(self) -> str:
        graph = onnx.GraphProto()
        graph.CopyFrom(self.model.graph)
        del graph.initializer[:]
        constants = {
            tensor.name: numpy_helper.to_array(tensor).tolist() if np.prod(tensor.dims) <= 8 else tuple(tensor.dims)
            for tensor in self.model.graph.initializer
        }
        inputs = {name: value.shape for name, value in self.inputs.items()}
        opset = self.model.opset_import[0].version
        return f"OnnxCase(opset {opset}, inputs {inputs}, initializers {constants}):\n{onnx.printer.to_text(graph)}"


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: dict[str, Sequence[int | str]],
    initializers: dict[str, np.ndarray] | None = None,
    outputs: Sequence[str] = ("y",),
    opset: int = 13,
    output_rank: int | None = None,
) -> onnx.ModelProto:
    """Outputs have no shape unless `output_rank` is given (the ONNX checker needs one: see `with_output_shapes`)."""
    output_shape = None if output_rank is None else [None] * output_rank
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in inputs.items()],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, output_shape) for name in outputs],
        [numpy_helper.from_array(np.asarray(value), name) for name, value in (initializers or {}).items()],
    )
    opsets = [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def uniform(rng: np.random.Generator, shape: Sequence[int], low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return rng.uniform(low, high, shape).astype(np.float32)


def onnxruntime_outputs(case: OnnxCase) -> list[np.ndarray]:
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(case.model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, case.inputs)


def save_and_import(model: onnx.ModelProto, directory: Path) -> ImportedModel:
    path = directory / "model.onnx"
    onnx.save(model, path)
    return import_onnx(path)


def with_output_shapes(model: onnx.ModelProto, outputs: Sequence[np.ndarray]) -> onnx.ModelProto:
    """The model with its graph outputs typed as onnxruntime computed them (the ONNX checker needs shapes)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for value, array in zip(model.graph.output, outputs):
        value.CopyFrom(helper.make_tensor_value_info(value.name, TensorProto.FLOAT, array.shape))
    return model


def import_case(case: OnnxCase, expected: Sequence[np.ndarray]) -> ImportedModel:
    with tempfile.TemporaryDirectory() as directory:
        return save_and_import(with_output_shapes(case.model, expected), Path(directory))


def assert_runs_like_onnxruntime(
    imported: ImportedModel, case: OnnxCase, expected: Sequence[np.ndarray], target: str
) -> None:
    assert imported.output_names == [value.name for value in case.model.graph.output]
    compiled = small_ir.compile(imported.module, target=target)
    actual = compiled.run(*(case.inputs[name] for name in imported.input_names))
    assert len(actual) == len(expected)
    for ours, theirs in zip(actual, expected):
        assert_close(ours, theirs)


def check_case(case: OnnxCase, target: str) -> ImportedModel:
    expected = onnxruntime_outputs(case)
    imported = import_case(case, expected)
    assert_runs_like_onnxruntime(imported, case, expected, target)
    return imported


def nn_ops(imported: ImportedModel) -> list[str]:
    return [op.name for op in imported.module.walk() if op.dialect_name() == "nn"]


def pairs(draw, low: int, high: int) -> list[int]:
    return [draw(st.integers(low, high)), draw(st.integers(low, high))]


# Conv, with an optional Pad before it and an optional BatchNormalization after it (both folded).


@st.composite
def conv_cases(draw) -> OnnxCase:
    opset = draw(st.sampled_from([11, 13, 17, 21]))
    if draw(st.booleans()):  # depthwise, with a channel multiplier of 1 or 2
        group = channels = draw(st.integers(1, 20))
        out_channels = channels * draw(st.integers(1, 2))
    else:
        group = draw(st.integers(1, 4))
        channels = group * draw(st.integers(1, 20 // group))
        out_channels = group * draw(st.integers(1, 5))
    kernel, strides = pairs(draw, 1, 5), pairs(draw, 1, 3)
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"]))
    dilations = [1, 1] if auto_pad.startswith("SAME") else pairs(draw, 1, 2)
    pads = [draw(st.integers(0, 3)) for _ in range(4)] if auto_pad == "NOTSET" else [0, 0, 0, 0]
    padding = [draw(st.integers(0, 2)) for _ in range(4)] if draw(st.booleans()) else None
    before = padding or [0, 0, 0, 0]
    extents = [d * (k - 1) + 1 for d, k in zip(dilations, kernel)]
    height = draw(st.integers(max(1, extents[0] - pads[0] - pads[2] - before[0] - before[2]), 15))
    width = draw(st.integers(max(1, extents[1] - pads[1] - pads[3] - before[1] - before[3]), 15))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))

    weights = {"w": uniform(rng, (out_channels, channels // group, *kernel))}
    conv_inputs = ["padded" if padding else "x", "w"]
    if draw(st.booleans()):
        weights["b"] = uniform(rng, (out_channels,))
        conv_inputs.append("b")
    attributes = {"group": group, "strides": strides, "dilations": dilations}
    attributes |= {"pads": pads} if auto_pad == "NOTSET" else {"auto_pad": auto_pad}
    if draw(st.booleans()):
        attributes["kernel_shape"] = kernel
    nodes = []
    if padding:
        top, left, bottom, right = padding
        if opset >= 18 and draw(st.booleans()):
            weights["pads"], weights["axes"] = np.array([top, left, bottom, right]), np.array([2, 3])
            nodes.append(helper.make_node("Pad", ["x", "pads", "", "axes"], ["padded"]))
        else:
            weights["pads"] = np.array([0, 0, top, left, 0, 0, bottom, right])
            nodes.append(helper.make_node("Pad", ["x", "pads"], ["padded"], mode="constant"))
    batch_norm = draw(st.booleans())
    nodes.append(helper.make_node("Conv", conv_inputs, ["conv" if batch_norm else "y"], **attributes))
    if batch_norm:
        for name in ("scale", "shift", "mean"):
            weights[name] = uniform(rng, (out_channels,))
        weights["variance"] = uniform(rng, (out_channels,), 0.5, 2.0)
        nodes.append(
            helper.make_node("BatchNormalization", ["conv", "scale", "shift", "mean", "variance"], ["y"], epsilon=1e-3)
        )
    model = make_model(nodes, {"x": (1, channels, height, width)}, weights, opset=opset)
    return OnnxCase(model, {"x": uniform(rng, (1, channels, height, width))})


@pytest.mark.parametrize("target", TARGETS)
@SETTINGS
@given(case=conv_cases())
def test_conv(target: str, case: OnnxCase):
    imported = check_case(case, target)
    assert nn_ops(imported) == ["nn.conv2d"]  # Pad and BatchNormalization are folded into it


# Pooling.


def draw_pool_padding(draw, attributes: dict, auto_pad: str, kernel, extents, height: int, width: int):
    """
    Sets explicit pads (each smaller than the kernel) or auto_pad in
    `attributes`; returns the pads and H and W grown so that a window of
    `extents` fits. SAME strides stay within the kernel: onnxruntime rejects
    negative SAME padding.
    """
    if auto_pad == "NOTSET":
        attributes["pads"] = [draw(st.integers(0, kernel[axis % 2] - 1)) for axis in range(4)]
    else:
        attributes["auto_pad"] = auto_pad
    if auto_pad.startswith("SAME"):
        attributes["strides"] = [min(s, k) for s, k in zip(attributes["strides"], kernel)]
        return [0, 0, 0, 0], height, width
    pads = attributes.get("pads", [0, 0, 0, 0])
    return pads, max(height, extents[0] - pads[0] - pads[2]), max(width, extents[1] - pads[1] - pads[3])


@st.composite
def max_pool_cases(draw) -> OnnxCase:
    opset = draw(st.sampled_from([11, 13, 21]))
    channels, height, width = draw(st.integers(1, 20)), draw(st.integers(1, 15)), draw(st.integers(1, 15))
    kernel, strides = pairs(draw, 1, 5), pairs(draw, 1, 3)
    ceil_mode = draw(st.integers(0, 1))
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"]))
    dilations = [1, 1] if ceil_mode or auto_pad.startswith("SAME") else pairs(draw, 1, 2)
    attributes = {"kernel_shape": kernel, "strides": strides, "dilations": dilations, "ceil_mode": ceil_mode}
    extents = [d * (k - 1) + 1 for d, k in zip(dilations, kernel)]
    _, height, width = draw_pool_padding(draw, attributes, auto_pad, kernel, extents, height, width)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    model = make_model(
        [helper.make_node("MaxPool", ["x"], ["y"], **attributes)], {"x": (1, channels, height, width)}, opset=opset
    )
    return OnnxCase(model, {"x": uniform(rng, (1, channels, height, width))})


@pytest.mark.parametrize("target", TARGETS)
@SETTINGS
@given(case=max_pool_cases())
def test_max_pool(target: str, case: OnnxCase):
    expected = onnxruntime_outputs(case)
    assume(expected[0].min() > -3e38)  # a dilated window entirely in the padding: undefined in ONNX (-FLT_MAX here)
    assert_runs_like_onnxruntime(import_case(case, expected), case, expected, target)


@st.composite
def average_pool_cases(draw) -> OnnxCase:
    """AveragePool (with an optional Pad folded into it) and GlobalAveragePool on the same input."""
    opset = draw(st.sampled_from([11, 13, 19, 21]))
    channels, height, width = draw(st.integers(1, 20)), draw(st.integers(1, 15)), draw(st.integers(1, 15))
    kernel, strides = pairs(draw, 1, 5), pairs(draw, 1, 3)
    include_pad, ceil_mode = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"]))
    attributes = {"kernel_shape": kernel, "strides": strides, "count_include_pad": include_pad, "ceil_mode": ceil_mode}
    if opset >= 19:
        attributes["dilations"] = [1, 1]
    pads, height, width = draw_pool_padding(draw, attributes, auto_pad, kernel, kernel, height, width)
    nodes, weights = [], {}
    if include_pad and auto_pad == "NOTSET" and draw(st.booleans()):
        extra = [draw(st.integers(0, kernel[axis % 2] - 1 - pads[axis])) for axis in range(4)]
        weights["pads"] = np.array([0, 0, extra[0], extra[1], 0, 0, extra[2], extra[3]])
        nodes.append(helper.make_node("Pad", ["x", "pads"], ["padded"]))
    nodes.append(helper.make_node("AveragePool", ["padded" if nodes else "x"], ["y"], **attributes))
    nodes.append(helper.make_node("GlobalAveragePool", ["x"], ["global"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    model = make_model(nodes, {"x": (1, channels, height, width)}, weights, outputs=("y", "global"), opset=opset)
    return OnnxCase(model, {"x": uniform(rng, (1, channels, height, width))})


def in_floor_mode(case: OnnxCase) -> OnnxCase:
    model = onnx.ModelProto.FromString(case.model.SerializeToString())
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name == "ceil_mode":
                attribute.i = 0
    return OnnxCase(model, case.inputs)


@pytest.mark.parametrize("target", TARGETS)
@SETTINGS
@given(case=average_pool_cases())
def test_average_pool(target: str, case: OnnxCase):
    expected = onnxruntime_outputs(case)
    pool = next(node for node in case.model.graph.node if node.op_type == "AveragePool")
    attributes = {attribute.name: helper.get_attribute_value(attribute) for attribute in pool.attribute}
    ceil_adds_windows = expected[0].shape != onnxruntime_outputs(in_floor_mode(case))[0].shape
    if attributes["count_include_pad"] and ceil_adds_windows:
        with pytest.raises(ModelImportError, match="ceil_mode with count_include_pad = 1"):
            import_case(case, expected)
        return
    assert_runs_like_onnxruntime(import_case(case, expected), case, expected, target)


# Fully connected layers.


@st.composite
def dense_cases(draw) -> OnnxCase:
    """Gemm (alpha, beta, transA, transB, C shapes) or MatMul, with an optional BatchNormalization folded into it."""
    opset = draw(st.sampled_from([11, 13, 21]))
    features, units = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    batch_norm = draw(st.booleans())
    out = "dense" if batch_norm else "y"
    if draw(st.booleans()):
        weights = {"w": uniform(rng, (features, units))}
        nodes = [helper.make_node("MatMul", ["x", "w"], [out])]
    else:
        trans_b = draw(st.integers(0, 1))
        attributes = {"transB": trans_b}
        if features == 1 and draw(st.booleans()):
            attributes["transA"] = 1
        if draw(st.booleans()):
            attributes["alpha"] = draw(st.floats(-2, 2))
            attributes["beta"] = draw(st.floats(-2, 2))
        weights = {"w": uniform(rng, (units, features) if trans_b else (features, units))}
        c_shape = draw(st.sampled_from([None, (units,), (1, units), (), (1,)]))
        if c_shape is not None:
            weights["c"] = uniform(rng, c_shape)
        nodes = [helper.make_node("Gemm", ["x", "w", "c"] if c_shape is not None else ["x", "w"], [out], **attributes)]
    if batch_norm:
        for name in ("scale", "shift", "mean"):
            weights[name] = uniform(rng, (units,))
        weights["variance"] = uniform(rng, (units,), 0.5, 2.0)
        nodes.append(helper.make_node("BatchNormalization", ["dense", "scale", "shift", "mean", "variance"], ["y"]))
    model = make_model(nodes, {"x": (1, features)}, weights, opset=opset)
    return OnnxCase(model, {"x": uniform(rng, (1, features))})


@pytest.mark.parametrize("target", TARGETS)
@SETTINGS
@given(case=dense_cases())
def test_gemm_and_matmul(target: str, case: OnnxCase):
    imported = check_case(case, target)
    assert nn_ops(imported) == ["nn.dense"]


# Element-wise ops: one model computes every kind on the same inputs.


def per_channel_shapes(shape: Sequence[int]) -> list[tuple[int, ...]]:
    """Constant shapes that broadcast per channel (axis 1) over a tensor of `shape`."""
    rank, channels = len(shape), shape[1]
    return [(), (1,), (channels,) + (1,) * (rank - 2), (1, channels) + (1,) * (rank - 2)]


@st.composite
def elementwise_cases(draw) -> OnnxCase:
    rank = draw(st.sampled_from([2, 3, 4]))
    shape = (1, draw(st.integers(1, 20)), *(draw(st.integers(1, 15)) for _ in range(rank - 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    nodes = [helper.make_node(op, ["x", "x2"], [f"{op}_tensors"]) for op in ("Add", "Sub", "Mul")]
    constants = {}
    for op in ("Add", "Sub", "Mul"):
        constant = f"{op}_constant"
        constants[constant] = uniform(rng, draw(st.sampled_from(per_channel_shapes(shape))))
        operands = [constant, "x"] if draw(st.booleans()) else ["x", constant]
        nodes.append(helper.make_node(op, operands, [f"{op}_with_constant"]))
    outputs = [node.output[0] for node in nodes]
    model = make_model(
        nodes, {"x": shape, "x2": shape}, constants, outputs=outputs, opset=draw(st.sampled_from([11, 13, 21]))
    )
    return OnnxCase(model, {"x": uniform(rng, shape), "x2": uniform(rng, shape)})


@pytest.mark.parametrize("target", TARGETS)
@SETTINGS
@given(case=elementwise_cases())
def test_add_sub_mul(target: str, case: OnnxCase):
    check_case(case, target)


# Activations: one model computes each of them on the same input.


@st.composite
def activation_cases(draw) -> OnnxCase:
    rank = draw(st.sampled_from([2, 3, 4]))
    shape = (1, draw(st.integers(1, 20)), *(draw(st.integers(1, 15)) for _ in range(rank - 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    low, high = sorted(draw(st.floats(-3, 3, width=32)) for _ in range(2))
    bounds = draw(st.sampled_from([["low", "high"], ["low"], ["", "high"], []]))
    leaky = {"alpha": draw(st.floats(0, 1))} if draw(st.booleans()) else {}
    nodes = [
        helper.make_node("Relu", ["x"], ["relu"]),
        helper.make_node("Sigmoid", ["x"], ["sigmoid"]),
        helper.make_node("LeakyRelu", ["x"], ["leaky_relu"], **leaky),
        helper.make_node("Clip", ["x", *bounds], ["clip"]),
    ]
    constants = {"low": np.float32(low), "high": np.float32(high)}
    outputs = [node.output[0] for node in nodes]
    model = make_model(nodes, {"x": shape}, constants, outputs=outputs, opset=draw(st.sampled_from([11, 13, 21])))
    return OnnxCase(model, {"x": uniform(rng, shape, -4.0, 4.0)})


@pytest.mark.parametrize("target", TARGETS)
@SETTINGS
@given(case=activation_cases())
def test_activations(target: str, case: OnnxCase):
    check_case(case, target)


# Shape ops, softmax, concat, no-ops and constants, one small model each.

RNG = np.random.default_rng(7)


def case(nodes, inputs: dict[str, Sequence[int]], initializers=None, outputs=("y",), opset=13, batch=None) -> OnnxCase:
    """A model whose inputs get random values; `batch` names a dynamic batch dimension in the declared shapes."""
    declared = {name: (batch, *shape[1:]) if batch else shape for name, shape in inputs.items()}
    model = make_model(nodes, declared, initializers, outputs, opset)
    return OnnxCase(model, {name: uniform(RNG, shape, -3.0, 3.0) for name, shape in inputs.items()})


def ints(*values: int) -> np.ndarray:
    return np.array(values, np.int64)


node = helper.make_node
SMALL_MODELS = {
    "flatten": case([node("Flatten", ["x"], ["y"])], {"x": (1, 3, 4, 5)}),
    "flatten_negative_axis": case([node("Flatten", ["x"], ["y"], axis=-1)], {"x": (1, 1, 1, 7)}),
    "reshape_0_and_minus_1": case(
        [node("Reshape", ["x", "shape"], ["y"])], {"x": (1, 6, 2, 2)}, {"shape": ints(0, -1)}
    ),
    "reshape_to_nchw": case([node("Reshape", ["x", "shape"], ["y"])], {"x": (1, 24)}, {"shape": ints(1, 6, -1, 2)}),
    "reshape_allowzero": case(
        [node("Reshape", ["x", "shape"], ["y"], allowzero=1)], {"x": (1, 12)}, {"shape": ints(1, 3, 4)}, opset=14
    ),
    "squeeze_opset_11": case([node("Squeeze", ["x"], ["y"], axes=[2, 3])], {"x": (1, 5, 1, 1)}, opset=11),
    "squeeze_opset_13": case([node("Squeeze", ["x", "axes"], ["y"])], {"x": (1, 5, 1, 1)}, {"axes": ints(-1, 2)}),
    "unsqueeze_opset_11": case([node("Unsqueeze", ["x"], ["y"], axes=[2, 3])], {"x": (1, 5)}, opset=11),
    "unsqueeze_opset_21": case(
        [node("Unsqueeze", ["x", "axes"], ["y"])], {"x": (1, 5)}, {"axes": ints(-1, 2)}, opset=21
    ),
    "transpose_of_size_1_axes": case([node("Transpose", ["x"], ["y"], perm=[0, 2, 3, 1])], {"x": (1, 6, 1, 1)}),
    "softmax_channels": case([node("Softmax", ["x"], ["y"], axis=1)], {"x": (1, 5, 3, 2)}),
    "softmax_last_axis": case([node("Softmax", ["x"], ["y"])], {"x": (1, 1, 1, 6)}),
    "softmax_opset_11_all_elements": case([node("Softmax", ["x"], ["y"])], {"x": (1, 3, 2, 2)}, opset=11),
    "softmax_opset_11_vector": case([node("Softmax", ["x"], ["y"], axis=-1)], {"x": (1, 10)}, opset=11),
    "concat_channels": case(
        [node("Concat", ["a", "b", "c"], ["y"], axis=-3)], {"a": (1, 2, 3, 3), "b": (1, 4, 3, 3), "c": (1, 1, 3, 3)}
    ),
    "identity_and_dropout_opset_11": case(
        [node("Identity", ["x"], ["i"]), node("Dropout", ["i"], ["d", "mask"], ratio=0.5), node("Relu", ["d"], ["y"])],
        {"x": (1, 4, 3, 3)},
        opset=11,
    ),
    "dropout_opset_13_unused_mask": case(
        [node("Dropout", ["x", "ratio", "training"], ["d", "mask"]), node("Sigmoid", ["d"], ["y"])],
        {"x": (1, 7)},
        {"ratio": np.float32(0.3), "training": np.array(False)},
    ),
    "constant_nodes": case(
        [
            node("Constant", [], ["c"], value=numpy_helper.from_array(uniform(RNG, (3, 1, 1)))),
            node("Constant", [], ["k"], value_float=2.5),
            node("Add", ["x", "c"], ["sum"]),
            node("Mul", ["k", "sum"], ["y"]),
        ],
        {"x": (1, 3, 2, 4)},
    ),
    "batch_norm_on_input": case(
        [node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=0.01)],
        {"x": (1, 3, 4, 4)},
        {"s": uniform(RNG, (3,)), "b": uniform(RNG, (3,)), "m": uniform(RNG, (3,)), "v": uniform(RNG, (3,), 0.5, 2)},
        opset=15,
    ),
    "batch_norm_not_foldable": case(
        [
            node("Gemm", ["x", "w"], ["g"], transB=1),
            node("BatchNormalization", ["g", "s", "b", "m", "v"], ["y"]),
            node("Relu", ["g"], ["r"]),
        ],
        {"x": (1, 6)},
        {
            "w": uniform(RNG, (4, 6)),
            "s": uniform(RNG, (4,)),
            "b": uniform(RNG, (4,)),
            "m": uniform(RNG, (4,)),
            "v": uniform(RNG, (4,), 0.5, 2),
        },
        outputs=("y", "r"),
    ),
    "float16_and_float64_weights_cast": case(
        [
            node("Cast", ["w16"], ["w"], to=TensorProto.FLOAT),
            node("Cast", ["b64"], ["b"], to=TensorProto.FLOAT),
            node("Cast", ["x"], ["x32"], to=TensorProto.FLOAT),
            node("Conv", ["x32", "w", "b"], ["y"], pads=[1, 1, 1, 1]),
        ],
        {"x": (1, 3, 5, 5)},
        {"w16": uniform(RNG, (4, 3, 3, 3)).astype(np.float16), "b64": uniform(RNG, (4,)).astype(np.float64)},
    ),
    "dynamic_batch": case(
        [node("Conv", ["x", "w"], ["c"]), node("Relu", ["c"], ["y"])],
        {"x": (1, 2, 4, 4)},
        {"w": uniform(RNG, (3, 2, 1, 1))},
        batch="N",
    ),
    # In ceil mode, a last window that would start in the end padding is dropped (3 windows, not 4).
    "max_pool_ceil_mode_drops_a_window": case(
        [node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)],
        {"x": (1, 2, 5, 5)},
    ),
    "average_pool_ceil_mode_drops_a_window": case(
        [node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)],
        {"x": (1, 2, 5, 5)},
    ),
    "residual_block_opset_17": case(
        [
            node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
            node("Clip", ["c1", "zero", "six"], ["r1"]),
            node("Conv", ["r1", "w2"], ["c2"], pads=[0, 1, 2, 1], strides=[2, 1]),
            node("Conv", ["x", "w3"], ["c3"], strides=[2, 1]),
            node("Add", ["c2", "c3"], ["sum"]),
            node("MaxPool", ["sum"], ["p"], kernel_shape=[2, 2]),
            node("Flatten", ["p"], ["f"]),
            node("Gemm", ["f", "fc", "fc_b"], ["logits"], transB=1),
            node("Softmax", ["logits"], ["y"]),
        ],
        {"x": (1, 3, 8, 7)},
        {
            "w1": uniform(RNG, (5, 3, 3, 3)),
            "b1": uniform(RNG, (5,)),
            "zero": np.float32(0),
            "six": np.float32(6),
            "w2": uniform(RNG, (4, 5, 3, 3)),
            "w3": uniform(RNG, (4, 3, 1, 1)),
            "fc": uniform(RNG, (10, 4 * 3 * 6)),
            "fc_b": uniform(RNG, (10,)),
        },
        opset=17,
    ),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", SMALL_MODELS)
def test_small_model(target: str, name: str):
    check_case(SMALL_MODELS[name], target)


# The MLPerf Tiny models (their outputs are compared end to end elsewhere).


@pytest.mark.parametrize(
    "name, ops",
    [
        (
            "ic_resnet8",
            {
                "nn.conv2d": 9,
                "nn.relu": 7,
                "nn.add": 3,
                "nn.global_avg_pool": 1,
                "nn.reshape": 1,
                "nn.dense": 1,
                "nn.softmax": 1,
            },
        ),
        (
            "kws_dscnn",
            {"nn.conv2d": 9, "nn.relu": 9, "nn.global_avg_pool": 1, "nn.reshape": 1, "nn.dense": 1, "nn.softmax": 1},
        ),
        (
            "vww_mobilenetv1",
            {"nn.conv2d": 27, "nn.relu": 27, "nn.global_avg_pool": 1, "nn.reshape": 1, "nn.dense": 1, "nn.softmax": 1},
        ),
        ("ad_autoencoder", {"nn.dense": 10, "nn.relu": 9}),
    ],
)
def test_mlperf_tiny_models_import(name: str, ops: dict[str, int]):
    model = load_model(MODELS / f"{name}.onnx")
    assert (model.input_names, model.output_names, model.io_layout) == (["input"], ["output"], "nchw")
    found = nn_ops(model)
    assert {op: found.count(op) for op in set(found)} == ops
    model.module.verify()


# Bad models: each error names the file and every node at fault.


def import_error(model: onnx.ModelProto | bytes, directory: Path) -> str:
    path = directory / "bad.onnx"
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    with pytest.raises(ModelImportError) as error:
        load_model(path)
    message = str(error.value)
    assert message.startswith(f"{path}: cannot import the model")
    return message


def test_truncated_file(tmp_path: Path):
    data = (MODELS / "kws_dscnn.onnx").read_bytes()
    assert "not a readable ONNX model" in import_error(data[: len(data) // 2], tmp_path)


def test_random_bytes(tmp_path: Path):
    assert "not a readable ONNX model" in import_error(np.random.default_rng(0).bytes(1000), tmp_path)


def test_empty_file(tmp_path: Path):
    assert "the ONNX checker rejects the model" in import_error(b"", tmp_path)


def test_unknown_op_types_are_all_named(tmp_path: Path):
    nodes = [
        node("FooBar", ["x"], ["a"], name="foo"),
        node("Relu", ["a"], ["b"]),
        node("Gelu", ["b"], ["y"], name="gelu"),
    ]
    message = import_error(make_model(nodes, {"x": (1, 4)}, output_rank=2), tmp_path)
    assert "node 'foo' (FooBar): op type FooBar is not supported" in message
    assert "node 'gelu' (Gelu): op type Gelu is not supported" in message
    assert "the ONNX checker rejects the model: No Op registered for FooBar" in message


def test_every_unsupported_node_is_named(tmp_path: Path):
    nodes = [
        node("Transpose", ["x"], ["t"], perm=[0, 1, 3, 2], name="transpose"),
        node("Tanh", ["t"], ["h"], name="tanh"),
        node("Concat", ["h", "x"], ["c"], axis=2, name="concat"),
        node("Conv", ["c", "w"], ["y"], name="conv3d"),
    ]
    model = make_model(nodes, {"x": (1, 2, 3, 3)}, {"w": uniform(RNG, (4, 2, 1, 1, 1))}, output_rank=5)
    message = import_error(model, tmp_path)
    assert "(4 problems)" in message
    assert "node 'transpose' (Transpose): perm [0, 1, 3, 2] on 1x2x3x3 moves data" in message
    assert "node 'tanh' (Tanh): op type Tanh is not supported" in message
    assert "node 'concat' (Concat): axis 2: only concatenation on channels (axis 1) is supported" in message
    assert "node 'conv3d' (Conv): weight 4x2x1x1x1 must be K x C/group x Fh x Fw (2-D convolution)" in message


def test_conv_weight_channel_mismatch(tmp_path: Path):
    nodes = [node("Conv", ["x", "w"], ["y"], name="conv")]
    model = make_model(nodes, {"x": (1, 3, 8, 8)}, {"w": uniform(RNG, (2, 4, 3, 3))})
    message = import_error(with_output_shapes(model, [np.zeros((1, 2, 6, 6))]), tmp_path)
    assert "node 'conv' (Conv): weight 2x4x3x3 expects 4 input channels, the input 1x3x8x8 has 3" in message


def test_missing_initializer(tmp_path: Path):
    nodes = [node("Conv", ["x", "w"], ["y"], name="conv")]
    model = with_output_shapes(make_model(nodes, {"x": (1, 3, 8, 8)}), [np.zeros((1, 2, 6, 6))])
    message = import_error(model, tmp_path)
    assert "input 'w' of node" in message and "name: conv OpType: Conv" in message


@pytest.mark.parametrize("opset", [10, 22])
def test_opset_out_of_range(tmp_path: Path, opset: int):
    model = with_output_shapes(make_model([node("Relu", ["x"], ["y"])], {"x": (1, 4)}, opset=opset), [np.zeros((1, 4))])
    assert f"the model imports opset {opset}; small-ir imports opsets 11 to 21" in import_error(model, tmp_path)


def test_inputs_must_be_static_and_batch_1(tmp_path: Path):
    model = make_model([node("Add", ["a", "b"], ["y"])], {"a": (2, 4), "b": (1, "n")})
    message = import_error(with_output_shapes(model, [np.zeros((2, 4))]), tmp_path)
    assert "input 'a' has shape 2x4" in message and "input 'b' has shape 1x-1" in message


def unsupported(name: str, op_type: str, reason: str, nodes, inputs, initializers=None, opset=13, outputs=("y",)):
    model = make_model(nodes, inputs, initializers, outputs, opset, output_rank=len(next(iter(inputs.values()))))
    return pytest.param(model, f"node '{name}' ({op_type}): {reason}", id=name)


@pytest.mark.parametrize(
    "model, expected",
    [
        unsupported(
            "squeeze",
            "Squeeze",
            "the result would be 5; small-ir needs batch 1",
            [node("Squeeze", ["x"], ["y"], name="squeeze")],
            {"x": (1, 5, 1, 1)},
        ),
        unsupported(
            "pad",
            "Pad",
            "zero padding is only supported folded into its only reader",
            [node("Pad", ["x", "p"], ["y"], name="pad")],
            {"x": (1, 2, 3, 3)},
            {"p": ints(0, 0, 1, 1, 0, 0, 1, 1)},
        ),
        unsupported(
            "reflect",
            "Pad",
            "mode reflect is not supported",
            [node("Pad", ["x", "p"], ["p1"], mode="reflect", name="reflect"), node("Conv", ["p1", "w"], ["y"])],
            {"x": (1, 2, 3, 3)},
            {"p": ints(0, 0, 1, 1, 0, 0, 1, 1), "w": uniform(RNG, (1, 2, 3, 3))},
        ),
        unsupported(
            "softmax",
            "Softmax",
            "softmax over axis 2 of 1x2x3x3 (opset 13)",
            [node("Softmax", ["x"], ["y"], axis=2, name="softmax")],
            {"x": (1, 2, 3, 3)},
        ),
        unsupported(
            "broadcast",
            "Mul",
            "the constant 3 does not broadcast per channel over 1x2x3x3",
            [node("Mul", ["x", "c"], ["y"], name="broadcast")],
            {"x": (1, 2, 3, 3)},
            {"c": uniform(RNG, (3,))},
        ),
        unsupported(
            "tensors",
            "Add",
            "broadcasting 1x2x3x3 with 1x2x1x1: two computed tensors need equal shapes",
            [node("GlobalAveragePool", ["x"], ["g"]), node("Add", ["x", "g"], ["y"], name="tensors")],
            {"x": (1, 2, 3, 3)},
        ),
        unsupported(
            "mask",
            "Dropout",
            "only the first output is supported, but 'y' is used",
            [node("Dropout", ["x"], ["d", "y"], name="mask")],
            {"x": (1, 4)},
            outputs=("d", "y"),
        ),
        unsupported(
            "ceil",
            "AveragePool",
            "ceil_mode with count_include_pad = 1 where the last windows need extra padding",
            [
                node(
                    "AveragePool",
                    ["x"],
                    ["y"],
                    kernel_shape=[2, 2],
                    strides=[2, 2],
                    ceil_mode=1,
                    count_include_pad=1,
                    name="ceil",
                )
            ],
            {"x": (1, 2, 5, 5)},
        ),
        unsupported(
            "dilated_same",
            "MaxPool",
            "auto_pad SAME_UPPER with dilations [2, 2] is not supported",
            [
                node(
                    "MaxPool",
                    ["x"],
                    ["y"],
                    kernel_shape=[2, 2],
                    dilations=[2, 2],
                    auto_pad="SAME_UPPER",
                    name="dilated_same",
                )
            ],
            {"x": (1, 2, 5, 5)},
        ),
        unsupported(
            "all_padding",
            "MaxPool",
            "nn.max_pool2d: a window lies entirely in the padding",
            [
                node(
                    "MaxPool",
                    ["x"],
                    ["y"],
                    kernel_shape=[1, 2],
                    dilations=[1, 2],
                    pads=[0, 1, 0, 1],
                    name="all_padding",
                )
            ],
            {"x": (1, 2, 1, 1)},
        ),
        unsupported(
            "cast",
            "Cast",
            "casting a computed tensor to INT64: small-ir computes in float32",
            [
                node("Cast", ["x"], ["i"], to=TensorProto.INT64, name="cast"),
                node("Cast", ["i"], ["y"], to=TensorProto.FLOAT),
            ],
            {"x": (1, 4)},
        ),
        unsupported(
            "training",
            "BatchNormalization",
            "training_mode = 1 is not supported",
            [node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], training_mode=1, name="training")],
            {"x": (1, 2, 3, 3)},
            {name: np.ones(2, np.float32) for name in "sbmv"},
            opset=15,
        ),
        unsupported(
            "matmul",
            "MatMul",
            "input 'w' is a constant where small-ir needs a computed tensor",
            [node("MatMul", ["w", "x"], ["y"], name="matmul")],
            {"x": (1, 4)},
            {"w": uniform(RNG, (3, 1))},
        ),
    ],
)
def test_unsupported_node(tmp_path: Path, model: onnx.ModelProto, expected: str):
    message = import_error(model, tmp_path)
    assert expected in message
    assert "(1 problem)" in message


def test_graph_output_that_is_a_graph_input(tmp_path: Path):
    model = make_model([node("Identity", ["x"], ["y"])], {"x": (1, 4)})
    message = import_error(with_output_shapes(model, [np.zeros((1, 4))]), tmp_path)
    assert "graph output 'y' is a graph input: nothing computes it" in message


def test_initializers_listed_as_graph_inputs_are_weights(tmp_path: Path):
    model = make_model([node("Gemm", ["x", "w"], ["y"])], {"x": (1, 3)}, {"w": uniform(RNG, (3, 2))})
    model.graph.input.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, (3, 2)))
    model = with_output_shapes(model, [np.zeros((1, 2))])
    imported = save_and_import(model, tmp_path)
    assert (imported.input_names, imported.output_names, imported.source) == (["x"], ["y"], tmp_path / "model.onnx")
    assert nn_ops(imported) == ["nn.dense"]
