"""
The command line on the emulated targets: compile (with the library's size),
run, check and bench go through the target's emulator without being asked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from small_ir.testing import target_params

BIN = Path(sys.executable).parent
MODELS = Path(__file__).parents[1] / "examples" / "models"
KWS = str(MODELS / "kws_dscnn_float.tflite")
RESIDUAL_BLOCK = str(Path(__file__).parents[1] / "examples" / "residual_block.mlir")
EMULATED = target_params(emulated=True)
CORTEX_M = target_params(only=["cortex-m4", "cortex-m7", "cortex-m55"], emulated=True)


def small_ir(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN / "small-ir"), *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("target", CORTEX_M)
def test_compile_reports_the_library_sections(target: str, tmp_path: Path):
    output = small_ir("compile", KWS, "-t", target, "-o", str(tmp_path)).stdout
    sizes = dict(re.findall(r"(\.text|\.rodata|\.data|\.bss) (\d+)", output))
    assert set(sizes) == {".text", ".rodata", ".data", ".bss"}, output
    weights = 22_000 * 4  # DS-CNN has ~22k float parameters, all constant
    assert int(sizes[".rodata"]) >= weights and int(sizes[".text"]) > 0
    assert int(sizes[".bss"]) >= int(re.search(r"arena: (\d+) bytes", output).group(1))


@pytest.mark.parametrize("target", EMULATED)
def test_run_a_compiled_directory_under_the_emulator(target: str, tmp_path: Path):
    x = np.random.default_rng(0).standard_normal((1, 4, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    small_ir("compile", RESIDUAL_BLOCK, "-t", target, "-o", str(tmp_path / "out"))
    small_ir("run", str(tmp_path / "out"), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "ours.npy"))
    small_ir("run", RESIDUAL_BLOCK, "-t", "scalar", "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "host.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "ours.npy"), np.load(tmp_path / "host.npy"), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("target", EMULATED)
def test_check_against_tflite(target: str):
    assert "top-1 agrees 3/3  OK" in small_ir("check", KWS, "-t", target, "--inputs", "3").stdout


@pytest.mark.parametrize("target", target_params(only=["cortex-m4"], emulated=True))
def test_bench_counts_instructions_per_model_and_layer(target: str):
    output = small_ir("bench", str(MODELS / "ad_autoencoder_float.tflite"), "-t", target).stdout
    assert "NOT repeatable" not in output  # the model is counted twice: the same to the instruction
    total = int(re.search(r"([\d,]+) instructions per inference", output).group(1).replace(",", ""))
    layers = [int(count.replace(",", "")) for count in re.findall(r"dense\s+[\d.]+\s+([\d,]+)", output)]
    assert len(layers) == 10 and all(count > 0 for count in layers)
    assert 0.5 * sum(layers) < total < 2 * sum(layers)  # the layers alone vs fused into one function


def test_bench_rvv_at_a_wider_vlen_counts_the_same_program():
    """
    The microkernel passes vl = C_ob whatever the VLEN; the autoencoder is all
    microkernel (no loops clang vectorises by VLMAX), so it runs the same
    instructions at VLEN 128 and 512.
    """
    args = ["bench", str(MODELS / "ad_autoencoder_float.tflite"), "-t", "rvv", "--no-layers"]
    narrow, wide = small_ir(*args).stdout, small_ir(*args, "--vlen", "512").stdout
    count = lambda text: re.search(r"([\d,]+) instructions per inference", text).group(1)  # noqa: E731
    assert count(narrow) == count(wide)
