"""
The benchmark (`small-ir bench MODEL...`, `make bench`): small-ir against
other frameworks, on one pinned CPU core, in one run.

* small-ir's model is timed inside a C harness (`harness_source`): a warm-up
  loop, then repetitions of N calls timed with `clock_gettime(CLOCK_MONOTONIC)`;
  no Python in the measured loop. It is built like the library is used: the
  toolchain's flags (`-std=c99 -O3`) plus the target's (`-mavx2 -mfma`, ...).
* The peers run in this process, each in a tight loop of N calls on one thread:
  onnxruntime, TFLite (ai-edge-litert) with XNNPACK and with its builtin kernels
  only, PyTorch (eager, the same network rebuilt from the nn dialect) and Apache
  TVM (Relax, default CPU pipeline, untuned). A peer that is not installed, or
  lacks the model file it needs (.onnx, .tflite), is named and skipped. Every
  implementation's outputs are compared once with onnxruntime's (else TFLite's)
  on one random input, and flagged if they differ.
* Interleaved rounds: each round runs one repetition of every implementation.
  The report gives the median and the min-max over the rounds, the ratios
  peer / small-ir per model and their geometric mean, also against the fastest
  peer of each model (`best peer`).
* Per layer: each nn layer is cut out into a one-layer module (`layer_slices`),
  compiled with its inputs and outputs already in the blocked layout
  (`compile_layer`, so no layout conversion is timed) and timed in the same
  harness. GFLOP/s = 2 x MACs / time, and the share of the FMA peak that
  `small_ir/peakflops.c` measures in the same run. Layers timed alone lose the
  fusion across layers (activations and residual adds folded into a conv).

    report = run_bench([Path("examples/models/ic_resnet8_float.tflite")], target="avx2")
    print(format_report(report))
    plot_layer_shares(report, Path("out/bench.png"))
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from math import prod
from pathlib import Path

import numpy as np
from xdsl.dialects import func, memref
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region, SSAValue

from small_ir.compiler import (
    CompiledModel,
    entry_function,
    output_arguments,
    runs_here,
    target_spec,
)
from small_ir.compiler import compile as compile_model
from small_ir.dialects import nn
from small_ir.dialects.nn import shape_of
from small_ir.errors import SmallIRError
from small_ir.inspect import layer_macs, layer_name, nn_layers
from small_ir.toolchain import C_FLAGS, build_executable, c_compiler
from small_ir.weights import constant_array, global_of

SMALL_IR = "small-ir"
PEERS = ("onnxruntime", "tflite-xnnpack", "tflite-builtin", "torch", "tvm")
DEFAULT_ROUNDS = 15
REPETITION_MS = 20.0
"""Each repetition (of the whole model, per round) runs about this long; a layer's runs a quarter of it."""
PEAK_TARGETS = ("avx2", "avx512")
"""The targets whose FMA peak small_ir/peakflops.c measures, built with each target's flags."""
HARNESS_TIMEOUT_SECONDS = 600
MISMATCH_TOLERANCE = 1e-3
"""Outputs differing from the reference by more than this (times max(1, max |output|)) are flagged."""
INSTALL_HINT = "pip install 'small-ir[bench]'"


# Results.


@dataclass
class Timing:
    """Nanoseconds per inference, one sample per round (or repetition)."""

    samples: list[float]
    iterations: int = 0
    """Calls per repetition."""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)


@dataclass
class LayerResult:
    name: str
    op: str
    output_shape: tuple[int, ...]
    macs: int
    timing: Timing


@dataclass
class ModelResult:
    model: str
    macs: int
    timings: dict[str, Timing]
    """Implementation -> timing; small-ir first."""
    errors: dict[str, float] = field(default_factory=dict)
    """Implementation -> max abs difference of its outputs from the reference's, on one random input."""
    reference: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    """Peer -> why it did not run on this model."""
    layers: list[LayerResult] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    """Implementations whose outputs differ from the reference's by more than MISMATCH_TOLERANCE."""


@dataclass
class BenchReport:
    target: str
    compiler: str
    cpu: str
    pinned: int | None
    rounds: int
    peaks: dict[str, float]
    """ISA -> single-thread FMA peak in GFLOP/s."""
    versions: dict[str, str]
    skipped: dict[str, str]
    """Peer -> why it did not run at all."""
    models: list[ModelResult]

    @property
    def peak_isa(self) -> str | None:
        """The ISA whose peak the layer shares refer to: the target's, else the widest measured."""
        if self.target in self.peaks:
            return self.target
        return max(self.peaks, key=self.peaks.__getitem__) if self.peaks else None

    def ratios(self) -> dict[str, dict[str, float]]:
        """Peer -> model -> median(peer) / median(small-ir); above 1, small-ir is faster."""
        table: dict[str, dict[str, float]] = {}
        for result in self.models:
            if SMALL_IR not in result.timings:
                continue
            base = result.timings[SMALL_IR].median
            for name, timing in result.timings.items():
                if name != SMALL_IR:
                    table.setdefault(name, {})[result.model] = timing.median / base
        return table

    def geomeans(self) -> dict[str, float]:
        return {name: geomean(list(by_model.values())) for name, by_model in self.ratios().items()}

    def best_peer_ratios(self) -> dict[str, float]:
        """Model -> the smallest peer / small-ir ratio: against the fastest peer of that model."""
        best: dict[str, float] = {}
        for by_model in self.ratios().values():
            for model, ratio in by_model.items():
                best[model] = min(ratio, best.get(model, ratio))
        return best


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(value) for value in values) / len(values))


# The C harness.


@dataclass(frozen=True)
class HarnessEntry:
    """A function `NAME_run(inputs..., outputs...)` the harness times, with its buffer sizes (floats)."""

    name: str
    input_sizes: tuple[int, ...]
    output_sizes: tuple[int, ...]

    @staticmethod
    def of(compiled: CompiledModel) -> HarnessEntry:
        return HarnessEntry(
            compiled.name,
            tuple(prod(shape) for shape in compiled.input_shapes),
            tuple(prod(shape) for shape in compiled.output_shapes),
        )


