"""The benchmark's machinery (small_ir.bench): harness, peak, peers, slicing, report. No timing is asserted."""

import re
import subprocess
import sys

import numpy as np
import pytest

import small_ir
from small_ir.backends import targets
from small_ir.bench import (
    PEAK_TARGETS,
    BenchReport,
    LayerResult,
    ModelResult,
    Timing,
    build_harness,
    compile_layer,
    format_report,
    layer_slices,
    main,
    measure_peak,
    plot_layer_shares,
    run_harness,
    torch_network,
)
from small_ir.compiler import entry_function, runs_here, target_spec
from small_ir.frontends.text import print_text
from small_ir.inspect import expose_layer_outputs
from small_ir.testing import interpret

RNG = np.random.default_rng(0)


def weights(*shape):
    return RNG.standard_normal(shape).astype(np.float32) * 0.3


def tiny_network():
    net = small_ir.NetworkBuilder("tiny", (1, 3, 8, 8))
    stem = net.relu(net.conv2d(net.input, weights(8, 3, 3, 3), weights(8), pads=(1, 1, 1, 1)))
    branch = net.conv2d(stem, weights(8, 8, 1, 1), weights(8))
    block = net.add(stem, branch)
    pooled = net.max_pool2d(block, kernel_shape=(2, 2), strides=(2, 2))
    return net.build(net.softmax(net.dense(net.flatten(pooled), weights(5, 128), weights(5))))


def every_op_network():
    net = small_ir.NetworkBuilder("ops", (1, 4, 9, 9))
    x = net.conv2d(net.input, weights(6, 4, 3, 3), weights(6), strides=(2, 2), pads=(1, 0, 2, 1))
    x = net.leaky_relu(x, alpha=0.1)
    x = net.max_pool2d(x, kernel_shape=(3, 3), pads=(1, 1, 0, 1))
    dw = net.relu6(net.conv2d(x, weights(6, 1, 3, 3), None, pads=(1, 1, 1, 1), group=6))
    avg_in = net.avg_pool2d(dw, kernel_shape=(3, 3), pads=(1, 1, 1, 1), count_include_pad=True)
    avg_out = net.avg_pool2d(dw, kernel_shape=(2, 3), pads=(0, 1, 1, 1), count_include_pad=False)
    x = net.mul(net.sub(avg_in, net.sigmoid(dw)), avg_out)
    x = net.concat(x, dw)
    x = net.flatten(net.global_avg_pool(x))
    return net.build(net.softmax(net.dense(x, weights(3, 12), weights(3))))


