"""`small-ir check`: agreement per output, and the layer where two implementations part ways."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import small_ir.check as check
from small_ir.frontends import load_model

MODELS = Path(__file__).parents[1] / "examples" / "models"


@pytest.mark.parametrize("model", ["kws_dscnn.onnx", "kws_dscnn_float.tflite"])
def test_every_layer_is_compared_with_the_framework(model: str):
    imported = load_model(MODELS / model)
    inputs = [np.random.default_rng(0).standard_normal(shape).astype(np.float32) for shape in small_ir_input_shapes(imported)]
    layers = check.compare_layers(imported, "scalar", inputs)
    assert len(layers) >= 10  # conv, depthwise, pool, dense, softmax: each model node once
    assert max(layer.max_rel for layer in layers) < 1e-4


def small_ir_input_shapes(imported) -> list[tuple[int, ...]]:
    from small_ir.compiler import compile

    return compile(imported.module, target="scalar").input_shapes


def test_a_diverging_layer_is_named(monkeypatch):
    """The framework is made to disagree from one layer on: check must fail and name that layer."""
    path = MODELS / "kws_dscnn_float.tflite"
    real = check.run_framework
    layers = [name for name, _ in check.expose_layer_outputs(load_model(path).module)[1]]
    broken = layers[len(layers) // 2]

    def shifted(model_path, inputs, intermediates=()):
        outputs, found = real(model_path, inputs, intermediates)
        after = layers[layers.index(broken) :]
        found = {name: value + (1.0 if name in after else 0.0) for name, value in found.items()}
        return [output + np.eye(1, output.size, 0, dtype=np.float32).reshape(output.shape) for output in outputs], found

    monkeypatch.setattr(check, "run_framework", shifted)
    report = check.check_model(path, target="scalar", count=2)
    assert not report.ok
    text = check.format_report(report)
    assert f"first diverging layer: {broken} " in text
    assert "MISMATCH" in text


def test_a_hybrid_model_is_checked_at_the_quantization_tolerance():
    """TFLite runs hybrid models with int8-quantized activations: check says so and allows for it."""
    report = check.check_model(MODELS / "kws_dscnn_hybrid.tflite", target="scalar", count=5)
    assert "hybrid int8 kernels" in report.reference
    assert report.ok
    assert 1e-4 < report.outputs[0].max_rel <= check.HYBRID_TOLERANCE  # quantization error, as expected