_HARNESS_HEAD = r"""/* Timing harness, generated by small_ir.bench. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct buffer { float *data; long size; };
struct entry {
  const char *name;
  void (*call)(void);
  const struct buffer *inputs; int n_inputs;
  const struct buffer *outputs; int n_outputs;
};
"""

_HARNESS_MAIN = r"""
static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Deterministic inputs in [-1, 1). */
static float next_value(void) {
  static unsigned long long state = 88172645463325252ULL;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return (float)(state >> 40) / 16777216.0f * 2.0f - 1.0f;
}

/* "200" is 200 calls per repetition; "20ms" is as many calls as last about 20 ms. */
static int parse_iterations(const char *text, long *iterations, double *target_ns) {
  char *end;
  double value = strtod(text, &end);
  if (end == text || !(value > 0.0)) return 0;
  if (strcmp(end, "ms") == 0) {
    *iterations = 0;
    *target_ns = value * 1e6;
    return 1;
  }
  *iterations = (long)value;
  return *end == '\0' && *iterations >= 1;
}

static void time_entry(const struct entry *e, long iterations, double target_ns, int repetitions) {
  if (iterations == 0) { /* warm up for a quarter of the target, and size the repetitions from it */
    long calls = 0;
    double start = now_ns(), elapsed;
    do {
      e->call();
      calls++;
      elapsed = now_ns() - start;
    } while (calls < 2 || elapsed < target_ns / 4);
    iterations = (long)(target_ns / (elapsed / (double)calls));
    if (iterations < 1) iterations = 1;
  } else {
    long warmup = iterations / 10 < 2 ? 2 : iterations / 10;
    for (long i = 0; i < warmup; i++) e->call();
  }
  for (int r = 0; r < repetitions; r++) {
    double start = now_ns();
    for (long i = 0; i < iterations; i++) e->call();
    double elapsed = now_ns() - start;
    printf("time %s %d %ld %.1f\n", e->name, r, iterations, elapsed / (double)iterations);
  }
  double checksum = 0.0;
  for (int o = 0; o < e->n_outputs; o++)
    for (long i = 0; i < e->outputs[o].size; i++) checksum += e->outputs[o].data[i];
  printf("checksum %s %.6g\n", e->name, checksum);
  fflush(stdout);
}

int main(int argc, char **argv) {
  long iterations;
  double target_ns = 0.0;
  int repetitions = argc > 2 ? atoi(argv[2]) : 0;
  if (argc < 3 || !parse_iterations(argv[1], &iterations, &target_ns) || repetitions < 1) {
    fprintf(stderr, "usage: %s ITERATIONS|MSms REPETITIONS [ENTRY...]\n", argv[0]);
    return 2;
  }
  int n_entries = (int)(sizeof entries / sizeof entries[0]);
  for (int a = 3; a < argc; a++) {
    int known = 0;
    for (int e = 0; e < n_entries; e++) known |= strcmp(argv[a], entries[e].name) == 0;
    if (!known) {
      fprintf(stderr, "%s: no entry %s\n", argv[0], argv[a]);
      return 2;
    }
  }
  for (int e = 0; e < n_entries; e++)
    for (int b = 0; b < entries[e].n_inputs; b++)
      for (long i = 0; i < entries[e].inputs[b].size; i++) entries[e].inputs[b].data[i] = next_value();
  for (int e = 0; e < n_entries; e++) {
    int chosen = argc == 3;
    for (int a = 3; a < argc; a++) chosen |= strcmp(argv[a], entries[e].name) == 0;
    if (chosen) time_entry(&entries[e], iterations, target_ns, repetitions);
  }
  return 0;
}
"""


def harness_source(entries: Sequence[HarnessEntry]) -> str:
    """
    A C `main` that times each entry: `harness ITERATIONS|MSms REPETITIONS [ENTRY...]`
    prints, per repetition, `time ENTRY REPETITION ITERATIONS NS_PER_CALL`, then
    `checksum ENTRY SUM_OF_OUTPUTS`. Link it with the entries' C files.
    """
    lines = [_HARNESS_HEAD]
    table = []
    for entry in entries:
        params = ["const float *"] * len(entry.input_sizes) + ["float *"] * len(entry.output_sizes)
        lines.append(f"void {entry.name}_run({', '.join(params)});")
        for kind, sizes in (("in", entry.input_sizes), ("out", entry.output_sizes)):
            for index, size in enumerate(sizes):
                lines.append(f"static float {entry.name}_{kind}{index}[{max(size, 1)}] __attribute__((aligned(64)));")
            listing = ", ".join(f"{{{entry.name}_{kind}{index}, {size}}}" for index, size in enumerate(sizes))
            lines.append(f"static const struct buffer {entry.name}_{kind}[] = {{{listing or '{0, 0}'}}};")
        arguments = [f"{entry.name}_in{i}" for i in range(len(entry.input_sizes))]
        arguments += [f"{entry.name}_out{i}" for i in range(len(entry.output_sizes))]
        lines.append(f"static void call_{entry.name}(void) {{ {entry.name}_run({', '.join(arguments)}); }}")
        lines.append("")
        table.append(
            f'  {{"{entry.name}", call_{entry.name}, {entry.name}_in, {len(entry.input_sizes)}, '
            f"{entry.name}_out, {len(entry.output_sizes)}}},"
        )
    lines += ["static const struct entry entries[] = {", *table, "};", _HARNESS_MAIN]
    return "\n".join(lines)


