"""
`make demo`: compile a bundled MLPerf Tiny model for this host's best target,
run it, check it against the framework that defines it, and report.

    python examples/demo.py [MODEL]     # default: examples/models/ic_resnet8_float.tflite
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import small_ir
from small_ir.check import check_model
from small_ir.frontends import load_model
from small_ir.inspect import layer_table

DEFAULT_MODEL = Path(__file__).parent / "models" / "ic_resnet8_float.tflite"


def time_per_inference(compiled: small_ir.CompiledModel, runs: int = 200) -> float:
    inputs = [np.zeros(shape, np.float32) for shape in compiled.input_shapes]
    compiled.run(*inputs)
    start = time.perf_counter()
    for _ in range(runs):
        compiled.run(*inputs)
    return (time.perf_counter() - start) / runs


def main(path: Path) -> int:
    model = load_model(path)
    compiled = small_ir.compile(model.module, target="host", name="model")
    header, source = compiled.write(Path("out") / "demo")
    report = check_model(path, target="host", count=20)
    worst = max(report.outputs, key=lambda output: output.max_rel)

    print(f"model        {path.name} ({len(layer_table(model.module))} layers), inputs {compiled.input_shapes} {compiled.io_layout.upper()}")
    print(f"target       {compiled.target}")
    print(f"MACs         {compiled.macs:,}")
    print(f"arena        {compiled.arena_bytes:,} bytes (one static buffer)")
    print(f"output       {header} {source} ({len(compiled.c_source.splitlines()):,} lines of C)")
    print(
        f"max error    {worst.max_abs:.2e} abs, {worst.max_rel:.2e} of the output range, vs {report.reference} "
        f"on 20 random inputs; top-1 agrees {worst.top1_agree}/{worst.runs}"
    )
    print(f"time         {time_per_inference(compiled) * 1e3:.3f} ms per inference (through ctypes, incl. call overhead)")
    print("result       OK" if report.ok else "result       MISMATCH")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MODEL))
