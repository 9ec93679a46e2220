"""`make demo`: compile the bundled network for this host's best target, run it, check it, report."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import tiny_cnn  # noqa: E402

import small_ir  # noqa: E402


def main() -> int:
    module, reference = tiny_cnn.build()
    layers = sum(1 for op in module.walk() if op.dialect_name() == "nn")
    compiled = small_ir.compile(module, target="host", name="tiny_cnn")
    out_dir = Path("out/demo")
    header, source = compiled.write(out_dir)

    image = np.random.default_rng(1).standard_normal(tiny_cnn.INPUT_SHAPE).astype(np.float32)
    output = compiled.run(image)[0]
    expected = reference(image)
    error = float(np.abs(output - expected).max())

    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        compiled.run(image)
    per_run = (time.perf_counter() - start) / runs

    print(f"network      tiny_cnn ({layers} nn layers), input {'x'.join(map(str, tiny_cnn.INPUT_SHAPE))}")
    print(f"target       {compiled.target}")
    print(f"MACs         {compiled.macs:,}")
    print(f"arena        {compiled.arena_bytes:,} bytes (one static buffer)")
    print(f"output       {header} {source} ({len(compiled.c_source.splitlines()):,} lines of C)")
    print(f"max error    {error:.2e} vs the numpy reference, top-1 {'agrees' if output.argmax() == expected.argmax() else 'DIFFERS'}")
    print(f"time         {per_run * 1e3:.3f} ms per inference (through ctypes, incl. call overhead)")
    ok = error <= 1e-4 * max(1.0, float(np.abs(expected).max()))
    print("result       OK" if ok else "result       MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