def build_harness(models: Sequence[CompiledModel], directory: Path) -> Path:
    """
    The harness program around `models` (compiled for one target), built with
    the library's flags: the toolchain's plus the target's. The models' C files
    (mostly weights) compile in parallel, one object file each.
    """
    directory.mkdir(parents=True, exist_ok=True)
    flags = list(models[0].cflags)
    sources = []
    for compiled in models:
        source = directory / f"{compiled.name}.c"
        source.write_text(compiled.c_source)
        sources.append(source)
    harness = directory / "harness.c"
    harness.write_text(harness_source([HarnessEntry.of(compiled) for compiled in models]))

    def compile_object(source: Path) -> Path:
        return build_executable([source], source.with_suffix(".o"), [*flags, "-c"])

    with ThreadPoolExecutor(max_workers=available_cpus()) as pool:
        objects = list(pool.map(compile_object, sources))
    return build_executable([harness, *objects], directory / "harness", flags)


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run_harness(
    executable: Path, iterations: int | None, repetitions: int, entries: Sequence[str] = (), repetition_ms: float = REPETITION_MS
) -> dict[str, Timing]:
    """Runs the harness: `iterations` calls per repetition, or (None) as many as last `repetition_ms`."""
    count = str(iterations) if iterations else f"{repetition_ms:g}ms"
    command = [str(executable), count, str(repetitions), *entries]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=HARNESS_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise SmallIRError(f"the benchmark harness did not finish in {HARNESS_TIMEOUT_SECONDS} s") from None
    if result.returncode != 0:
        raise SmallIRError(f"the benchmark harness failed (exit {result.returncode}): {result.stderr.strip()}")
    timings: dict[str, Timing] = {}
    for line in result.stdout.splitlines():
        fields = line.split()
        if fields[0] == "time":
            timing = timings.setdefault(fields[1], Timing([], int(fields[3])))
            timing.samples.append(float(fields[4]))
    return timings


# The FMA peak.


def peak_source() -> Path:
    return Path(str(resources.files("small_ir") / "peakflops.c"))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def measure_peak(isa: str, directory: Path, trials: int = 5) -> float:
    """Single-thread FMA GFLOP/s of `isa` (avx2 | avx512) on this CPU, with small_ir/peakflops.c."""
    executable = build_executable([peak_source()], directory / f"peakflops_{isa}", list(target_spec(isa).cflags))
    result = subprocess.run([str(executable), str(trials)], capture_output=True, text=True, timeout=120)
    found = re.search(r"gflops=([0-9.]+)", result.stdout)
    if result.returncode != 0 or found is None:
        raise SmallIRError(f"peakflops ({isa}) failed (exit {result.returncode}): {result.stderr.strip()}")
    return float(found.group(1))


def measure_peaks(directory: Path) -> dict[str, float]:
    """The FMA peak of every target in PEAK_TARGETS this CPU runs."""
    return {isa: measure_peak(isa, directory) for isa in PEAK_TARGETS if runs_here(target_spec(isa))}


# Pinning.


@contextmanager
def pinned(cpu: int | None = None) -> Iterator[int | None]:
    """
    Pins this process (its threads created from now on, and its children) to one CPU:
    `cpu`, else the first allowed one. Yields the CPU, or None where affinity is not supported.
    """
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    chosen = min(allowed) if cpu is None else cpu
    if chosen not in allowed:
        raise SmallIRError(f"CPU {chosen} is not available to this process (allowed: {sorted(allowed)})")
    os.sched_setaffinity(0, {chosen})
    try:
        yield chosen
    finally:
        os.sched_setaffinity(0, allowed)


# Layers, one at a time.


@dataclass
class LayerSlice:
    """One nn layer of a network as a module of its own: `@layerN(inputs..., output)`."""

    index: int
    name: str
    op: str
    macs: int
    module: ModuleOp
    inputs: list[SSAValue]
    """The layer's activation inputs, as values of the original module."""
    output: SSAValue
    """The buffer the layer writes, in the original module."""


def layer_slices(module: ModuleOp) -> list[LayerSlice]:
    """Every nn layer of `module`, cut out with its weights (the original is not modified)."""
    slices = []
    for index, op in enumerate(nn_layers(module)):
        weights = [value for value in op.operands if isinstance(value.owner, memref.GetGlobalOp)]
        activations = list(dict.fromkeys(value for value in op.operands if value is not op.output and value not in weights))
        block = Block(arg_types=[value.type for value in activations] + [op.output.type])
        mapping: dict[SSAValue, SSAValue] = dict(zip(activations, block.args))
        mapping[op.output] = block.args[-1]
        globals_: dict[str, memref.GlobalOp] = {}
        for value in dict.fromkeys(weights):
            found = global_of(value, op)
            globals_.setdefault(found.sym_name.data, found.clone())
            get = value.owner.clone()
            block.add_op(get)
            mapping[value] = get.memref
        block.add_op(op.clone(value_mapper=mapping))
        block.add_op(func.ReturnOp())
        function = func.FuncOp(f"layer{index}", ([arg.type for arg in block.args], []), Region(block))
        sliced = ModuleOp([*globals_.values(), function])
        sliced.verify()
        slices.append(LayerSlice(index, layer_name(op, index), layer_kind(op), layer_macs(op), sliced, activations, op.output))
    return slices


def layer_kind(op) -> str:
    """The op, and for a conv its filter, depthwise and stride: `conv2d 3x3 dw s2`."""
    kind = op.name.removeprefix("nn.")
    if not isinstance(op, nn.Conv2dOp):
        return kind
    out_channels, per_group, fh, fw = shape_of(op.weight)
    group = op.group.value.data
    kind += f" {fh}x{fw}"
    if group > 1:
        kind += " dw" if per_group == 1 and group == out_channels else f" g{group}"
    stride = max(op.stride_pair)
    return kind + (f" s{stride}" if stride > 1 else "")


def compile_layer(module: ModuleOp, target: str, name: str) -> CompiledModel:
    """`small_ir.compile` for timing one layer: its inputs and outputs stay in the blocked layout, as between layers."""
    return compile_model(module, target=target, name=name, io_layout="blocked")


