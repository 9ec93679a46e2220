"""
The MLPerf Tiny reference models, from their .tflite and .onnx files, compiled
for every host target, against the framework that defines them on 20 random
inputs: max abs error <= 1e-4 x the output's range, same argmax.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import small_ir
from small_ir.frameworks import run_framework
from small_ir.frontends import load_model
from small_ir.testing import target_params

MODELS = Path(__file__).parents[1] / "examples" / "models"
TARGETS = target_params()
FILES = [
    "ic_resnet8_float.tflite",
    "ic_resnet8.onnx",
    "kws_dscnn_float.tflite",
    "kws_dscnn.onnx",
    "vww_mobilenetv1_float.tflite",
    "vww_mobilenetv1.onnx",
    "ad_autoencoder_float.tflite",
    "ad_autoencoder.onnx",
]
RUNS = 20


def random_inputs(shapes, seed: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape).astype(np.float32) for shape in shapes] for _ in range(RUNS)]


def assert_matches(ours: list[np.ndarray], expected: list[np.ndarray]) -> None:
    ours, expected = np.stack(ours), np.stack(expected).reshape(np.stack(ours).shape)
    spread = float(expected.max() - expected.min())
    error = float(np.abs(ours.astype(np.float64) - expected).max())
    assert error <= 1e-4 * spread, f"max abs error {error:.3g} > 1e-4 x output range {spread:.3g}"
    flat = lambda a: a.reshape(RUNS, -1)  # noqa: E731
    np.testing.assert_array_equal(flat(ours).argmax(axis=1), flat(expected).argmax(axis=1))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("file", FILES)
def test_model_matches_its_framework(file: str, target: str):
    path = MODELS / file
    compiled = small_ir.compile(load_model(path).module, target=target)
    batches = random_inputs(compiled.input_shapes, seed=len(file))
    ours = [compiled.run(*inputs)[0] for inputs in batches]
    expected = [run_framework(path.suffix[1:], path, inputs)[0][0] for inputs in batches]
    assert_matches(ours, expected)


@pytest.mark.parametrize("target", TARGETS)
def test_hybrid_kws_matches_the_float_model(target: str):
    """
    The hybrid model's int8 weights, dequantized at compile time, against the float
    model: TFLite runs hybrid kernels (quantized activations) that differ by design.
    """
    compiled = small_ir.compile(load_model(MODELS / "kws_dscnn_hybrid.tflite").module, target=target)
    batches = random_inputs(compiled.input_shapes, seed=7)
    ours = [compiled.run(*inputs)[0] for inputs in batches]
    expected = [run_framework("tflite", MODELS / "kws_dscnn_float.tflite", inputs)[0][0] for inputs in batches]
    assert_matches(ours, expected)
