"""The command-line tools: a clean one-line error, a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
GOOD = """
func.func @net(%x: memref<1x2x4x4xf32>, %y: memref<1x2x4x4xf32>) {
  nn.relu %x into %y : memref<1x2x4x4xf32> into memref<1x2x4x4xf32>
  func.return
}
"""


def run(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, timeout=120)


def write(tmp_path: Path, text: str, name: str = "net.mlir") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def assert_clean_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in result.stderr


def test_compile_writes_library(tmp_path: Path):
    result = run("small-ir", "compile", write(tmp_path, GOOD), "--target", "scalar", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "arena:" in result.stdout and "MACs:" in result.stdout
    assert (tmp_path / "out" / "model.c").exists() and (tmp_path / "out" / "model.h").exists()


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("func.func @net( {", ["net.mlir:1:"]),
        (GOOD.replace("into memref<1x2x4x4xf32>\n", "into memref<1x2x4x3xf32>\n").replace("%y: memref<1x2x4x4xf32>", "%y: memref<1x2x4x3xf32>"),
         ["nn.relu: output shape 1x2x4x3 does not match the expected 1x2x4x4"]),
        (GOOD.replace("nn.relu", "nn.gelu"), ["nn.gelu"]),
    ],
    ids=["malformed", "verifier", "unknown-op"],
)
def test_compile_bad_input(tmp_path: Path, text: str, fragments: list[str]):
    assert_clean_error(run("small-ir", "compile", write(tmp_path, text), "-o", str(tmp_path / "out")), *fragments)


def test_compile_missing_file(tmp_path: Path):
    assert_clean_error(run("small-ir", "compile", str(tmp_path / "none.mlir"), "-o", str(tmp_path)), "no such file")


def test_compile_unknown_target(tmp_path: Path):
    result = run("small-ir", "compile", write(tmp_path, GOOD), "--target", "z80", "-o", str(tmp_path))
    assert_clean_error(result, "invalid choice: 'z80'")


def test_compile_unsupported_configuration(tmp_path: Path):
    text = """
