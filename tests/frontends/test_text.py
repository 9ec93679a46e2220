"""The network text format (small_ir/frontends/text.py): parsing, printing, round trips and errors."""

from __future__ import annotations

import re
import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xdsl.dialects import memref
from xdsl.dialects.builtin import ModuleOp, StringAttr, f32

import small_ir
from small_ir import reference as ref
from small_ir.builder import NetworkBuilder
from small_ir.dialects.nn import every_window_reads_input
from small_ir.errors import SmallIRError
from small_ir.frontends import ModelImportError, load_model, set_io_layout
from small_ir.frontends.text import TextFormatError, format_network, import_text, parse_network, print_text
from small_ir.strategies import layer_cases
from small_ir.testing import expressible_layer_module, interpret

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "resnet_block.net"
FEW = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LOCATED = re.compile(r"junk\.net:\d+:\d+: ")


def uniform(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(expected).max())))


# The example.


def test_the_example_compiles_and_matches_the_reference():
    model = load_model(EXAMPLE)
    assert (model.input_names, model.output_names, model.io_layout) == (["x"], ["probabilities"], "nchw")
    w = dict(np.load(EXAMPLE.with_suffix(".npz")))
    x = uniform(np.random.default_rng(0), 1, 16, 32, 32)
    stem = ref.relu(ref.conv2d(x, w["stem_w"], w["stem_b"], pads=(1, 1, 1, 1)))
    a = ref.relu(ref.conv2d(stem, w["conv1_w"], w["conv1_b"], strides=(2, 2), pads=(1, 1, 1, 1)))
    b = ref.conv2d(a, w["conv2_w"], w["conv2_b"], pads=(1, 1, 1, 1))
    block = ref.relu(ref.add(b, ref.conv2d(stem, w["proj_w"], w["proj_b"], strides=(2, 2))))
    logits = ref.dense(ref.flatten(ref.global_avg_pool(block)), w["fc_w"], w["fc_b"])
    (output,) = small_ir.compile(model.module, target="scalar").run(x)
    assert_close(output, ref.softmax(logits))


def test_the_example_prints_back_to_the_same_ir(tmp_path: Path):
    model = load_model(EXAMPLE)
    print_text(model.module, tmp_path / "copy.net")
    assert str(load_model(tmp_path / "copy.net").module) == str(model.module)
    assert set(np.load(tmp_path / "copy.npz")) == set(np.load(EXAMPLE.with_suffix(".npz")))


# Every op and attribute, through the parser, against the reference.

