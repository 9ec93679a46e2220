"""
Runs compiled models on their target's platform: natively, or under the
platform's emulator. Many cases go into one program, so one emulator launch
runs them all; the inputs are embedded in the program, the outputs come back
through a file (`small_ir/runtime/small_ir_io.h`).

    cases = [Case(compiled, [x]) for x in inputs]
    outputs = run_cases(cases)          # per case, the model's outputs

Every case's model must be compiled for the same target; different models in
one batch need names that differ in more than case (their C globals and
header guards come from the name).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from small_ir.compiler import CompiledModel
from small_ir.errors import SmallIRError
from small_ir.platforms import Platform, platform

OUTPUTS = "outputs.bin"
"""The file the harness writes, in its own directory (relative, so that programs differ only where they must)."""
INPUT_BYTES_PER_PROGRAM = 1 << 20
"""run_cases puts at most this many bytes of inputs into one program (the small boards' ROM), but always one case."""
RESERVED_NAMES = frozenset({"small_ir_io", "harness"})


@dataclass
class Case:
    model: CompiledModel
    inputs: list[np.ndarray]


def c_float(value: float) -> str:
    """A C float literal of exactly this f32 value."""
    if np.isnan(value):
        return '__builtin_nanf("")'
    if np.isinf(value):
        return "__builtin_inff()" if value > 0 else "-__builtin_inff()"
    return float(value).hex() + "f"


def c_array(name: str, values: np.ndarray) -> str:
    body = ",".join(c_float(v) for v in values.ravel().tolist())
    return f"static const float {name}[{max(values.size, 1)}] = {{{body or '0'}}};"


def harness_source(cases: Sequence[Case], selected: Sequence[int] | None = None, call: bool = True) -> str:
    """
    `main` runs every case (or the `selected` ones) and writes its outputs, in
    order, to OUTPUTS. Outputs go through one buffer per model, in the board's
    large RAM. Without `call`, the program is the same but for the calls.
    """
    running = [(number, case) for number, case in enumerate(cases) if selected is None or number in selected]
    models = list({case.model.name: case.model for _, case in running}.values())
    lines = ['#include "small_ir_io.h"', *(f'#include "{model.name}.h"' for model in models), ""]
    for model in models:
        for index, shape in enumerate(model.output_shapes):
            size = max(int(np.prod(shape)), 1)
            lines.append(f"static float {model.name}_out{index}[{size}] SMALL_IR_LARGE_BSS;")
    for number, case in running:
        lines += [c_array(f"case{number}_in{index}", x) for index, x in enumerate(case.inputs)]
    lines += ["", "int main(void) {", f'  int out = small_ir_open_output("{OUTPUTS}");', "  if (out < 0) return 10;"]
    for number, case in running:
        model = case.model
        outputs = [f"{model.name}_out{index}" for index in range(len(model.output_shapes))]
        arguments = [f"case{number}_in{index}" for index in range(len(case.inputs))] + outputs
        lines.append(f"  {model.entry}({', '.join(arguments)});" if call else f"  (void){arguments[0]};")
        lines += [f"  if (small_ir_write(out, {buffer}, sizeof {buffer}) != 0) return 11;" for buffer in outputs]
    lines += ["  return small_ir_close(out) == 0 ? 0 : 12;", "}", ""]
    return "\n".join(lines)


def distinct_models(cases: Sequence[Case]) -> list[CompiledModel]:
    """The models of the cases, checked to fit in one program."""
    if not cases:
        raise SmallIRError("no cases to run")
    models: dict[str, CompiledModel] = {}
    for case in cases:
        model = case.model
        if model.name in RESERVED_NAMES:
            raise SmallIRError(f"a model named '{model.name}' cannot run in the harness: rename it")
        known = models.setdefault(model.name.lower(), model)
        if known is not model and known.c_source != model.c_source:
            raise SmallIRError(f"two different models named '{known.name}' and '{model.name}' in one batch: rename one")
        if model.target != cases[0].model.target:
            raise SmallIRError(f"one batch runs one target, not {cases[0].model.target} and {model.target}")
        model._check_inputs(case.inputs)
    return list(models.values())


@dataclass
class Program:
    """A harness built around some cases, ready to run (as often as wanted)."""

    platform: Platform
    executable: Path
    cases: Sequence[Case]

    @property
    def output_path(self) -> Path:
        return self.executable.parent / OUTPUTS

    def run(self, vlen: int | None = None) -> list[list[np.ndarray]]:
        self.output_path.unlink(missing_ok=True)
        self.platform.run(self.executable, vlen=vlen)
        return self.outputs()

    def outputs(self) -> list[list[np.ndarray]]:
        values = np.fromfile(self.output_path, dtype=np.float32) if self.output_path.exists() else np.zeros(0)
        expected = sum(int(np.prod(shape)) for case in self.cases for shape in case.model.output_shapes)
        if values.size != expected:
            raise SmallIRError(f"the harness wrote {values.size} output values, expected {expected}")
        results, offset = [], 0
        for case in self.cases:
            outputs = []
            for shape in case.model.output_shapes:
                size = int(np.prod(shape))
                outputs.append(values[offset : offset + size].reshape(shape))
                offset += size
            results.append(outputs)
        return results


def build_objects(models: Sequence[CompiledModel], directory: Path) -> list[Path]:
    """Each model's library (and header) in `directory`, as an object file for its platform (in parallel)."""
    target_platform = platform(models[0].platform)

    def build(model: CompiledModel) -> Path:
        _, source = model.write(directory)
        return target_platform.compile_object(source, directory / f"{model.name}.o", list(model.cflags))

    with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        return list(pool.map(build, models))


def build_program(
    cases: Sequence[Case],
    directory: Path,
    objects: tuple[Path, Sequence[Path]] | None = None,
    selected: Sequence[int] | None = None,
    call: bool = True,
) -> Program:
    """
    The harness around `cases` (or only the `selected` ones), built in
    `directory` and linked with the models' objects: `objects` is a directory
    and the files from `build_objects`, else they are built in `directory`.
    """
    models = distinct_models(cases)
    directory.mkdir(parents=True, exist_ok=True)
    include, object_files = objects if objects is not None else (directory, build_objects(models, directory))
    harness = directory / "harness.c"
    harness.write_text(harness_source(cases, selected, call))
    target_platform = platform(models[0].platform)
    executable = target_platform.build([harness, *object_files], directory / "harness", ["-I", str(include)])
    running = [case for number, case in enumerate(cases) if selected is None or number in selected]
    return Program(target_platform, executable, running)


def batches(cases: Sequence[Case]) -> list[list[Case]]:
    """Consecutive runs of cases with at most INPUT_BYTES_PER_PROGRAM of inputs (at least one case each)."""
    groups: list[list[Case]] = [[]]
    size = 0
    for case in cases:
        case_bytes = sum(x.size * 4 for x in case.inputs)
        if groups[-1] and size + case_bytes > INPUT_BYTES_PER_PROGRAM:
            groups.append([])
            size = 0
        groups[-1].append(case)
        size += case_bytes
    return groups


def run_cases(cases: Sequence[Case], vlen: int | None = None) -> list[list[np.ndarray]]:
    """Builds the models once and one program per batch of inputs, runs each once; returns each case's outputs."""
    models = distinct_models(cases)
    with tempfile.TemporaryDirectory(prefix="small-ir-harness-") as directory:
        work = Path(directory)
        objects = (work, build_objects(models, work))
        results = []
        for number, batch in enumerate(batches(cases)):
            results += build_program(batch, work / f"program{number}", objects).run(vlen=vlen)
        return results


SECTIONS = (".text", ".rodata", ".data", ".bss")


def library_sections(model: CompiledModel) -> dict[str, int]:
    """Bytes of .text, .rodata, .data and .bss of the model's library alone, built by its platform's compiler."""
    from elftools.elf.elffile import ELFFile

    sizes = dict.fromkeys(SECTIONS, 0)
    with tempfile.TemporaryDirectory(prefix="small-ir-size-") as directory:
        (library,) = build_objects([model], Path(directory))
        with library.open("rb") as stream:
            for section in ELFFile(stream).iter_sections():
                kind = next((name for name in SECTIONS if section.name == name or section.name.startswith(f"{name}.")), None)
                if kind is not None:
                    sizes[kind] += section["sh_size"]
    return sizes