# PyTorch: the same network, from the nn dialect.


def torch_network(module: ModuleOp):
    """
    A `torch.nn.Module` computing the nn-dialect network `module` (NCHW, batch 1,
    weights from its memref.global constants); forward(*inputs) returns a tuple.
    """
    import torch

    function = entry_function(module)
    arguments = list(function.body.block.args)
    outputs = output_arguments(function)
    slots: dict[SSAValue, int] = {}

    def slot(value: SSAValue) -> int:
        return slots.setdefault(value, len(slots))

    input_slots = [slot(argument) for index, argument in enumerate(arguments) if index not in outputs]
    output_slots = [slot(arguments[index]) for index in outputs]
    constants: dict[int, torch.Tensor] = {}
    steps = []
    for op in function.body.block.ops:
        if isinstance(op, memref.GetGlobalOp):
            constants[slot(op.memref)] = torch.from_numpy(constant_array(op.memref, op))
        elif op.dialect_name() == "nn":
            operands = tuple(slot(value) for value in op.operands if value is not op.output)
            steps.append((operands, slot(op.output), _torch_layer(op)))
        elif not isinstance(op, memref.AllocOp | func.ReturnOp):
            raise SmallIRError(f"{op.name}: the PyTorch peer has no equivalent for this op")

    class Network(torch.nn.Module):
        def forward(self, *inputs):
            values = dict(constants)
            values.update(zip(input_slots, inputs))
            for operands, result, layer in steps:
                values[result] = layer(*(values[operand] for operand in operands))
            return tuple(values[output] for output in output_slots)

    return Network().eval()


def _torch_layer(op) -> Callable:
    import torch
    import torch.nn.functional as F

    if isinstance(op, nn.Conv2dOp):
        top, left, bottom, right = op.pad_quad
        stride, dilation, group = op.stride_pair, tuple(op.dilations.get_values()), op.group.value.data
        if (top, left) == (bottom, right):
            return lambda x, w, b=None: F.conv2d(x, w, b, stride, (top, left), dilation, group)
        return lambda x, w, b=None: F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride, 0, dilation, group)
    if isinstance(op, nn.MaxPool2dOp):
        top, left, bottom, right = op.pad_quad
        kernel, stride, dilation = op.kernel_pair, op.stride_pair, tuple(op.dilations.get_values())
        pads = (left, right, top, bottom)
        if not any(pads):
            return lambda x: F.max_pool2d(x, kernel, stride, 0, dilation)
        return lambda x: F.max_pool2d(F.pad(x, pads, value=-math.inf), kernel, stride, 0, dilation)
    if isinstance(op, nn.AvgPool2dOp):
        top, left, bottom, right = op.pad_quad
        kernel, stride, pads = op.kernel_pair, op.stride_pair, (left, right, top, bottom)
        if not any(pads):
            return lambda x: F.avg_pool2d(x, kernel, stride)
        if op.count_include_pad.value.data:
            return lambda x: F.avg_pool2d(F.pad(x, pads), kernel, stride)
        # the divisor counts only the real elements of each window
        _, _, height, width = shape_of(op.input)
        real = F.avg_pool2d(F.pad(torch.ones(1, 1, height, width), pads), kernel, stride)
        return lambda x: F.avg_pool2d(F.pad(x, pads), kernel, stride) / real
    if isinstance(op, nn.GlobalAvgPoolOp):
        return lambda x: torch.mean(x, (2, 3), keepdim=True)
    if isinstance(op, nn.DenseOp):
        return lambda x, w, b=None: F.linear(x, w, b)
    if isinstance(op, nn.ClipOp):
        low, high = op.min.value.data, op.max.value.data
        return lambda x: torch.clamp(x, low, high)
    if isinstance(op, nn.LeakyReluOp):
        alpha = op.alpha.value.data
        return lambda x: F.leaky_relu(x, alpha)
    if isinstance(op, nn.ReshapeOp):
        shape = shape_of(op.output)
        return lambda x: torch.reshape(x, shape)
    if isinstance(op, nn.ConcatOp):
        return lambda *xs: torch.cat(xs, 1)
    simple = {
        nn.AddOp: torch.add,
        nn.SubOp: torch.sub,
        nn.MulOp: torch.mul,
        nn.ReluOp: F.relu,
        nn.SigmoidOp: torch.sigmoid,
        nn.SoftmaxOp: lambda x: F.softmax(x, 1),
    }
    if type(op) in simple:
        return simple[type(op)]
    raise SmallIRError(f"{op.name}: the PyTorch peer has no equivalent for this op")


# The implementations timed on one model.


class Unavailable(Exception):
    """A peer that cannot run (here, or on this model); the message says why."""


@dataclass
class ModelFiles:
    compiled: Path
    """The file small-ir compiles (and PyTorch rebuilds)."""
    onnx: Path | None
    tflite: Path | None

    @property
    def label(self) -> str:
        return self.compiled.name


def model_files(path: Path) -> ModelFiles:
    """The model and its siblings in the other format: x_float.tflite <-> x.onnx."""
    base = path.stem.removesuffix("_float")
    onnx = [path] if path.suffix == ".onnx" else [path.with_name(f"{base}.onnx")]
    tflite = [path] if path.suffix == ".tflite" else [path.with_name(f"{base}_float.tflite"), path.with_name(f"{base}.tflite")]
    return ModelFiles(
        path,
        next((candidate for candidate in onnx if candidate.is_file()), None),
        next((candidate for candidate in tflite if candidate.is_file()), None),
    )


@dataclass
class Implementation:
    name: str
    timed: Callable[[int], float]
    """Runs N inferences in a tight loop; returns ns per inference."""
    outputs: list[np.ndarray]
    """Its outputs on the check input, NCHW."""
    iterations: int = 1


