"""
`small-ir`: the compiler's command line.

    small-ir compile MODEL --target avx2 -o out/     # out/model.h, out/model.c (+ small-ir.json)
    small-ir run out/ --input x.npy --output y.npy   # or run a MODEL directly (compiled on the fly)
    small-ir check MODEL --target avx2               # against onnxruntime / the TFLite interpreter
    small-ir info MODEL                              # the layer table
    small-ir pipeline --target avx2                  # the pass pipeline, for small-opt -p
    small-ir bench MODEL... --target host            # timings vs onnxruntime, TFLite, PyTorch, TVM; per layer

MODEL is an .onnx, .tflite, nn-dialect .mlir or small-ir text (.net) file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from small_ir import winograd
from small_ir.backends import targets
from small_ir.errors import SmallIRError, report_errors

if TYPE_CHECKING:
    from small_ir.compiler import CompiledModel

TARGET_CHOICES = ["host", *targets()]


def command_compile(args: argparse.Namespace) -> None:
    from small_ir.compiler import compile
    from small_ir.frontends import load_model

    start = time.perf_counter()
    model = load_model(args.model)
    imported = time.perf_counter() - start
    compiled = compile(
        model.module,
        target=args.target,
        name=args.name,
        winograd_min_channels=args.winograd_min_channels,
        winograd_max_stride=args.winograd_max_stride,
    )
    header, source = compiled.write(args.output)
    if args.time_passes:
        steps = [("import", imported), *compiled.timings]
        for step, seconds in steps:
            print(f"{seconds * 1e3:9.1f} ms  {step}")
        print(f"{sum(seconds for _, seconds in steps) * 1e3:9.1f} ms  total")
    print(f"wrote {header} and {source} for target {compiled.target}")
    print(f"MACs: {compiled.macs}")
    print(f"arena: {compiled.arena_bytes} bytes")
    if compiled.platform != "host":
        print_library_size(compiled)


def print_library_size(compiled: CompiledModel) -> None:
    from small_ir.harness import library_sections
    from small_ir.platforms import platform

    missing = platform(compiled.platform).missing_tools(running=False)
    if missing:
        print(f"library size on {compiled.platform}: not measured, the compiler is missing: {'; '.join(missing)}")
        return
    sizes = library_sections(compiled)
    print(f"library size on {compiled.platform}: " + ", ".join(f"{name} {size}" for name, size in sizes.items()) + " bytes")


def load_inputs(paths: list[str], shapes: list[tuple[int, ...]], layout: str) -> list[np.ndarray]:
    """The .npy inputs, each of exactly the input's shape (the batch dimension of 1 may be left out)."""
    if len(paths) != len(shapes):
        raise SmallIRError(f"the model takes {len(shapes)} input(s); give one --input FILE.npy each")
    arrays = []
    for path, shape in zip(paths, shapes):
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise SmallIRError(f"{path}: cannot read a .npy array ({error})") from error
        if not isinstance(array, np.ndarray):
            raise SmallIRError(f"{path}: holds several arrays; give one .npy file per input")
        if array.shape not in (shape, shape[1:]):
            expected = "x".join(map(str, shape)) + (f" ({layout.upper()})" if len(shape) == 4 else "")
            raise SmallIRError(f"{path}: shape {array.shape} does not fit the model input {expected}")
        arrays.append(array.astype(np.float32).reshape(shape))
    return arrays


def command_run(args: argparse.Namespace) -> None:
    from small_ir.compiler import CompiledModel, compile
    from small_ir.frontends import load_model

    source = Path(args.model)
    compiled = CompiledModel.load(source) if source.is_dir() else compile(load_model(source).module, target=args.target)
    outputs = compiled.run(*load_inputs(args.input, compiled.input_shapes, compiled.io_layout))
    for index, output in enumerate(outputs):
        values = np.array2string(output.ravel()[:8], precision=5, separator=", ")
        print(f"output {index} {'x'.join(map(str, output.shape))}: argmax {int(output.argmax())}, first values {values}")
    if args.output:
        print(f"wrote {save_outputs(Path(args.output), outputs)}")


def save_outputs(path: Path, outputs: list[np.ndarray]) -> Path:
    """One output: a .npy; several: a .npz with output0, output1, ..."""
    path = path.with_suffix(".npy" if len(outputs) == 1 else ".npz")
    try:
        if len(outputs) == 1:
            np.save(path, outputs[0])
        else:
            np.savez(path, **{f"output{index}": output for index, output in enumerate(outputs)})
    except OSError as error:
        raise SmallIRError(f"cannot write {path}: {error.strerror}") from error
    return path


