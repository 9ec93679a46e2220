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

    def shifted(framework, model_path, inputs, intermediates=()):
        outputs, found = real(framework, model_path, inputs, intermediates)
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


def test_non_finite_outputs_are_errors():
    output = check.OutputCheck((1, 3))
    output.add(np.array([[0.1, np.nan, 0.2]], np.float32), np.array([[0.1, 0.7, 0.2]], np.float32))
    assert output.max_abs == float("inf") and not output.ok
    both = check.OutputCheck((1, 2))
    both.add(np.array([[np.nan, 1.0]], np.float32), np.array([[np.nan, 1.0]], np.float32))
    assert both.max_abs == 0.0


def test_a_top1_tie_is_not_a_failure_but_a_clear_swap_is():
    tie = check.OutputCheck((1, 2))
    tie.add(np.array([[0.5, 0.5 + 1e-9]], np.float32), np.array([[0.5 + 1e-9, 0.5]], np.float32))
    tie.add(np.array([[0.0, 1.0]], np.float32), np.array([[0.0, 1.0]], np.float32))
    assert tie.ok
    swap = check.OutputCheck((1, 2))
    swap.add(np.array([[0.6, 0.4]], np.float32), np.array([[0.4, 0.6]], np.float32))
    assert not swap.ok


def test_a_renamed_tflite_file_is_still_checked_against_tflite(tmp_path):
    renamed = tmp_path / "model.bin"
    renamed.write_bytes((MODELS / "ad_autoencoder_float.tflite").read_bytes())
    report = check.check_model(renamed, target="scalar", count=2)
    assert report.reference == "the TFLite interpreter" and report.ok


def test_check_needs_an_input():
    with pytest.raises(check.SmallIRError, match="at least one input"):
        check.check_model(MODELS / "ad_autoencoder.onnx", count=0)