func.func @net(%x: memref<1x2x4x4xf32>, %y: memref<1x2x2x2x4xf32>) {
  nn.reshape %x into %y : memref<1x2x4x4xf32> into memref<1x2x2x2x4xf32>
  func.return
}
"""
    assert_clean_error(run("small-ir", "compile", write(tmp_path, text), "-o", str(tmp_path)), "small-ir supports 1xN, 1xAxB and 1xCxHxW tensors")


def test_small_opt_unknown_pass(tmp_path: Path):
    assert_clean_error(run("small-opt", write(tmp_path, GOOD), "-p", "nn-to-small,no-such-pass"), "no-such-pass")


def test_small_opt_kernel_ops_need_a_backend_before_c(tmp_path: Path):
    result = run("small-opt", write(tmp_path, GOOD), "-p", "nn-to-small,small-layout,small-tile,small-lower-nontiled,plan-memory", "-t", "c")
    assert_clean_error(result, "kernel.", "lower-kernel-to")


def test_stock_xdsl_opt_sees_our_dialects_passes_and_target(tmp_path: Path):
    pipeline = "nn-to-small,small-layout{c_ob=4 w_ob=2},small-tile,small-lower-nontiled,plan-memory,lower-kernel-to-scalar"
    result = run("xdsl-opt", write(tmp_path, GOOD), "-p", pipeline, "-t", "c")
    assert result.returncode == 0, result.stderr
    assert "void net(const float *restrict" in result.stdout


EXAMPLE = str(Path(__file__).parents[1] / "examples" / "residual_block.mlir")


def test_run_a_compiled_directory_and_a_model(tmp_path: Path):
    import numpy as np

    x = np.random.default_rng(0).standard_normal((1, 4, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert run("small-ir", "compile", EXAMPLE, "-t", "scalar", "-o", str(tmp_path / "out")).returncode == 0
    from_directory = run("small-ir", "run", str(tmp_path / "out"), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"))
    assert from_directory.returncode == 0, from_directory.stderr
    from_model = run("small-ir", "run", EXAMPLE, "-t", "scalar", "--input", str(tmp_path / "x.npy"))
    assert from_model.returncode == 0, from_model.stderr
    assert from_directory.stdout.splitlines()[0] == from_model.stdout.splitlines()[0]
    assert np.load(tmp_path / "y.npy").shape == (1, 5)


def test_run_rejects_an_input_of_the_wrong_shape(tmp_path: Path):
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((3, 3), np.float32))
    result = run("small-ir", "run", EXAMPLE, "--input", str(tmp_path / "x.npy"))
    assert_clean_error(result, "shape (3, 3) does not fit the model input 1x4x8x8 (NCHW)")


def test_run_rejects_a_directory_that_is_not_a_compiled_model(tmp_path: Path):
    assert_clean_error(run("small-ir", "run", str(tmp_path), "--input", "x.npy"), "not a directory written by small-ir compile")


def test_check_against_the_reference_semantics():
    result = run("small-ir", "check", EXAMPLE, "-t", "scalar", "--inputs", "3")
    assert result.returncode == 0, result.stderr
    assert "top-1 agrees 3/3  OK" in result.stdout


def test_info_prints_the_layer_table():
    result = run("small-ir", "info", EXAMPLE, "-t", "scalar")
    assert result.returncode == 0, result.stderr
    assert "9 layers, 18,752 MACs, 621 parameters" in result.stdout
    assert "nn.conv2d" in result.stdout and "arena for target scalar:" in result.stdout


MODELS = Path(__file__).parents[1] / "examples" / "models"


def bad_models(tmp_path: Path) -> dict[str, tuple[Path, list[str]]]:
    import onnx
    from onnx import TensorProto, helper

    truncated_onnx = tmp_path / "truncated.onnx"
    truncated_onnx.write_bytes((MODELS / "kws_dscnn.onnx").read_bytes()[:5000])
    truncated_tflite = tmp_path / "truncated.tflite"
    truncated_tflite.write_bytes((MODELS / "kws_dscnn_float.tflite").read_bytes()[:3000])
    wrong_magic = tmp_path / "wrong_magic.tflite"
    wrong_magic.write_bytes(b"\x00" * 4 + b"NOPE" + bytes(range(200)))
    unknown_op = tmp_path / "unknown_op.onnx"
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"], name="first"), helper.make_node("HardSwish", ["r"], ["y"], name="swish")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 3])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), unknown_op)
    typo = tmp_path / "typo.net"
    typo.write_text("network t\ninput x: 1x2x4x4\ny = rleu(x)\noutput y\n")
    return {
        "truncated-onnx": (truncated_onnx, ["truncated.onnx"]),
        "truncated-tflite": (truncated_tflite, ["truncated.tflite", "corrupt or truncated"]),
        "wrong-magic": (wrong_magic, ["wrong_magic.tflite"]),
        "unknown-op": (unknown_op, ["unknown_op.onnx", "node 'swish' (HardSwish)"]),
        "int8-model": (MODELS / "kws_dscnn_int8.tflite", ["kws_dscnn_int8.tflite", "int8 activations"]),
        "text-typo": (typo, ["typo.net:3:5", "unknown op 'rleu'"]),
    }


@pytest.mark.parametrize("case", ["truncated-onnx", "truncated-tflite", "wrong-magic", "unknown-op", "int8-model", "text-typo"])
@pytest.mark.parametrize("command", ["compile", "info", "check"])
def test_bad_models_give_clean_errors(tmp_path: Path, case: str, command: str):
    path, fragments = bad_models(tmp_path)[case]
    extra = ["-o", str(tmp_path / "out")] if command == "compile" else []
    assert_clean_error(run("small-ir", command, str(path), *extra), *fragments)


@pytest.mark.parametrize("model", ["ad_autoencoder.onnx", "ad_autoencoder_float.tflite"])
def test_compile_and_run_an_imported_model(tmp_path: Path, model: str):
    import numpy as np

    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((1, 640)).astype(np.float32))
    compiled = run("small-ir", "compile", str(MODELS / model), "-t", "scalar", "-o", str(tmp_path / "out"))
    assert compiled.returncode == 0, compiled.stderr
    assert "MACs: 264192" in compiled.stdout
    result = run("small-ir", "run", str(tmp_path / "out"), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"))
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "y.npy").shape == (1, 640)