X = (1, 4, 7, 6)
# (expression of x and x2, weight shapes, the reference of (x, x2, weights))
OPS = [
    ("conv2d(x, w, b)", {"w": (5, 4, 3, 3), "b": (5,)}, lambda x, x2, w: ref.conv2d(x, w["w"], w["b"])),
    ("conv2d(x, w, strides=2, pads=1)", {"w": (3, 4, 3, 3)}, lambda x, x2, w: ref.conv2d(x, w["w"], strides=(2, 2), pads=(1,) * 4)),
    (
        "conv2d(x, w, strides=[1, 2], pads=[0, 1, 2, 1], dilations=[2, 1])",
        {"w": (3, 4, 3, 2)},
        lambda x, x2, w: ref.conv2d(x, w["w"], strides=(1, 2), pads=(0, 1, 2, 1), dilations=(2, 1)),
    ),
    ("conv2d(x, w, pads=[1, 2], dilations=2)", {"w": (2, 4, 2, 2)}, lambda x, x2, w: ref.conv2d(x, w["w"], pads=(1, 2, 1, 2), dilations=(2, 2))),
    ("conv2d(x, w, b, group=2)", {"w": (6, 2, 3, 1), "b": (6,)}, lambda x, x2, w: ref.conv2d(x, w["w"], w["b"], group=2)),
    ("conv2d(x, w, pads=1, group=4)", {"w": (8, 1, 3, 3)}, lambda x, x2, w: ref.conv2d(x, w["w"], pads=(1,) * 4, group=4)),
    ("max_pool2d(x, kernel=2, strides=2)", {}, lambda x, x2, w: ref.max_pool2d(x, kernel_shape=(2, 2), strides=(2, 2))),
    (
        "max_pool2d(x, kernel=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1], dilations=[1, 2])",
        {},
        lambda x, x2, w: ref.max_pool2d(x, kernel_shape=(3, 2), strides=(2, 1), pads=(1, 0, 1, 1), dilations=(1, 2)),
    ),
    ("max_pool2d(x, kernel_shape=3, pads=1)", {}, lambda x, x2, w: ref.max_pool2d(x, kernel_shape=(3, 3), pads=(1,) * 4)),
    ("avg_pool2d(x, kernel=3, strides=2, pads=1)", {}, lambda x, x2, w: ref.avg_pool2d(x, kernel_shape=(3, 3), strides=(2, 2), pads=(1,) * 4)),
    (
        "avg_pool2d(x, kernel=3, strides=2, pads=1, count_include_pad=true)",
        {},
        lambda x, x2, w: ref.avg_pool2d(x, kernel_shape=(3, 3), strides=(2, 2), pads=(1,) * 4, count_include_pad=True),
    ),
    ("avg_pool2d(x, kernel=[2, 3], count_include_pad=false)", {}, lambda x, x2, w: ref.avg_pool2d(x, kernel_shape=(2, 3))),
    ("global_avg_pool(x)", {}, lambda x, x2, w: ref.global_avg_pool(x)),
    ("dense(flatten(x), w, b)", {"w": (3, 168), "b": (3,)}, lambda x, x2, w: ref.dense(ref.flatten(x), w["w"], w["b"])),
    ("dense(flatten(x), w)", {"w": (2, 168)}, lambda x, x2, w: ref.dense(ref.flatten(x), w["w"])),
    ("add(x, x2)", {}, lambda x, x2, w: ref.add(x, x2)),
    ("sub(x, x2)", {}, lambda x, x2, w: ref.sub(x, x2)),
    ("mul(x, x2)", {}, lambda x, x2, w: ref.mul(x, x2)),
    ("relu(x)", {}, lambda x, x2, w: ref.relu(x)),
    ("relu6(mul(x, x2))", {}, lambda x, x2, w: ref.clip(ref.mul(x, x2), min=0.0, max=6.0)),
    ("sigmoid(x)", {}, lambda x, x2, w: ref.sigmoid(x)),
    ("clip(x, min=-0.5, max=0.25)", {}, lambda x, x2, w: ref.clip(x, min=-0.5, max=0.25)),
    ("leaky_relu(x)", {}, lambda x, x2, w: ref.leaky_relu(x)),
    ("leaky_relu(x, alpha=0.2)", {}, lambda x, x2, w: ref.leaky_relu(x, alpha=0.2)),
    ("softmax(x)", {}, lambda x, x2, w: ref.softmax(x)),
    ("softmax(flatten(x), axis=-1)", {}, lambda x, x2, w: ref.softmax(ref.flatten(x), axis=-1)),
    ("reshape(x, shape=1x168)", {}, lambda x, x2, w: ref.reshape(x, shape=(1, 168))),
    ("reshape(x, shape=[1, 4, 42])", {}, lambda x, x2, w: ref.reshape(x, shape=(1, 4, 42))),
    ("flatten(x)", {}, lambda x, x2, w: ref.flatten(x)),
    ("flatten(x, axis=1)", {}, lambda x, x2, w: ref.flatten(x, axis=1)),
    ("concat(x, x2, relu(x))", {}, lambda x, x2, w: ref.concat(x, x2, ref.relu(x))),
    ("concat(x2, x, axis=1)", {}, lambda x, x2, w: ref.concat(x2, x)),
]


@pytest.mark.parametrize(("expression", "shapes", "expected"), OPS, ids=[op[0] for op in OPS])
def test_every_op_and_attribute_matches_the_reference(expression, shapes, expected):
    rng = np.random.default_rng(1)
    weights = {name: uniform(rng, *shape) for name, shape in shapes.items()}
    x, x2 = uniform(rng, *X), uniform(rng, *X)
    text = f"""
        network op_test
        input x: 1x4x7x6
        input x2: 1x4x7x6   # unused by some
        y = {expression}
        output y
    """
    model = parse_network(text, "op.net", weights)
    (output,) = interpret(model.module, [x, x2])
    assert_close(output, expected(x, x2, weights))