def command_check(args: argparse.Namespace) -> None:
    from small_ir.check import check_model, format_report

    report = check_model(args.model, target=args.target, count=args.inputs, seed=args.seed)
    print(format_report(report))
    if not report.ok:
        sys.exit(1)


def command_info(args: argparse.Namespace) -> None:
    from small_ir.compiler import compile
    from small_ir.frontends import load_model
    from small_ir.inspect import layer_table

    model = load_model(args.model)
    rows = layer_table(model.module)
    compiled = compile(model.module, target=args.target)
    shapes = lambda shapes: ",".join("x".join(map(str, shape)) for shape in shapes)  # noqa: E731
    print(f"shapes are NCHW inside the network; the compiled function's inputs and outputs are {compiled.io_layout.upper()}")
    print(f"{'op':<18} {'input':<20} {'output':<14} {'MACs':>11} {'params':>9} {'out bytes':>10}  layer")
    for row in rows:
        line = f"{row.op:<18} {shapes(row.inputs):<20} {shapes([row.output]):<14} {row.macs:>11,} {row.parameters:>9,}"
        print(f"{line} {row.output_bytes:>10,}  {row.name}")
    total_macs, total_parameters = sum(row.macs for row in rows), sum(row.parameters for row in rows)
    print(f"{len(rows)} layers, {total_macs:,} MACs, {total_parameters:,} parameters")
    print(f"arena for target {compiled.target}: {compiled.arena_bytes:,} bytes (all activations, one static buffer)")


def command_bench(args: argparse.Namespace) -> None:
    from small_ir.bench import command

    command(args)


def command_pipeline(args: argparse.Namespace) -> None:
    from small_ir.compiler import pipeline_spec

    print(pipeline_spec(args.target))


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"needs a whole number >= 1, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="small-ir", description="Compile neural networks to standalone C.")
    commands = root.add_subparsers(dest="command", required=True)

    def command(name: str, run, help: str, model: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        if model:
            sub.add_argument("model", help="an .onnx, .tflite, nn-dialect .mlir or small-ir text model")
        sub.add_argument("--target", "-t", default="host", choices=TARGET_CHOICES)
        sub.set_defaults(run=run)
        return sub

    compile_cmd = command("compile", command_compile, "compile a model to NAME.h / NAME.c")
    compile_cmd.add_argument("--output", "-o", required=True, help="output directory")
    compile_cmd.add_argument("--name", default="model", help="C prefix and file name (default: model)")
    compile_cmd.add_argument("--time-passes", action="store_true", help="print the time of each compilation step")
    compile_cmd.add_argument(
        "--winograd-min-channels",
        type=int,
        metavar="N",
        help=f"stride-1 3x3 convs with at least N input and output channels use Winograd F(m x m, 3x3), m = 2 or 4; 0: never "
        f"(default: {winograd.MIN_CHANNELS}; 0 on cortex-m targets)",
    )
    compile_cmd.add_argument(
        "--winograd-max-stride",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: stride-2 3x3 convs use Winograd too, F(4x4, 2x2) on the 4 phases of their input "
        "(1.44x fewer multiplications, 11x larger filters; default 1)",
    )
    run_cmd = command("run", command_run, "run a compiled directory or a model on .npy inputs")
    run_cmd.add_argument("--input", "-i", action="append", default=[], help="an input .npy (once per model input)")
    run_cmd.add_argument("--output", "-o", help="write the output(s) to this .npy (.npz for several)")
    check_cmd = command("check", command_check, "compare with the original framework on random inputs")
    check_cmd.add_argument("--inputs", type=positive, default=20, help="how many random inputs (default 20)")
    check_cmd.add_argument("--seed", type=int, default=0)
    command("info", command_info, "print the layer table")
    command("pipeline", command_pipeline, "print the pass pipeline of a target", model=False)
    from small_ir import bench

    bench_cmd = commands.add_parser("bench", help="time models against onnxruntime, TFLite, PyTorch and TVM, per layer too")
    bench.add_arguments(bench_cmd)
    bench_cmd.set_defaults(run=command_bench)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with report_errors("small-ir"):
        try:
            args.run(args)
        except BrokenPipeError:  # `small-ir info MODEL | head`
            sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
