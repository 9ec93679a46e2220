"""
`small-ir bench MODEL --target neon|rvv|cortex-m4|cortex-m7|cortex-m55`.

An emulator's wall-clock time says little about the chip, so on emulated
targets the benchmark counts executed instructions with a qemu TCG plugin
(`small_ir/runtime/insncount.c`): per inference of each model, and per layer,
each layer compiled alone as the host benchmark times it. A count is the
total of a program that makes that one call minus the total of the same
program without the call, built at a path of the same length and run with an
empty environment, so that startup, harness and I/O cancel out exactly. The
whole model is counted twice, from two builds, and the two must agree.

    models = run_counts([Path("resnet8.tflite")], "cortex-m4")
    print(format_counts("cortex-m4", None, models))
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from small_ir.bench import compile_layer, layer_slices, short_name
from small_ir.compiler import CompiledModel, compile
from small_ir.errors import SmallIRError
from small_ir.frontends import load_model
from small_ir.harness import Case, build_objects, build_program
from small_ir.insncount import address_counts, plugin_arguments


@dataclass
class CountedLayer:
    name: str
    op: str
    macs: int
    instructions: int


@dataclass
class CountedModel:
    label: str
    macs: int
    instructions: int
    repeatable: bool
    layers: list[CountedLayer] = field(default_factory=list)


def random_case(model: CompiledModel, rng: np.random.Generator) -> Case:
    return Case(model, [rng.standard_normal(shape).astype(np.float32) for shape in model.input_shapes])


class Counter:
    """Counts the instructions of calls into some compiled models, on their target's platform."""

    def __init__(self, models: Sequence[CompiledModel], workdir: Path, vlen: int | None):
        rng = np.random.default_rng(0)
        self.cases = [random_case(model, rng) for model in models]
        self.workdir, self.vlen = workdir, vlen
        self.objects = (workdir, build_objects(models, workdir))

    def total(self, directory: str, index: int, call: bool) -> int:
        program = build_program(self.cases, self.workdir / directory, self.objects, [index], call)
        counts = program.executable.parent / "counts.txt"
        program.platform.run(program.executable, plugin_arguments(counts), vlen=self.vlen, env={})
        return sum(address_counts(counts).values())

    def instructions(self, index: int, attempt: str = "a") -> int:
        """Directories of equal name length: the two programs differ only by the call."""
        return self.total(f"{attempt}{index}", index, call=True) - self.total(f"n{index}", index, call=False)


def count_model(
    path: Path, target: str, layers: bool, workdir: Path, vlen: int | None = None, progress: Callable[[str], None] = print
) -> CountedModel:
    module = load_model(path).module
    compiled = compile(module, target=target, name="model")
    slices = layer_slices(module) if layers else []
    progress(f"{path.name}: compiling for {target}" + (f" (and {len(slices)} layers alone)" if slices else ""))
    layer_models = [compile_layer(piece.module, target, f"layer{piece.index}") for piece in slices]
    counter = Counter([compiled, *layer_models], workdir, vlen)
    progress(f"{path.name}: counting instructions on {compiled.platform}, under its emulator")
    whole = counter.instructions(0)
    repeatable = counter.instructions(0, attempt="b") == whole
    counted = [
        CountedLayer(piece.name, piece.op, piece.macs, counter.instructions(number))
        for number, piece in enumerate(slices, start=1)
    ]
    return CountedModel(path.name, compiled.macs, whole, repeatable, counted)


def run_counts(
    models: Sequence[Path], target: str, layers: bool = True, vlen: int | None = None, progress: Callable[[str], None] = print
) -> list[CountedModel]:
    missing = [str(path) for path in models if not Path(path).is_file()]
    if missing:
        raise SmallIRError(f"no such model file: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="small-ir-count-") as directory:
        return [count_model(Path(path), target, layers, Path(directory), vlen, progress) for path in models]


def format_counts(target: str, vlen: int | None, models: Sequence[CountedModel]) -> str:
    where = f"{target}" + (f" at VLEN {vlen}" if vlen else "")
    lines = [f"small-ir bench: target {where}, executed instructions counted by qemu (small_ir/runtime/insncount.c)"]
    for model in models:
        lines += [
            "",
            f"{model.label}: {model.instructions:,} instructions per inference, {model.macs / 1e6:.2f} MMAC, "
            f"{model.macs / max(model.instructions, 1):.2f} MAC/instruction"
            + ("" if model.repeatable else "  (NOT repeatable: two runs counted differently)"),
        ]
        if not model.layers:
            continue
        lines.append(f"  {'layer':<30} {'op':<16} {'MMAC':>7} {'instructions':>13} {'MAC/instr':>9} {'share':>6}")
        total = sum(layer.instructions for layer in model.layers) or 1
        for layer in model.layers:
            rate = f"{layer.macs / layer.instructions:.2f}" if layer.macs and layer.instructions else "-"
            lines.append(
                f"  {short_name(layer.name):<30} {layer.op:<16} {layer.macs / 1e6:>7.3f} {layer.instructions:>13,} "
                f"{rate:>9} {100 * layer.instructions / total:>5.1f}%"
            )
    return "\n".join(lines)
