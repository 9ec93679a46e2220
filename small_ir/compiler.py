"""
The pipeline driver: an `nn` module in, a standalone C library out.

    compiled = small_ir.compile(module, target="avx2")
    compiled.write("out/")              # out/model.h, out/model.c
    outputs = compiled.run(x)           # builds a shared library, runs it on numpy arrays
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import numpy as np
from xdsl.dialects import func, memref
from xdsl.dialects.builtin import ModuleOp, StringAttr, SymbolRefAttr
from xdsl.passes import PassPipeline

from small_ir.backends import TargetSpec, targets
from small_ir.context import make_context
from small_ir.dialects.nn import shape_of
from small_ir.errors import SmallIRError
from small_ir.frontends import IO_LAYOUT
from small_ir.passes import get_all_passes

MANIFEST = "small-ir.json"


@cache
def cpu_flags() -> frozenset[str]:
    """The feature flags /proc/cpuinfo lists for this CPU (empty where it does not exist)."""
    try:
        return frozenset(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return frozenset()


def missing_cpu_features(spec: TargetSpec) -> list[str]:
    """The CPU features the target needs that this CPU lacks."""
    return [feature for feature in spec.cpu_features if feature not in cpu_flags()]


def runs_here(spec: TargetSpec) -> bool:
    """Whether this CPU runs the target's code natively."""
    return spec.native and not missing_cpu_features(spec)


def host_target() -> str:
    """The target with the widest vectors this CPU runs natively."""
    runnable = [spec for spec in targets().values() if runs_here(spec)]
    return max(runnable, key=lambda spec: spec.vector_bits).name


def target_spec(target: str) -> TargetSpec:
    name = host_target() if target == "host" else target
    if name not in targets():
        raise SmallIRError(f"unknown target '{target}': choose one of host, {', '.join(targets())}")
    return targets()[name]


def pipeline_spec(
    target: str,
    c_ob: int | None = None,
    w_ob: int | None = None,
    io_layout: str = "nchw",
    winograd_min_channels: int | None = None,
    winograd_max_stride: int = 1,
) -> str:
    """
    The pass pipeline for a target, as an xDSL pipeline string (usable with
    small-opt -p). Stride-1 3x3 convs with at least `winograd_min_channels`
    input and output channels run as Winograd F(m x m, 3x3); 0 turns it off;
    None takes the target's default: off on microcontrollers, whose memory
    the larger filters ((m + 2)^2 / 9 times) and the transform buffers would
    take. `winograd_max_stride=2` takes stride-2 3x3 convs too (see small-winograd).
    """
    spec = target_spec(target)
    if winograd_min_channels is None:
        winograd_min_channels = spec.winograd_min_channels
    if winograd_min_channels < 0:
        raise SmallIRError(f"winograd_min_channels must be >= 0 (0: no Winograd), got {winograd_min_channels}")
    narrow = f" narrow_block={spec.narrow_block} narrow_w_ob={w_ob or spec.narrow_w_ob}" if spec.narrow_block else ""  # a given w_ob: every tile
    layout = f"small-layout{{c_ob={c_ob or spec.c_ob} w_ob={w_ob or spec.w_ob}{narrow} io_layout={io_layout}}}"
    stride = f" max_stride={winograd_max_stride}" if winograd_max_stride != 1 else ""
    winograd_pass = [f"small-winograd{{min_channels={winograd_min_channels}{stride}}}"] if winograd_min_channels else []
    passes = ["nn-to-small", "small-fuse", layout, *winograd_pass, "small-tile{split_k=4}", "small-lower-nontiled", "plan-memory"]
    return ",".join([*passes, spec.kernel_pass])


def run_pipeline(module: ModuleOp, spec: str) -> list[tuple[str, float]]:
    """Applies the passes of `spec` in turn; returns each pass's name and seconds."""
    ctx, timings = make_context(), []
    for module_pass in PassPipeline.parse_spec(get_all_passes(), spec).passes:
        start = time.perf_counter()
        module_pass.apply(ctx, module)
        timings.append((module_pass.name, time.perf_counter() - start))
    return timings


def entry_function(module: ModuleOp) -> func.FuncOp:
    functions = [op for op in module.ops if isinstance(op, func.FuncOp) and op.body.blocks]
    if len(functions) != 1:
        raise SmallIRError(f"the module must define exactly one function (the network), found {len(functions)}")
    function = functions[0]
    if function.function_type.outputs.data:
        raise SmallIRError(f"@{function.sym_name.data} returns values; write outputs into trailing memref arguments instead")
    return function


