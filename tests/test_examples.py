"""Every example runs, as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from small_ir.testing import interpret

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent


def test_demo_reports_a_match(tmp_path: Path):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    for field in ("MACs", "arena", "max error", "time", "result       OK"):
        assert field in result.stdout


def test_residual_block_mlir_compiles_and_matches_the_interpreter(tmp_path: Path):
    from small_ir.compiler import compile
    from small_ir.frontends import load_model

    source = ROOT / "examples" / "residual_block.mlir"
    result = subprocess.run([str(BIN / "small-ir"), "compile", str(source), "-o", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "model.c").exists()

    module = load_model(source).module
    image = np.random.default_rng(0).standard_normal((1, 4, 8, 8)).astype(np.float32)
    (expected,) = interpret(module, [image])
    (output,) = compile(module, target="scalar").run(image)
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-6)
