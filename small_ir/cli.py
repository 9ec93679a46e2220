"""
`small-ir`: the compiler's command line.

    small-ir compile net.mlir --target avx2 -o out/    # out/model.h, out/model.c
    small-ir pipeline --target avx2                    # the pass pipeline, for small-opt -p
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xdsl.parser import Parser

from small_ir.backends import isa_names
from small_ir.context import make_context
from small_ir.errors import SmallIRError, report_errors

TARGET_CHOICES = ["host", *isa_names()]


def load_module(path: Path):
    if not path.is_file():
        raise SmallIRError(f"{path}: no such file")
    if path.suffix != ".mlir":
        raise SmallIRError(f"{path}: expected an nn-dialect .mlir file")
    module = Parser(make_context(), path.read_text(), str(path)).parse_module()
    module.verify()
    return module


def command_compile(args: argparse.Namespace) -> None:
    from small_ir.compiler import compile

    compiled = compile(load_module(Path(args.file)), target=args.target, name=args.name)
    header, source = compiled.write(args.output)
    print(f"wrote {header} and {source} for target {compiled.target}")
    print(f"MACs: {compiled.macs}")
    print(f"arena: {compiled.arena_bytes} bytes")


def command_pipeline(args: argparse.Namespace) -> None:
    from small_ir.compiler import pipeline_spec

    print(pipeline_spec(args.target))


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="small-ir", description="Compile neural networks to standalone C.")
    commands = root.add_subparsers(dest="command", required=True)
    compile_cmd = commands.add_parser("compile", help="compile a network to model.h / model.c")
    compile_cmd.add_argument("file", help="network in the nn dialect (.mlir)")
    compile_cmd.add_argument("--target", "-t", default="host", choices=TARGET_CHOICES)
    compile_cmd.add_argument("--output", "-o", required=True, help="output directory")
    compile_cmd.add_argument("--name", default="model", help="C prefix and file name (default: model)")
    compile_cmd.set_defaults(run=command_compile)
    pipeline_cmd = commands.add_parser("pipeline", help="print the pass pipeline of a target")
    pipeline_cmd.add_argument("--target", "-t", default="host", choices=TARGET_CHOICES)
    pipeline_cmd.set_defaults(run=command_pipeline)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with report_errors("small-ir"):
        args.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
