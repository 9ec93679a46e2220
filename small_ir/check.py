"""
`small-ir check`: the compiled model against the framework that defines it
(onnxruntime, the TFLite interpreter; for .mlir and text models, small-ir's
own reference semantics) on the same random inputs.

Per output: max abs error, max error relative to the output's range over all
runs, and top-1 agreement. A run disagrees when its error exceeds the
tolerance times that range, when a value is non-finite on one side only, or
when the top-1 differs while the reference's top two are further apart than
the tolerance (closer is a tie, not a failure). On the first disagreeing run,
every layer's output is compared to name the layer where they part ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from small_ir.compiler import compile
from small_ir.errors import SmallIRError
from small_ir.frameworks import run_framework
from small_ir.frontends import ImportedModel, load_model
from small_ir.inspect import expose_layer_outputs
from small_ir.testing import interpret

TOLERANCE = 1e-4
"""Max abs error allowed, relative to the range of the reference output."""

HYBRID_TOLERANCE = 3e-2
"""For hybrid models: the framework quantizes activations to int8 (a step of 1/127 of their range)."""


def abs_error(ours: np.ndarray, reference: np.ndarray) -> float:
    """Max abs difference; inf where a value is non-finite on one side only (or infinite with another sign)."""
    same_special = (np.isnan(ours) & np.isnan(reference)) | (np.isinf(ours) & (ours == reference))
    finite = np.isfinite(ours) & np.isfinite(reference)
    if not (same_special | finite).all():
        return float("inf")
    return float(np.abs(ours[finite].astype(np.float64) - reference[finite]).max(initial=0.0))


@dataclass
class OutputCheck:
    shape: tuple[int, ...]
    tolerance: float = TOLERANCE
    errors: list[float] = field(default_factory=list)
    top1_same: list[bool] = field(default_factory=list)
    top2_gaps: list[float] = field(default_factory=list)
    low: float = np.inf
    high: float = -np.inf

    def add(self, ours: np.ndarray, reference: np.ndarray) -> None:
        if ours.shape != reference.shape:
            raise SmallIRError(f"small-ir's output has shape {ours.shape}, the reference's {reference.shape}")
        self.errors.append(abs_error(ours, reference))
        finite = reference[np.isfinite(reference)]
        if finite.size:
            self.low, self.high = min(self.low, float(finite.min())), max(self.high, float(finite.max()))
        top = np.sort(reference.ravel())[-2:]
        self.top2_gaps.append(float(top[-1] - top[0]) if top.size == 2 else float("inf"))
        self.top1_same.append(int(np.nanargmax(ours)) == int(np.nanargmax(reference)) if finite.size else False)

    @property
    def runs(self) -> int:
        return len(self.errors)

    @property
    def range(self) -> float:
        spread = self.high - self.low
        return spread if spread > 0 else max(1.0, abs(self.high))

    @property
    def max_abs(self) -> float:
        return max(self.errors, default=0.0)

    @property
    def max_rel(self) -> float:
        return self.max_abs / self.range

    @property
    def top1_agree(self) -> int:
        return sum(self.top1_same)

    def failing_runs(self) -> list[int]:
        allowed = self.tolerance * self.range
        return [
            run
            for run, (error, same, gap) in enumerate(zip(self.errors, self.top1_same, self.top2_gaps))
            if error > allowed or (not same and gap > allowed)
        ]

    @property
    def ok(self) -> bool:
        return self.runs > 0 and not self.failing_runs()


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
    return {"onnx": "onnxruntime", "tflite": "the TFLite interpreter"}.get(model.framework, "small-ir's reference semantics")


def run_reference(model: ImportedModel, inputs: list[np.ndarray], intermediates: list[str] = ()):
    if model.framework is not None:
        return run_framework(model.framework, model.source, inputs, intermediates)
    outputs = interpret(model.module, [_nchw(x, model.io_layout) for x in inputs])
    return [_io(y, model.io_layout) for y in outputs], {}


def _nchw(x: np.ndarray, layout: str) -> np.ndarray:
    return x.transpose(0, 3, 1, 2) if layout == "nhwc" and x.ndim == 4 else x


def _io(x: np.ndarray, layout: str) -> np.ndarray:
    return x.transpose(0, 2, 3, 1) if layout == "nhwc" and x.ndim == 4 else x


def check_model(path: str | Path, target: str = "host", count: int = 20, seed: int = 0) -> CheckReport:
    if count < 1:
        raise SmallIRError(f"check needs at least one input, got {count}")
    model = load_model(path)
    compiled = compile(model.module, target=target)
    rng = np.random.default_rng(seed)
    tolerance = HYBRID_TOLERANCE if model.hybrid else TOLERANCE
    outputs = [OutputCheck(shape, tolerance=tolerance) for shape in compiled.output_shapes]
    report = CheckReport(Path(path), compiled.target, reference_name(model), count, outputs)
    runs = [[rng.standard_normal(shape).astype(np.float32) for shape in compiled.input_shapes] for _ in range(count)]
    for inputs, ours in zip(runs, compiled.run_batch(runs)):
        expected, _ = run_reference(model, inputs)
        for check, value, reference in zip(report.outputs, ours, expected):
            check.add(value, reference)
    failing = sorted(run for output in report.outputs for run in output.failing_runs())
    if failing:
        report.layers = compare_layers(model, target, runs[failing[0]])
    return report


def compare_layers(model: ImportedModel, target: str, inputs: list[np.ndarray]) -> list[LayerCheck]:
    """Every named layer output, compiled vs reference, on one input (layers of equal shape on both sides)."""
    exposed, layers = expose_layer_outputs(model.module)
    compiled = compile(exposed, target=target, io_layout=model.io_layout)
    ours = compiled.run(*inputs)[-len(layers) :] if layers else []
    names = [name for name, _ in layers]
    if model.framework is not None:
        _, theirs = run_reference(model, inputs, names)
    else:
        reference = interpret(exposed, [_nchw(x, model.io_layout) for x in inputs])[-len(layers) :]
        theirs = {name: _io(y, model.io_layout) for name, y in zip(names, reference)}
    last_of_name = {name: index for index, (name, _) in enumerate(layers)}  # a fused model op is several layers
    checks = []
    for index, ((name, op), value) in enumerate(zip(layers, ours)):
        if last_of_name[name] != index or name not in theirs or theirs[name].shape != value.shape:
            continue
        expected = theirs[name]
        error = abs_error(value, expected)
        finite = expected[np.isfinite(expected)]
        spread = float(finite.max() - finite.min()) if finite.size else 0.0
        checks.append(LayerCheck(name, op.name, error, error / (spread or 1.0)))
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
        tolerance = report.outputs[0].tolerance if report.outputs else TOLERANCE
        worst = max(report.layers, key=lambda layer: layer.max_rel)
        first = next((layer for layer in report.layers if layer.max_rel > tolerance), worst)
        lines.append(f"first diverging layer: {first.name} ({first.op}), max rel error {first.max_rel:.3g}")
        lines.append(f"worst layer: {worst.name} ({worst.op}), max abs error {worst.max_abs:.3g}, max rel error {worst.max_rel:.3g}")
    return "\n".join(lines)
