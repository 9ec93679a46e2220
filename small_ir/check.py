"""
`small-ir check`: the compiled model against the framework that defines it
(onnxruntime, the TFLite interpreter; for .mlir and text models, small-ir's
own reference semantics) on the same random inputs.

Per output: max abs error, max error relative to the output's range, and
top-1 agreement. When they disagree, every layer's output is compared on
the first failing input to name the layer where they part ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from small_ir.compiler import compile
from small_ir.frameworks import run_framework
from small_ir.frontends import ImportedModel, load_model
from small_ir.inspect import expose_layer_outputs
from small_ir.testing import interpret

TOLERANCE = 1e-4
"""Max abs error allowed, relative to the range of the reference output."""

HYBRID_TOLERANCE = 3e-2
"""For hybrid models: the framework quantizes activations to int8 (a step of 1/127 of their range)."""


@dataclass
class OutputCheck:
    shape: tuple[int, ...]
    max_abs: float = 0.0
    low: float = np.inf
    high: float = -np.inf
    top1_agree: int = 0
    runs: int = 0

    @property
    def range(self) -> float:
        spread = self.high - self.low
        return spread if spread > 0 else max(1.0, abs(self.high))

    @property
    def max_rel(self) -> float:
        return self.max_abs / self.range

    tolerance: float = TOLERANCE

    @property
    def ok(self) -> bool:
        return self.max_rel <= self.tolerance and self.top1_agree == self.runs

    def add(self, ours: np.ndarray, reference: np.ndarray) -> bool:
        """Records one run; False when this run disagrees."""
        ours = ours.reshape(reference.shape)
        error = float(np.abs(ours.astype(np.float64) - reference).max())
        self.max_abs = max(self.max_abs, error)
        self.low, self.high = min(self.low, float(reference.min())), max(self.high, float(reference.max()))
        same_top1 = int(ours.argmax()) == int(reference.argmax())
        self.top1_agree += same_top1
        self.runs += 1
        return same_top1 and error <= self.tolerance * self.range


@dataclass
class LayerCheck:
    name: str
    op: str
    max_abs: float
    max_rel: float


@dataclass
class CheckReport:
    model: Path
    target: str
    reference: str
    inputs: int
    outputs: list[OutputCheck]
    layers: list[LayerCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(output.ok for output in self.outputs)


def reference_name(model: ImportedModel) -> str:
    if model.hybrid:
        return f"the TFLite interpreter's hybrid int8 kernels (tolerance {HYBRID_TOLERANCE:g} of the range)"
    return {".onnx": "onnxruntime", ".tflite": "the TFLite interpreter"}.get(model.source.suffix, "small-ir's reference semantics")


def run_reference(model: ImportedModel, inputs: list[np.ndarray], intermediates: list[str] = ()):
    if model.source.suffix in (".onnx", ".tflite"):
        return run_framework(model.source, inputs, intermediates)
    outputs = interpret(model.module, [_nchw(x, model.io_layout) for x in inputs])
    return [_io(y, model.io_layout) for y in outputs], {}


def _nchw(x: np.ndarray, layout: str) -> np.ndarray:
    return x.transpose(0, 3, 1, 2) if layout == "nhwc" and x.ndim == 4 else x


def _io(x: np.ndarray, layout: str) -> np.ndarray:
    return x.transpose(0, 2, 3, 1) if layout == "nhwc" and x.ndim == 4 else x


def check_model(path: str | Path, target: str = "host", count: int = 20, seed: int = 0) -> CheckReport:
    model = load_model(path)
    compiled = compile(model.module, target=target)
    rng = np.random.default_rng(seed)
    tolerance = HYBRID_TOLERANCE if model.hybrid else TOLERANCE
    outputs = [OutputCheck(shape, tolerance=tolerance) for shape in compiled.output_shapes]
    report = CheckReport(Path(path), compiled.target, reference_name(model), count, outputs)
    first_failure = None
    for _ in range(count):
        inputs = [rng.standard_normal(shape).astype(np.float32) for shape in compiled.input_shapes]
        expected, _ = run_reference(model, inputs)
        agree = [check.add(ours, reference) for check, ours, reference in zip(report.outputs, compiled.run(*inputs), expected)]
        if not all(agree) and first_failure is None:
            first_failure = inputs
    if first_failure is not None:
        report.layers = compare_layers(model, target, first_failure)
    return report


def compare_layers(model: ImportedModel, target: str, inputs: list[np.ndarray]) -> list[LayerCheck]:
    """Every named layer output, compiled vs reference, on one input."""
    exposed, layers = expose_layer_outputs(model.module)
    compiled = compile(exposed, target=target, io_layout=model.io_layout)
    ours = compiled.run(*inputs)[-len(layers) :] if layers else []
    names = [name for name, _ in layers]
    if model.source.suffix in (".onnx", ".tflite"):
        _, theirs = run_reference(model, inputs, names)
    else:
        reference = interpret(exposed, [_nchw(x, model.io_layout) for x in inputs])[-len(layers) :]
        theirs = {name: _io(y, model.io_layout) for name, y in zip(names, reference)}
    last_of_name = {name: index for index, (name, _) in enumerate(layers)}  # a fused model op is several layers
    checks = []
    for index, ((name, op), value) in enumerate(zip(layers, ours)):
        if last_of_name[name] != index or name not in theirs or theirs[name].size != value.size:
            continue
        expected = theirs[name].astype(np.float64)
        error = float(np.abs(value.reshape(expected.shape) - expected).max())
        spread = float(expected.max() - expected.min()) or 1.0
        checks.append(LayerCheck(name, op.name, error, error / spread))
    return checks


def format_report(report: CheckReport) -> str:
    lines = [f"{report.model}: target {report.target}, {report.inputs} random inputs, reference: {report.reference}"]
    for index, output in enumerate(report.outputs):
        shape = "x".join(map(str, output.shape))
        verdict = "OK" if output.ok else "MISMATCH"
        lines.append(
            f"output {index} ({shape}): max abs error {output.max_abs:.3g}, max rel error {output.max_rel:.3g} "
            f"(of the output range), top-1 agrees {output.top1_agree}/{output.runs}  {verdict}"
        )
    if report.layers:
        worst = max(report.layers, key=lambda layer: layer.max_rel)
        tolerance = report.outputs[0].tolerance if report.outputs else TOLERANCE
        first = next((layer for layer in report.layers if layer.max_rel > tolerance), worst)
        lines.append(f"first diverging layer: {first.name} ({first.op}), max rel error {first.max_rel:.3g}")
        lines.append(f"worst layer: {worst.name} ({worst.op}), max abs error {worst.max_abs:.3g}, max rel error {worst.max_rel:.3g}")
    return "\n".join(lines)