def test_several_inputs_and_outputs_keep_their_order(tmp_path: Path):
    rng = np.random.default_rng(2)
    w = uniform(rng, 3, 2, 1, 1)
    np.savez(tmp_path / "w.npz", w=w)
    (tmp_path / "two.net").write_text(
        'weights "w.npz"\ninput a: 1x2x3x3\ninput b: 1x2x3x3\n\nsum = add(a, b)\nz = conv2d(sum, w)\noutput z, sum\n'
    )
    model = import_text(tmp_path / "two.net")
    assert (model.input_names, model.output_names) == (["a", "b"], ["z", "sum"])
    a, b = uniform(rng, 1, 2, 3, 3), uniform(rng, 1, 2, 3, 3)
    z, total = interpret(model.module, [a, b])
    assert_close(total, a + b)
    assert_close(z, ref.conv2d(a + b, w))


def test_a_weight_named_twice_is_one_global():
    w = np.ones((2, 2, 1, 1), np.float32)
    model = parse_network("input x: 1x2x2x2\ny = conv2d(conv2d(x, w), w)\noutput y\n", weights={"w": w})
    assert [op.sym_name.data for op in model.module.ops if isinstance(op, memref.GlobalOp)] == ["w"]


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_layout_sets_the_io_layout(layout: str):
    model = parse_network(f"network n\nlayout {layout}\ninput x: 1x2x2x2\ny = relu(x)\noutput y\n")
    assert model.io_layout == layout
    net = NetworkBuilder("n", (1, 2, 2, 2))
    module = net.build(net.relu(net.input))
    set_io_layout(module, layout)
    assert str(model.module) == str(module)
    text, _ = format_network(module)
    assert f"layout {layout}\n" in text
    assert str(parse_network(text).module) == str(module)


def test_comments_blank_lines_and_deep_nesting():
    model = parse_network("# a comment\n\n  input x: 1x2  # shape\n\n\ny = " + "relu(" * 60 + "x" + ")" * 60 + "\noutput y")
    assert len(list(model.module.walk())) > 60
    with pytest.raises(TextFormatError, match="calls nest more than 100 deep"):
        parse_network("input x: 1x2\ny = " + "relu(" * 500 + "x" + ")" * 500 + "\noutput y")


# Print then parse: the same IR, the same outputs.