def output_arguments(function: func.FuncOp) -> list[int]:
    """Destination passing: outputs are the arguments some op writes."""
    written = {
        index
        for index, argument in enumerate(function.body.block.args)
        for use in argument.uses
        if getattr(use.operation, "output", None) is argument
    }
    if not written:
        raise SmallIRError(f"@{function.sym_name.data}: no layer writes an output argument")
    return sorted(written)


def count_macs(module: ModuleOp) -> int:
    """Multiply-accumulates of the conv and dense layers, as the network defines them."""
    from small_ir.inspect import layer_macs

    return sum(layer_macs(op) for op in module.walk() if op.dialect_name() == "nn")


@dataclass
class CompiledModel:
    name: str
    target: str
    c_source: str
    header: str
    input_shapes: list[tuple[int, ...]]
    output_shapes: list[tuple[int, ...]]
    arena_bytes: int
    macs: int
    cflags: tuple[str, ...] = ()
    io_layout: str = "nchw"
    timings: list[tuple[str, float]] = field(default_factory=list)
    """Seconds per compilation step (each pass, then the C emitter)."""
    _workdir: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    @property
    def entry(self) -> str:
        return f"{self.name}_run"

    @property
    def platform(self) -> str:
        """Where the code runs: host, or an emulated platform of `small_ir.platforms`."""
        return target_spec(self.target).platform

    def write(self, directory: str | Path) -> tuple[Path, Path]:
        """Writes NAME.h, NAME.c and a manifest (small-ir.json) for `small-ir run DIR`."""
        directory = Path(directory)
        header, source = directory / f"{self.name}.h", directory / f"{self.name}.c"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            header.write_text(self.header)
            source.write_text(self.c_source)
            (directory / MANIFEST).write_text(json.dumps(self.manifest(), indent=2) + "\n")
        except OSError as error:
            raise SmallIRError(f"cannot write {directory}: {error.strerror}") from error
        return header, source

    def manifest(self) -> dict:
        fields = ("name", "target", "input_shapes", "output_shapes", "arena_bytes", "macs", "cflags", "io_layout")
        return {name: getattr(self, name) for name in fields}

    @staticmethod
    def load(directory: str | Path) -> CompiledModel:
        """A model written by `write` (or `small-ir compile`)."""
        directory = Path(directory)
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
            c_source = (directory / f"{manifest['name']}.c").read_text()
            header = (directory / f"{manifest['name']}.h").read_text()
        except (OSError, ValueError, KeyError) as error:
            raise SmallIRError(f"{directory}: not a directory written by small-ir compile ({error})") from error
        shapes = {key: [tuple(shape) for shape in manifest[key]] for key in ("input_shapes", "output_shapes")}
        return CompiledModel(
            **{**manifest, **shapes, "cflags": tuple(manifest["cflags"])}, c_source=c_source, header=header
        )

    @cached_property
    def library(self) -> Path:
        from small_ir.toolchain import build_shared_library

        self._workdir = tempfile.TemporaryDirectory(prefix="small-ir-")
        _, source = self.write(self._workdir.name)
        return build_shared_library([source], Path(self._workdir.name) / f"lib{self.name}.so", list(self.cflags))

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """The outputs for these inputs: on the host through a shared library, else under the target's emulator."""
        return self.run_batch([list(inputs)])[0]

    def run_batch(self, batch: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        """`run` for many input sets; an emulated target runs them all in one launch."""
        if self.platform == "host":
            return [self._run_natively(*inputs) for inputs in batch]
        from small_ir.harness import Case, run_cases

        return run_cases([Case(self, self._check_inputs(inputs)) for inputs in batch])

    def _run_natively(self, *inputs: np.ndarray) -> list[np.ndarray]:
        from small_ir.toolchain import load_function

        arrays = self._check_inputs(inputs)
        outputs = [np.zeros(shape, np.float32) for shape in self.output_shapes]
        load_function(self.library, self.entry, len(arrays) + len(outputs))(*arrays, *outputs)
        return outputs

    def run_sanitized(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """Runs a standalone build under AddressSanitizer and UBSan with -Wall -Wextra -Werror."""
        from small_ir.toolchain import run_with_sanitizers

        if self.platform != "host":
            raise SmallIRError(f"sanitizer runs are for host targets; {self.target} runs on {self.platform}")
        arrays = self._check_inputs(inputs)
        sizes = [int(np.prod(shape)) for shape in self.output_shapes]
        flat = run_with_sanitizers(self.c_source, self.entry, arrays, sizes, list(self.cflags))
        return [array.reshape(shape) for array, shape in zip(flat, self.output_shapes)]

    def _check_inputs(self, inputs) -> list[np.ndarray]:
        if len(inputs) != len(self.input_shapes):
            raise SmallIRError(f"{self.name} takes {len(self.input_shapes)} inputs, got {len(inputs)}")
        arrays = [np.ascontiguousarray(x, np.float32) for x in inputs]
        for index, (array, shape) in enumerate(zip(arrays, self.input_shapes)):
            if array.shape != shape:
                raise SmallIRError(f"input {index} has shape {array.shape}, the model expects {shape}")
        return arrays


def prefix_globals(module: ModuleOp, prefix: str) -> None:
    """Namespaces the library's globals (weights, arena) with the model name."""
    renamed = {}
    for op in module.ops:
        if isinstance(op, memref.GlobalOp) and not op.sym_name.data.startswith(prefix):
            renamed[op.sym_name.data] = f"{prefix}{op.sym_name.data}"
            op.sym_name = StringAttr(renamed[op.sym_name.data])
    for op in module.walk():
        if isinstance(op, memref.GetGlobalOp) and op.name_.string_value() in renamed:
            op.name_ = SymbolRefAttr(renamed[op.name_.string_value()])


def make_header(name: str, inputs: list[tuple[int, ...]], outputs: list[tuple[int, ...]], arena_bytes: int, macs: int) -> str:
    guard = f"{name.upper()}_H"
    lines = [
        f"/* Generated by small-ir. {macs} MACs, {arena_bytes}-byte static arena.",
        " * The run function uses the static arena: it is not reentrant (one call at a time).",
        " * Inputs and outputs must not overlap. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        f"#define {name.upper()}_ARENA_BYTES {arena_bytes}",
    ]
    for kind, shapes in (("INPUT", inputs), ("OUTPUT", outputs)):
        for index, shape in enumerate(shapes):
            dims = "x".join(map(str, shape))
            lines.append(f"#define {name.upper()}_{kind}{index}_SIZE {int(np.prod(shape))} /* {dims}, float */")
    params = [f"const float *input{i}" for i in range(len(inputs))] + [f"float *output{i}" for i in range(len(outputs))]
    lines += ["", f"void {name}_run({', '.join(params)});", "", f"#endif /* {guard} */", ""]
    return "\n".join(lines)


def compile(
    module: ModuleOp,
    target: str = "host",
    name: str = "model",
    io_layout: str | None = None,
    winograd_min_channels: int | None = None,
    winograd_max_stride: int = 1,
) -> CompiledModel:
    """
    Compiles an nn-dialect module (not modified) for `target` into a C library.
    `io_layout` (nchw | nhwc) is the layout of the 4-D inputs and outputs of the
    generated function; by default the module's `small.io_layout`, else nchw.
    `winograd_min_channels` and `winograd_max_stride`: see `pipeline_spec`.
    """
    from small_ir.backends.c_emitter import emit_c

    if not name.isidentifier():
        raise SmallIRError(f"the model name '{name}' is not a C identifier")
    spec = target_spec(target)
    module = module.clone()
    module.verify()
    if io_layout is None:
        declared = module.attributes.get(IO_LAYOUT)
        io_layout = declared.data if isinstance(declared, StringAttr) else "nchw"
    function = entry_function(module)
    outputs = output_arguments(function)
    inputs = [index for index in range(len(function.body.block.args)) if index not in outputs]
    if outputs != list(range(len(inputs), len(function.body.block.args))):
        raise SmallIRError("the network function must take its inputs first, then its outputs")

    macs = count_macs(module)
    function.sym_name = StringAttr(name)
    pipeline = pipeline_spec(
        spec.name, io_layout=io_layout, winograd_min_channels=winograd_min_channels, winograd_max_stride=winograd_max_stride
    )
    timings = run_pipeline(module, pipeline)
    prefix_globals(module, f"{name}_")
    function.sym_name = StringAttr(f"{name}_run")
    shapes = [shape_of(argument) for argument in function.body.block.args]
    arena_bytes = function.attributes["small.arena_bytes"].value.data  # type: ignore[union-attr]
    input_shapes, output_shapes = shapes[: len(inputs)], shapes[len(inputs) :]
    start = time.perf_counter()
    c_source = emit_c(module)
    timings.append(("emit C", time.perf_counter() - start))
    return CompiledModel(
        name=name,
        target=spec.name,
        c_source=c_source,
        header=make_header(name, input_shapes, output_shapes, arena_bytes, macs),
        input_shapes=input_shapes,
        output_shapes=output_shapes,
        arena_bytes=arena_bytes,
        macs=macs,
        cflags=spec.cflags,
        io_layout=io_layout,
        timings=timings,
    )