def to_layout(array: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(array.transpose(0, 2, 3, 1)) if layout == "nhwc" and array.ndim == 4 else array


def from_layout(array: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(array.transpose(0, 3, 1, 2)) if layout == "nhwc" and array.ndim == 4 else array


def loop(call: Callable[[], object], iterations: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(iterations):
        call()
    return (time.perf_counter_ns() - start) / iterations


def calibrate(timed: Callable[[int], float], target_ns: float) -> int:
    """Warms up for a quarter of `target_ns`; returns the calls that take about `target_ns`."""
    calls, spent = 0, 0.0
    while calls < 2 or spent < target_ns / 4:
        spent += timed(1)
        calls += 1
    return max(1, round(target_ns / (spent / calls)))


def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise Unavailable(f"not installed ({INSTALL_HINT})") from error


def _check_shapes(peer: str, declared: Sequence[Sequence], inputs: Sequence[np.ndarray]) -> None:
    if len(declared) != len(inputs):
        raise Unavailable(f"{peer} sees {len(declared)} inputs, small-ir {len(inputs)}")
    for shape, array in zip(declared, inputs):
        static = [dim if isinstance(dim, int) else None for dim in shape]
        if len(static) != array.ndim or any(dim not in (None, size) for dim, size in zip(static, array.shape)):
            raise Unavailable(f"{peer} input shape {list(shape)} differs from small-ir's {list(array.shape)}")


def load_onnxruntime(files: ModelFiles, inputs: list[np.ndarray], module: ModuleOp) -> Implementation:
    runtime = _require("onnxruntime")
    if files.onnx is None:
        raise Unavailable("no .onnx model next to it")
    options = runtime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = runtime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = runtime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = runtime.InferenceSession(str(files.onnx), options, providers=["CPUExecutionProvider"])
    _check_shapes("onnxruntime", [i.shape for i in session.get_inputs()], inputs)
    binding = session.io_binding()
    for declared, array in zip(session.get_inputs(), inputs):
        binding.bind_cpu_input(declared.name, array)
    for declared in session.get_outputs():
        binding.bind_output(declared.name, "cpu")
    session.run_with_iobinding(binding)
    outputs = [np.asarray(output) for output in binding.copy_outputs_to_cpu()]
    return Implementation("onnxruntime", lambda n: loop(lambda: session.run_with_iobinding(binding), n), outputs)


def load_tflite(files: ModelFiles, inputs: list[np.ndarray], xnnpack: bool) -> Implementation:
    litert = _require("ai_edge_litert.interpreter")
    name = "tflite-xnnpack" if xnnpack else "tflite-builtin"
    if files.tflite is None:
        raise Unavailable("no .tflite model next to it")
    options = {} if xnnpack else {"experimental_op_resolver_type": litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    interpreter = litert.Interpreter(model_path=str(files.tflite), num_threads=1, **options)
    interpreter.allocate_tensors()
    arrays = [to_layout(array, "nhwc") for array in inputs]
    details = interpreter.get_input_details()
    _check_shapes(name, [list(detail["shape"]) for detail in details], arrays)
    for detail, array in zip(details, arrays):
        interpreter.set_tensor(detail["index"], array)
    interpreter.invoke()
    outputs = [from_layout(interpreter.get_tensor(d["index"]), "nhwc") for d in interpreter.get_output_details()]
    return Implementation(name, lambda n: loop(interpreter.invoke, n), outputs)


def load_torch(files: ModelFiles, inputs: list[np.ndarray], module: ModuleOp) -> Implementation:
    torch = _require("torch")
    torch.set_num_threads(1)
    network = torch_network(module)
    tensors = [torch.from_numpy(array) for array in inputs]
    with torch.inference_mode():
        outputs = [output.numpy().copy() for output in network(*tensors)]

    def timed(iterations: int) -> float:
        with torch.inference_mode():
            return loop(lambda: network(*tensors), iterations)

    return Implementation("torch", timed, outputs)


def load_tvm(files: ModelFiles, inputs: list[np.ndarray], module: ModuleOp) -> Implementation:
    os.environ["TVM_NUM_THREADS"] = "1"  # read when TVM's thread pool starts
    tvm = _require("tvm")
    onnx = _require("onnx")
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    if files.onnx is None:
        raise Unavailable("no .onnx model next to it")
    model = onnx.load(str(files.onnx))
    initializers = {initializer.name for initializer in model.graph.initializer}
    names = [graph_input.name for graph_input in model.graph.input if graph_input.name not in initializers]
    if len(names) != len(inputs):
        raise Unavailable(f"tvm sees {len(names)} inputs, small-ir {len(inputs)}")
    imported = from_onnx(model, shape_dict={name: list(x.shape) for name, x in zip(names, inputs)}, keep_params_in_input=False)
    target = tvm.target.Target({"kind": "llvm", "mcpu": tvm.target.codegen.llvm_get_system_cpu()})
    machine = relax.VirtualMachine(tvm.compile(imported, target=target), tvm.cpu())
    main = machine["main"]
    arguments = [tvm.runtime.tensor(array) for array in inputs]
    result = main(*arguments)
    outputs = [output.numpy() for output in ([result] if hasattr(result, "numpy") else list(result))]
    return Implementation("tvm", lambda n: loop(lambda: main(*arguments), n), outputs)


LOADERS: dict[str, Callable[[ModelFiles, list[np.ndarray], ModuleOp], Implementation]] = {
    "onnxruntime": load_onnxruntime,
    "tflite-xnnpack": lambda files, inputs, module: load_tflite(files, inputs, xnnpack=True),
    "tflite-builtin": lambda files, inputs, module: load_tflite(files, inputs, xnnpack=False),
    "torch": load_torch,
    "tvm": load_tvm,
}
PEER_MODULES = {
    "onnxruntime": ("onnxruntime", "onnxruntime"),
    "tflite-xnnpack": ("ai_edge_litert.interpreter", "ai-edge-litert"),
    "tflite-builtin": ("ai_edge_litert.interpreter", "ai-edge-litert"),
    "torch": ("torch", "torch"),
    "tvm": ("tvm", "apache-tvm"),
}
PEER_NOTES = {
    "tflite-xnnpack": "the default XNNPACK delegate",
    "tflite-builtin": "builtin kernels, no delegate",
    "torch": "eager, inference_mode, the network rebuilt from small-ir's nn import",
    "tvm": "Relax default CPU pipeline, llvm -mcpu=<this CPU>, untuned (no MetaSchedule)",
}


def check_peers(names: Sequence[str]) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The peers that import, {peer: why not} for the others, and {distribution: version}."""
    unknown = [name for name in names if name not in LOADERS]
    if unknown:
        raise SmallIRError(f"unknown peer(s) {', '.join(unknown)}: choose from {', '.join(PEERS)}")
    available, skipped, versions = [], {}, {}
    for name in names:
        module, distribution = PEER_MODULES[name]
        if name == "tvm":
            os.environ["TVM_NUM_THREADS"] = "1"
        try:
            importlib.import_module(module)
        except ImportError:
            hint = "pip install apache-tvm; no wheel for every Python and platform" if name == "tvm" else INSTALL_HINT
            skipped[name] = f"not installed ({hint})"
            continue
        available.append(name)
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[distribution] = "unknown version"
    return available, skipped, versions


# The benchmark.


def random_inputs(module: ModuleOp, seed: int = 0) -> list[np.ndarray]:
    """One random input per network input, NCHW as in the nn module."""
    function = entry_function(module)
    outputs = output_arguments(function)
    rng = np.random.default_rng(seed)
    arguments = [argument for index, argument in enumerate(function.body.block.args) if index not in outputs]
    return [rng.uniform(-1.0, 1.0, shape_of(argument)).astype(np.float32) for argument in arguments]


def max_difference(outputs: list[np.ndarray], reference: list[np.ndarray]) -> float:
    if len(outputs) != len(reference):
        return math.inf
    differences = [np.max(np.abs(a.reshape(b.shape) - b)) if a.size == b.size else math.inf for a, b in zip(outputs, reference)]
    return float(max(differences, default=0.0))


@dataclass
class PreparedModel:
    """A model compiled and built into its harness, before anything is timed."""

    files: ModelFiles
    module: ModuleOp
    inputs: list[np.ndarray]
    """The check input, NCHW."""
    compiled: CompiledModel
    outputs: list[np.ndarray]
    """small-ir's outputs on the check input, NCHW."""
    slices: list[LayerSlice]
    executable: Path
    """The harness: entry `model`, and `layerN` for each slice."""


def prepare_model(path: Path, target: str, layers: bool, workdir: Path, progress: Callable[[str], None]) -> PreparedModel:
    from small_ir.frontends import load_model

    files = model_files(path)
    module = load_model(path).module
    inputs = random_inputs(module)
    progress(f"{files.label}: compiling for {target}" + (" (and each layer alone)" if layers else ""))
    compiled = compile_model(module, target=target, name="model")
    slices = layer_slices(module) if layers else []
    layer_models = [compile_layer(piece.module, target, f"layer{piece.index}") for piece in slices]
    progress(f"{files.label}: building the harness ({1 + len(layer_models)} C files)")
    executable = build_harness([compiled, *layer_models], workdir / path.stem)
    outputs = compiled.run(*(to_layout(array, compiled.io_layout) for array in inputs))
    outputs = [from_layout(output, compiled.io_layout) for output in outputs]
    return PreparedModel(files, module, inputs, compiled, outputs, slices, executable)


def measure_model(
    model: PreparedModel,
    peers: Sequence[str],
    rounds: int,
    iterations: int | None,
    repetition_ms: float,
    progress: Callable[[str], None],
) -> ModelResult:
    """Times small-ir and the peers in interleaved rounds, then each layer; call it pinned."""
    label = model.files.label

    def small_ir_timed(count: int) -> float:
        return run_harness(model.executable, count, 1, ["model"])["model"].median

    implementations = [Implementation(SMALL_IR, small_ir_timed, model.outputs)]
    skipped = {}
    for peer in peers:
        progress(f"{label}: loading {peer}")
        try:
            implementations.append(LOADERS[peer](model.files, model.inputs, model.module))
        except Unavailable as reason:
            skipped[peer] = str(reason)
        except Exception as error:  # a peer that fails on this model must not stop the benchmark
            first_line = (str(error).strip().splitlines() or [""])[0]
            skipped[peer] = f"failed: {type(error).__name__}: {first_line}"
    by_name = {implementation.name: implementation for implementation in implementations}
    reference = next((name for name in ("onnxruntime", "tflite-builtin", "tflite-xnnpack") if name in by_name), None)
    errors, mismatches = {}, []
    if reference is not None:
        expected = by_name[reference].outputs
        tolerance = MISMATCH_TOLERANCE * max(1.0, max(float(np.max(np.abs(output))) for output in expected))
        for implementation in implementations:
            if implementation.name != reference:
                errors[implementation.name] = max_difference(implementation.outputs, expected)
        mismatches = [name for name, error in errors.items() if not error <= tolerance]

    for implementation in implementations:
        if iterations:
            implementation.iterations = iterations
        elif implementation.name == SMALL_IR:  # the harness sizes its repetitions itself, after its warm-up
            implementation.iterations = run_harness(model.executable, None, 1, ["model"], repetition_ms)["model"].iterations
        else:
            implementation.iterations = calibrate(implementation.timed, repetition_ms * 1e6)
    samples: dict[str, list[float]] = {implementation.name: [] for implementation in implementations}
    progress(f"{label}: {rounds} interleaved rounds of {len(implementations)} implementations")
    for round_index in range(rounds):
        shift = round_index % len(implementations)  # no implementation always runs first
        for implementation in implementations[shift:] + implementations[:shift]:
            samples[implementation.name].append(implementation.timed(implementation.iterations))
    timings = {i.name: Timing(samples[i.name], i.iterations) for i in implementations}

    layer_results = []
    if model.slices:
        progress(f"{label}: timing {len(model.slices)} layers, {rounds} repetitions each")
        names = [f"layer{piece.index}" for piece in model.slices]
        per_layer = run_harness(model.executable, iterations, rounds, names, repetition_ms / 4)
        layer_results = [
            LayerResult(piece.name, piece.op, shape_of(piece.output), piece.macs, per_layer[name])
            for piece, name in zip(model.slices, names)
        ]
    return ModelResult(label, model.compiled.macs, timings, errors, reference, skipped, layer_results, mismatches)


def compiler_description(target: str) -> str:
    command = c_compiler()
    version = subprocess.run([*command, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    name = Path(command[0]).name
    return f"{name} {version}".strip() + " " + " ".join([*C_FLAGS, *target_spec(target).cflags])


def run_bench(
    models: Sequence[Path],
    target: str = "host",
    rounds: int = DEFAULT_ROUNDS,
    iterations: int | None = None,
    peers: Sequence[str] = PEERS,
    layers: bool = True,
    repetition_ms: float = REPETITION_MS,
    cpu: int | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> BenchReport:
    """
    Benchmarks each model: small-ir (compiled for `target`) against `peers`,
    pinned to one CPU, `rounds` interleaved rounds of one repetition each.
    A repetition is `iterations` calls, or (None) as many as last `repetition_ms`.
    """
    if rounds < 1:
        raise SmallIRError(f"rounds must be >= 1, got {rounds}")
    if iterations is not None and iterations < 1:
        raise SmallIRError(f"iterations must be >= 1, got {iterations}")
    spec = target_spec(target)
    missing = [str(path) for path in models if not Path(path).is_file()]
    if missing:
        raise SmallIRError(f"no such model file: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="small-ir-bench-") as directory:
        workdir = Path(directory)
        # compiling uses every CPU; timing, from loading the peers on, runs on one
        prepared = [prepare_model(Path(path), spec.name, layers, workdir, progress) for path in models]
        with pinned(cpu) as pinned_cpu:
            progress("measuring the FMA peak")
            first = measure_peaks(workdir)
            available, skipped, versions = check_peers(peers)
            results = [measure_model(model, available, rounds, iterations, repetition_ms, progress) for model in prepared]
            progress("measuring the FMA peak again")
            # interference only lowers a peak run: keep the better of the runs before and after
            last = measure_peaks(workdir)
            peaks = {isa: max(first[isa], last[isa]) for isa in first}
    return BenchReport(
        target=spec.name,
        compiler=compiler_description(spec.name),
        cpu=cpu_name(),
        pinned=pinned_cpu,
        rounds=rounds,
        peaks=peaks,
        versions=versions,
        skipped=skipped,
        models=results,
    )


# The report.


def _us(ns: float) -> str:
    return f"{ns / 1e3:.1f}" if ns >= 10_000 else f"{ns / 1e3:.2f}"


def short_name(name: str, width: int = 30) -> str:
    """A layer's name for a table column: TFLite joins fused tensor names with ';', keep the first."""
    return name.split(";")[0][:width]


def format_report(report: BenchReport) -> str:
    pinned_text = f"pinned to CPU {report.pinned}" if report.pinned is not None else "not pinned (no sched_setaffinity)"
    lines = [
        f"small-ir bench: target {report.target}, C built with {report.compiler}",
        f"{report.cpu}, one thread, {pinned_text}; {report.rounds} interleaved rounds, warm",
    ]
    if report.peaks:
        peaks = ", ".join(f"{isa} {gflops:.1f}" for isa, gflops in report.peaks.items())
        lines.append(f"FMA peak, one thread (small_ir/peakflops.c, best of a run before and after): {peaks} GFLOP/s")
    if report.versions:
        lines.append("peers: " + ", ".join(f"{name} {version}" for name, version in report.versions.items()))
    for name, note in PEER_NOTES.items():
        if any(name in result.timings for result in report.models):
            lines.append(f"  {name}: {note}")
    for name, reason in report.skipped.items():
        lines.append(f"skipped: {name}: {reason}")

    for result in report.models:
        lines += ["", f"{result.model}: {result.macs / 1e6:.2f} MMAC"]
        base = result.timings.get(SMALL_IR)
        error_header = f"max |diff| vs {result.reference}" if result.reference else ""
        header = f"  {'implementation':<16} {'median us':>10} {'min-max us':>19} {'GFLOP/s':>8} {'peer/small-ir':>14}  {error_header}"
        lines.append(header.rstrip())
        for name, timing in result.timings.items():
            ratio = f"{timing.median / base.median:.2f}" if base is not None else "-"
            error = f"{result.errors[name]:.1e}" if name in result.errors else "(reference)" if name == result.reference else ""
            error += "  MISMATCH: not comparable" if name in result.mismatches else ""
            spread = f"{_us(timing.low)}-{_us(timing.high)}"
            gflops = 2 * result.macs / timing.median
            lines.append(f"  {name:<16} {_us(timing.median):>10} {spread:>19} {gflops:>8.2f} {ratio:>14}  {error}".rstrip())
        for name, reason in result.skipped.items():
            lines.append(f"  {name:<16} skipped: {reason}")

    ratios = report.ratios()
    if ratios:
        labels = [result.model.split(".")[0].removesuffix("_float") for result in report.models]
        lines += ["", "peer / small-ir (median time; above 1: small-ir is faster)"]
        lines.append(f"  {'peer':<16}" + "".join(f"{label[:18]:>19}" for label in labels) + f"{'geomean':>10}")
        rows = {**ratios, "best peer": report.best_peer_ratios()} if len(ratios) > 1 else ratios
        for name, by_model in rows.items():
            cells = "".join(f"{by_model[result.model]:>19.2f}" if result.model in by_model else f"{'-':>19}" for result in report.models)
            lines.append(f"  {name:<16}{cells}{geomean(list(by_model.values())):>10.2f}")

    isa = report.peak_isa
    for result in report.models:
        if not result.layers:
            continue
        peak = report.peaks.get(isa) if isa else None
        share_header = f"% {isa} peak" if peak else ""
        lines += ["", f"{result.model}, per layer" + (f" (share of the {isa} peak, {peak:.1f} GFLOP/s)" if peak else "")]
        lines.append(f"  {'#':>3} {'layer':<30} {'op':<16} {'output':<12} {'MMAC':>7} {'median us':>10} {'min-max us':>15} {'GFLOP/s':>8} {share_header:>14}".rstrip())
        for index, layer in enumerate(result.layers):
            timing = layer.timing
            spread = f"{_us(timing.low)}-{_us(timing.high)}"
            gflops = 2 * layer.macs / timing.median if layer.macs else None
            gflops_text = f"{gflops:.2f}" if gflops is not None else ""
            share = f"{100 * gflops / peak:.1f}" if gflops is not None and peak else ""
            output = "x".join(map(str, layer.output_shape))
            lines.append(
                f"  {index:>3} {short_name(layer.name):<30} {layer.op:<16} {output:<12} {layer.macs / 1e6:>7.3f} "
                f"{_us(timing.median):>10} {spread:>15} {gflops_text:>8} {share:>14}".rstrip()
            )
        total = sum(layer.timing.median for layer in result.layers)
        whole = result.timings.get(SMALL_IR)
        whole_text = f" vs the whole model {_us(whole.median)} us" if whole else ""
        lines.append(f"  sum of the layers {_us(total)} us{whole_text}")
    if any(result.layers for result in report.models):
        lines += [
            "",
            "Per layer, each layer is compiled and timed alone, its inputs and outputs already blocked: the fusion",
            "across layers (activations and residual adds folded into the conv before them) is lost, and each layer",
            "runs with only its own data in cache. Layers without MACs get a time only.",
        ]
    return "\n".join(lines)


def plot_layer_shares(report: BenchReport, path: Path) -> bool:
    """A PNG of each MAC layer's share of the FMA peak, one panel per model; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    isa = report.peak_isa
    models = [result for result in report.models if any(layer.macs for layer in result.layers)]
    if isa is None or not models:
        return False
    peak = report.peaks[isa]
    figure, axes = plt.subplots(len(models), 1, figsize=(12, 3.2 * len(models)), squeeze=False)
    for axis, result in zip(axes[:, 0], models):
        layers = [(index, layer) for index, layer in enumerate(result.layers) if layer.macs]
        shares = [100 * 2 * layer.macs / layer.timing.median / peak for _, layer in layers]
        axis.bar(range(len(layers)), shares, color="tab:blue")
        axis.set_xticks(range(len(layers)), [f"{index} {layer.op}" for index, layer in layers], rotation=60, fontsize=7, ha="right")
        axis.set_ylabel(f"% of {isa} peak")
        axis.set_title(f"{result.model}: per-layer share of the {isa} FMA peak ({peak:.0f} GFLOP/s, one thread)", fontsize=9)
        axis.set_ylim(0, 100)
        axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


# Command line.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from small_ir.backends import targets

    parser.add_argument("models", nargs="+", type=Path, metavar="MODEL", help="an .onnx, .tflite, .mlir or text model")
    parser.add_argument("--target", "-t", default="host", choices=["host", *targets()])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help=f"interleaved rounds (default {DEFAULT_ROUNDS})")
    parser.add_argument("--iterations", type=int, help=f"calls per repetition (default: about {REPETITION_MS:g} ms worth)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated (default {','.join(PEERS)}); '' for none")
    parser.add_argument("--no-layers", action="store_true", help="skip the per-layer timing")
    parser.add_argument("--cpu", type=int, help="the CPU to pin to (default: the first allowed)")
    parser.add_argument("--plot", type=Path, help="write the per-layer shares of the FMA peak to this PNG")
    parser.add_argument("--vlen", type=int, choices=[128, 256, 512, 1024], help="rvv: the emulated VLEN (default 128)")


def command(args: argparse.Namespace) -> None:
    """Runs `small-ir bench` with parsed arguments (see add_arguments)."""
    progress = lambda message: print(f"[bench] {message}", file=sys.stderr, flush=True)  # noqa: E731
    spec = target_spec(args.target)
    if args.vlen is not None and spec.name != "rvv":
        raise SmallIRError(f"--vlen is for the rvv target, not {spec.name}")
    host_options = {"--plot": args.plot, "--cpu": args.cpu, "--iterations": args.iterations}
    given = [option for option, value in host_options.items() if value is not None]
    if given and not spec.native:
        raise SmallIRError(f"{', '.join(given)}: for host targets; on {spec.name} the bench counts instructions")
    if not spec.native:
        from small_ir.bench_emulated import format_counts, run_counts

        counted = run_counts(args.models, args.target, not args.no_layers, args.vlen, progress)
        print(format_counts(args.target, args.vlen, counted))
        return
    peers = [name.strip() for name in args.peers.split(",") if name.strip()]
    report = run_bench(
        args.models,
        target=args.target,
        rounds=args.rounds,
        iterations=args.iterations,
        peers=peers,
        layers=not args.no_layers,
        cpu=args.cpu,
        progress=progress,
    )
    print(format_report(report))
    if args.plot is not None:
        if plot_layer_shares(report, args.plot):
            print(f"\nwrote {args.plot}")
        else:
            print(f"\nno plot: matplotlib is not installed ({INSTALL_HINT}) or no layer has MACs")


def main(argv: list[str] | None = None) -> int:
    from small_ir.errors import report_errors

    parser = argparse.ArgumentParser(prog="small-ir bench", description="Benchmark small-ir against other frameworks.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    with report_errors("small-ir bench"):
        command(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