def assert_round_trip(module: ModuleOp, inputs: list[np.ndarray]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "net.net"
        print_text(module, path)
        model = load_model(path)
    assert str(model.module) == str(module), path.read_text() if path.exists() else ""
    for actual, expected in zip(interpret(model.module, inputs), interpret(module, inputs), strict=True):
        np.testing.assert_array_equal(actual, expected)


@FEW
@given(case=layer_cases(max_channels=4, max_size=6, max_filter=3))
def test_single_layers_survive_print_and_parse(case):
    assert_round_trip(expressible_layer_module(case), case.random_inputs(np.random.default_rng(0)))


def _window(draw, size: int, pool: bool) -> tuple[int, int, int, int, int]:
    """kernel, stride, dilation, pad_begin, pad_end for one axis whose window fits the input."""
    kernel = draw(st.integers(1, min(3, size)))
    dilation = draw(st.integers(1, 2)) if (kernel - 1) * 2 + 1 <= size else 1
    return kernel, draw(st.integers(1, 2)), dilation, draw(st.integers(0, kernel - 1)), draw(st.integers(0, kernel - 1))


@st.composite
def networks(draw) -> tuple[ModuleOp, list[np.ndarray]]:
    """
    A NetworkBuilder module and inputs for it: one or two image inputs, a chain of layers whose inputs
    are drawn from every earlier image (so residual adds and concats happen), sometimes a classifier
    head, one to three outputs.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (1, draw(st.integers(1, 4)), draw(st.integers(2, 6)), draw(st.integers(2, 6)))
    net = NetworkBuilder(draw(st.sampled_from(["net", "block"])), *[shape] * draw(st.integers(1, 2)))
    images, computed = list(net.inputs), []
    for _ in range(draw(st.integers(1, 6))):
        x = draw(st.sampled_from(images))
        _, c, h, w = x.shape
        kind = draw(st.sampled_from(["conv", "depthwise", "max_pool", "avg_pool", "unary", "binary", "concat", "global"]))
        if kind in ("conv", "depthwise", "max_pool", "avg_pool"):
            (kh, sh, dh, top, bottom), (kw, sw, dw, left, right) = _window(draw, h, True), _window(draw, w, True)
            window = {"strides": (sh, sw), "pads": (top, left, bottom, right)}
            if kind == "conv":
                k = draw(st.integers(1, 4))
                bias = uniform(rng, k) if draw(st.booleans()) else None
                y = net.conv2d(x, uniform(rng, k, c, kh, kw), bias, dilations=(dh, dw), **window)
            elif kind == "depthwise":
                k = c * draw(st.integers(1, 2))
                y = net.conv2d(x, uniform(rng, k, 1, kh, kw), uniform(rng, k), group=c, **window)
            elif kind == "max_pool":
                out_h, out_w = (h + top + bottom - (kh - 1) * dh - 1) // sh + 1, (w + left + right - (kw - 1) * dw - 1) // sw + 1
                if not (every_window_reads_input(h, kh, sh, top, dh, out_h) and every_window_reads_input(w, kw, sw, left, dw, out_w)):
                    dh = dw = 1
                y = net.max_pool2d(x, kernel_shape=(kh, kw), dilations=(dh, dw), **window)
            else:
                y = net.avg_pool2d(x, kernel_shape=(kh, kw), count_include_pad=draw(st.booleans()), **window)
        elif kind == "unary":
            op = draw(st.sampled_from(["relu", "relu6", "sigmoid", "softmax", "clip", "leaky_relu", "leaky_relu_default"]))
            if op == "clip":
                low, high = sorted(draw(st.lists(st.floats(-2, 2, width=32), min_size=2, max_size=2)))
                y = net.clip(x, min=low, max=high)
            elif op == "leaky_relu":
                y = net.leaky_relu(x, alpha=draw(st.floats(0, 1, width=32)))
            else:
                y = getattr(net, op.removesuffix("_default"))(x)
        elif kind == "binary":
            other = draw(st.sampled_from([image for image in images if image.shape == x.shape]))
            y = getattr(net, draw(st.sampled_from(["add", "sub", "mul"])))(x, other)
        elif kind == "concat":
            same_size = [image for image in images if image.shape[2:] == x.shape[2:]]
            y = net.concat(x, *draw(st.lists(st.sampled_from(same_size), min_size=1, max_size=2)))
        else:
            y = net.global_avg_pool(x)
        images.append(y)
        computed.append(y)
    if draw(st.booleans()):
        features = net.flatten(draw(st.sampled_from(images)))
        n = draw(st.integers(1, 5))
        bias = uniform(rng, n) if draw(st.booleans()) else None
        computed.append(net.softmax(net.dense(features, uniform(rng, n, features.shape[1]), bias)))
    outputs = draw(st.lists(st.sampled_from(computed), min_size=1, max_size=3, unique_by=lambda t: t.value))
    inputs = [uniform(rng, *value.shape) for value in net.inputs]
    return net.build(*outputs), inputs


@FEW
@given(network=networks())
def test_random_networks_survive_print_and_parse(network):
    module, inputs = network
    assert_round_trip(module, inputs)


def test_an_mlir_model_prints_back_to_the_same_ir():
    module = load_model(ROOT / "examples" / "residual_block.mlir").module
    text, weights = format_network(module)
    assert str(parse_network(text, weights=weights).module) == str(module)


def test_names_the_format_cannot_spell_are_made_valid():
    """Globals from other importers may have any symbol name; the printer renames them, the network stays the same."""
    net = NetworkBuilder("main graph", (1, 2, 3, 3))
    y = net.relu(net.conv2d(net.input, np.ones((2, 2, 1, 1), np.float32), np.zeros(2, np.float32)))
    module = net.build(y)
    for op, name in zip(module.ops, ["input", "conv.1/weight"]):
        op.sym_name = StringAttr(name)
    for op in module.walk():
        if isinstance(op, memref.GetGlobalOp):
            op.name_ = memref.SymbolRefAttr("input" if op.memref.type.get_shape() == (2,) else "conv.1/weight")
    module.verify()
    text, weights = format_network(module)
    assert set(weights) == {"input_", "conv_1_weight"} and "network main_graph" in text
    x = uniform(np.random.default_rng(3), 1, 2, 3, 3)
    np.testing.assert_array_equal(interpret(parse_network(text, weights=weights).module, [x])[0], interpret(module, [x])[0])


def test_the_printer_rejects_ops_outside_nn():
    module = parse_network("input x: 1x2\ny = relu(x)\noutput y\n").module
    function = module.body.block.last_op
    function.body.block.insert_op_before(memref.AllocaOp.get(memref.MemRefType(f32, [2])), function.body.block.last_op)
    with pytest.raises(SmallIRError, match="memref.alloca cannot be written"):
        format_network(module)


# Junk never escapes as anything but ModelImportError.

W = {"w": np.ones((2, 2, 1, 1), np.float32), "b": np.zeros(2, np.float32)}
VALID = """network n
weights "w.npz"
input x: 1x2x4x4
a = relu(conv2d(x, w, b, pads=[0, 1], strides=2))  # comment
y = concat(max_pool2d(x, kernel=2, strides=2, pads=[0, 1], dilations=1), avg_pool2d(a, kernel=[1, 1], count_include_pad=true), axis=1)
output y, a
"""
TOKENS = ["network", "weights", '"w.npz"', "input", "output", "layout", "nhwc", "x", "y", "w", "b", ":", "1x2x4x4", "7", "=",
          "(", ")", ",", "[", "]", "conv2d", "relu", "add", "concat", "max_pool2d", "clip", "kernel", "pads", "min", "1", "-2",
          "0.5", "1e99", "inf", "true", "\n", "#", " "]


def parses_or_fails_cleanly(text: str) -> None:
    try:
        parse_network(text, "junk.net", W)
    except ModelImportError as error:
        assert isinstance(error, TextFormatError) and LOCATED.search(str(error)), str(error)


def test_the_junk_base_program_is_valid():
    assert parse_network(VALID, weights=W).output_names == ["y", "a"]


@FEW
@given(text=st.text(st.sampled_from(string.printable), max_size=120))
def test_random_printable_text_fails_cleanly(text: str):
    parses_or_fails_cleanly(text)


@FEW
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=40))
def test_random_token_soup_fails_cleanly(tokens: list[str]):
    parses_or_fails_cleanly(" ".join(tokens))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_single_character_edits_fail_cleanly(data):
    where = data.draw(st.integers(0, len(VALID)))
    char = data.draw(st.sampled_from(string.printable))
    edit = data.draw(st.sampled_from(["delete", "insert", "replace"]))
    after = where + (edit != "insert")
    parses_or_fails_cleanly(VALID[:where] + ("" if edit == "delete" else char) + VALID[after:])


@settings(max_examples=20, deadline=None)
@given(content=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_any_file_content_fails_cleanly(content: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "junk.net"
        path.write_bytes(content)
        try:
            import_text(path)
        except ModelImportError:
            pass


# Error messages: where, and what was expected.

ERRORS = [
    ("typo in an op name", "y = conv2x(x, w)", "bad.net:3:5: unknown op 'conv2x' (did you mean 'conv2d'?)"),
    ("missing )", "y = relu(conv2d(x, w, pads=1)", "bad.net:3:30: unexpected end of line; expected one of ')', ','"),
    ("undefined variable", "y = add(x, z)", "bad.net:3:12: undefined variable 'z'"),
    ("wrong weight shape", "y = conv2d(x, w3)", "bad.net:3:5: nn.conv2d: weight has 3 input channels per group, the input gives 2"),
    ("weight of the wrong rank", "y = conv2d(x, b)", "bad.net:3:15: conv2d weight 'b' has shape 2; it must be K x C/group x Fh x Fw"),
    ("unknown weight", "y = conv2d(x, v)", "bad.net:3:15: no weight 'v' in the given weights"),
    ("assigned twice", "y = relu(x)\ny = relu(x)", "bad.net:4:1: 'y' is already defined on line 3"),
    ("shape mismatch", "a = conv2d(x, w, strides=2)\ny = add(a, x)", "bad.net:4:5: nn.add: rhs shape 1x2x4x4 does not match the expected 1x2x2x2"),
    ("unknown attribute", "y = max_pool2d(x, kernel=2, stride=2)", "bad.net:3:29: max_pool2d has no attribute 'stride' (did you mean 'strides'?)"),
    ("bad attribute value", "y = conv2d(x, w, pads=[1, 2, 3])", "bad.net:3:18: pads must be an integer >= 0, [h, w] or [top, left, bottom, right]"),
    ("missing attribute", "y = avg_pool2d(x)", "bad.net:3:5: avg_pool2d needs the attribute 'kernel'"),
    ("window too large", "y = max_pool2d(x, kernel=5)", "bad.net:3:5: max_pool2d: the 5x5 window (dilations 1x1) does not fit the 4x4 input"),
    ("stray character", "y = relu(x) $", "bad.net:3:13: unexpected character '$'; expected one of '@', end of line"),
    ("output is an input", "y = relu(x)\noutput x", "bad.net:4:8: output 'x' is a network input"),
    ("huge integer", "y = conv2d(x, w, pads=" + "9" * 5000 + ")", "bad.net:3:18: the integer 999999999999999999999999... is too large"),
]


@pytest.mark.parametrize(("body", "message"), [error[1:] for error in ERRORS], ids=[error[0] for error in ERRORS])
def test_errors_say_where_and_what(body: str, message: str):
    weights = {**W, "w3": np.ones((2, 3, 1, 1), np.float32)}
    with pytest.raises(TextFormatError) as raised:
        parse_network(f"network n\ninput x: 1x2x4x4\n{body}\noutput y\n", "bad.net", weights)
    assert message in str(raised.value)
    assert "^" in str(raised.value)  # the line, with a caret under the column


def test_a_missing_weights_file_is_an_error(tmp_path: Path):
    (tmp_path / "net.net").write_text('network n\nweights "gone.npz"\ninput x: 1x2\ny = relu(x)\noutput y\n')
    with pytest.raises(TextFormatError, match=r"net\.net:2:9: weights file \"gone\.npz\" not found"):
        load_model(tmp_path / "net.net")


def test_a_broken_weights_file_is_an_error(tmp_path: Path):
    (tmp_path / "w.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "net.net").write_text('weights "w.npz"\ninput x: 1x2\ny = relu(x)\noutput y\n')
    with pytest.raises(TextFormatError, match=r"net\.net:1:9: cannot read the weights file"):
        load_model(tmp_path / "net.net")


def test_weights_need_a_weights_file():
    with pytest.raises(TextFormatError, match=r":2:15: 'w' is a weight, but no weights file is declared"):
        parse_network("input x: 1x2x4x4\ny = conv2d(x, w)\noutput y\n")


@pytest.mark.parametrize("model", ["kws_dscnn.onnx", "kws_dscnn_float.tflite"])
def test_imported_models_keep_their_source_names_through_text(model: str, tmp_path):
    """Layers remember the model node they come from (`@ "name"`), so print -> parse is exact for imports too."""
    imported = load_model(Path(__file__).parents[2] / "examples" / "models" / model)
    assert 'small.source = "' in str(imported.module)
    print_text(imported.module, tmp_path / "model.net")
    assert '@ "' in (tmp_path / "model.net").read_text()
    assert str(load_model(tmp_path / "model.net").module) == str(imported.module)