def test_harness_prints_per_repetition_times_of_the_model_and_its_layers(tmp_path):
    module = tiny_network()
    compiled = small_ir.compile(module, target="scalar", name="model")
    layers = [compile_layer(piece.module, "scalar", f"layer{piece.index}") for piece in layer_slices(module)]
    executable = build_harness([compiled, *layers], tmp_path)

    result = subprocess.run([str(executable), "2", "3", "model"], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    assert [line.split()[:4] for line in lines[:3]] == [["time", "model", str(r), "2"] for r in range(3)]
    assert all(re.fullmatch(r"time model \d 2 \d+\.\d", line) for line in lines[:3])
    assert re.fullmatch(r"checksum model \S+", lines[3])

    timings = run_harness(executable, 2, 2, [f"layer{index}" for index in range(len(layers))])
    assert sorted(timings) == sorted(layer.name for layer in layers)
    assert all(timing.iterations == 2 and len(timing.samples) == 2 for timing in timings.values())
    unknown = subprocess.run([str(executable), "2", "1", "nope"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "no entry nope" in unknown.stderr


@pytest.mark.parametrize("isa", PEAK_TARGETS)
def test_peak_microbenchmark_reports_gflops(isa, tmp_path):
    if not runs_here(target_spec(isa)):
        pytest.skip(f"this CPU has no {isa}")
    assert measure_peak(isa, tmp_path, trials=1) > 0


def test_torch_peer_computes_what_the_reference_does():
    torch = pytest.importorskip("torch", reason="the torch peer needs PyTorch (pip install torch==2.13.0)")
    module = every_op_network()
    x = RNG.uniform(-1, 1, (1, 4, 9, 9)).astype(np.float32)
    (expected,) = interpret(module, [x])
    with torch.inference_mode():
        (actual,) = torch_network(module)(torch.from_numpy(x))
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-4, atol=1e-6)


def test_layer_slices_reproduce_the_intermediate_tensors():
    module = tiny_network()
    x = RNG.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)
    exposed_module, exposed = expose_layer_outputs(module)
    (final, *intermediates) = interpret(exposed_module, [x])

    network_input = entry_function(module).body.block.args[0]
    values = {network_input: x}
    slices = layer_slices(module)
    for piece in slices:
        (values[piece.output],) = interpret(piece.module, [values[value] for value in piece.inputs])
    inner = [piece for piece in slices if piece.output is not entry_function(module).body.block.args[-1]]
    assert [piece.name for piece in inner] == [name for name, _ in exposed]
    for piece, expected in zip(inner, intermediates):
        np.testing.assert_allclose(values[piece.output], expected, rtol=1e-5, atol=1e-6, err_msg=piece.name)
    np.testing.assert_allclose(values[slices[-1].output], final, rtol=1e-5, atol=1e-6)
    assert [piece.macs for piece in slices if piece.op.startswith(("conv2d", "dense"))] == [8 * 27 * 64, 8 * 8 * 64, 5 * 128]


def blocked(array: np.ndarray, block: int) -> np.ndarray:
    """NCHW (or 1xK, as Kx1x1) in the shared layout [C/Cb][H][W][Cb], zero-padded."""
    channels, height, width = array.shape[1], *(array.shape[2:] or (1, 1))
    padded = np.zeros((-(-channels // block) * block, height, width), np.float32)
    padded[:channels] = array.reshape(channels, height, width)
    return padded.reshape(-1, block, height, width).transpose(0, 2, 3, 1).copy()


def test_a_compiled_layer_works_on_blocked_buffers():
    block = targets()["scalar"].c_ob
    module = tiny_network()
    x = RNG.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)
    exposed_module, _ = expose_layer_outputs(module)
    (_, *intermediates) = interpret(exposed_module, [x])
    arguments = entry_function(module).body.block.args
    slices = layer_slices(module)
    values = {arguments[0]: x}
    values.update(zip([piece.output for piece in slices if piece.output is not arguments[-1]], intermediates))
    for piece in slices[:5]:  # conv, relu, conv, add (two inputs), max pool
        compiled = compile_layer(piece.module, "scalar", f"layer{piece.index}")
        (output,) = compiled.run(*(blocked(values[value], block) for value in piece.inputs))
        np.testing.assert_allclose(output, blocked(values[piece.output], block), rtol=1e-5, atol=1e-6, err_msg=piece.op)


def hand_made_report() -> BenchReport:
    def timing(ms):
        return Timing([ms * 1e6 * 0.9, ms * 1e6, ms * 1e6 * 1.2], iterations=10)

    layer = LayerResult("conv;fused", "conv2d", (1, 8, 8, 8), 1_000_000, Timing([20_000.0], 5))
    relu = LayerResult("relu", "relu", (1, 8, 8, 8), 0, Timing([1_000.0], 5))
    return BenchReport(
        target="avx2",
        compiler="gcc 12 -std=c99 -O2 -mavx2 -mfma",
        cpu="Test CPU",
        pinned=0,
        rounds=3,
        peaks={"avx2": 200.0},
        versions={"onnxruntime": "1.0"},
        skipped={"tvm": "not installed (pip install apache-tvm)"},
        models=[
            ModelResult("a.tflite", 1_000_000, {"small-ir": timing(1.0), "onnxruntime": timing(2.0)}, layers=[layer, relu]),
            ModelResult("b.tflite", 2_000_000, {"small-ir": timing(0.5), "onnxruntime": timing(4.0)},
                        errors={"onnxruntime": 0.5}, reference="small-ir", mismatches=["onnxruntime"],
                        skipped={"tflite-xnnpack": "no .tflite model next to it"}),
        ],
    )


def test_report_gives_ratios_geomean_and_layer_shares():
    report = hand_made_report()
    assert report.ratios() == {"onnxruntime": {"a.tflite": 2.0, "b.tflite": 8.0}}
    assert report.geomeans()["onnxruntime"] == pytest.approx(4.0)
    text = format_report(report)
    ratio_row = next(line for line in text.splitlines() if line.strip().startswith("onnxruntime") and "geomean" not in line
                     and line.split()[-1] == "4.00")
    assert ratio_row.split()[1:] == ["2.00", "8.00", "4.00"]
    assert "geomean" in text
    assert "skipped: tvm: not installed" in text
    assert "tflite-xnnpack   skipped: no .tflite model next to it" in text
    conv_row = next(line for line in text.splitlines() if "conv2d" in line)
    assert conv_row.split()[-2:] == ["100.00", "50.0"]  # 2 MFLOP in 20 us, half the 200 GFLOP/s peak
    assert "fusion" in text and "sum of the layers" in text
    assert re.search(r"onnxruntime .* 5\.0e-01  MISMATCH", text)
    assert "best peer" not in text  # one peer: the row would repeat it


def test_best_peer_is_the_fastest_peer_of_each_model():
    report = hand_made_report()
    report.models[0].timings["tflite-xnnpack"] = Timing([1.5e6], iterations=10)  # faster than onnxruntime on a only
    assert report.best_peer_ratios() == {"a.tflite": 1.5, "b.tflite": 8.0}
    best_row = next(line for line in format_report(report).splitlines() if line.strip().startswith("best peer"))
    assert best_row.split()[2:] == ["1.50", "8.00", f"{(1.5 * 8.0) ** 0.5:.2f}"]


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot needs matplotlib")
    path = tmp_path / "shares.png"
    assert plot_layer_shares(hand_made_report(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missing_peer_is_named_and_skipped(tmp_path, monkeypatch, capsys):
    model = tmp_path / "tiny.net"
    print_text(tiny_network(), model)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    argv = [str(model), "--target", "scalar", "--rounds", "2", "--iterations", "2", "--peers", "onnxruntime,tflite-builtin"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "skipped: onnxruntime: not installed (pip install 'small-ir[bench]')" in text
    assert re.search(r"tflite-builtin +skipped: (no \.tflite model next to it|not installed)", text) or (
        "skipped: tflite-builtin: not installed" in text
    )
    assert re.search(r"^  small-ir +\d+\.\d+ +\d+\.\d+-\d+\.\d+ ", text, re.MULTILINE)
    assert "per layer" in text
