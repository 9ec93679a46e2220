"""
Building and running generated C on the host.

    lib = build_shared_library([Path("model.c")], Path("model.so"), ["-mavx2", "-mfma"])
    model = load_function(lib, "model", 2)
    model(x, y)  # float32 numpy arrays, C-contiguous

An ASan-instrumented shared library cannot be loaded into an uninstrumented
python, so sanitizer runs build a standalone program around the entry point:

    outputs = run_with_sanitizers(source, "model", [x], [y.size])

The compiler is `$CC` if set (it may carry flags, e.g. `CC="clang-16"`), else gcc.
"""

from __future__ import annotations

import ctypes
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


class ToolchainError(Exception):
    """A compiler is missing, a compilation failed, or a built program failed."""


class SanitizerError(ToolchainError):
    """AddressSanitizer or UndefinedBehaviorSanitizer reported a finding."""


C_FLAGS = ["-std=c99", "-O3"]
WARNING_FLAGS = ["-Wall", "-Wextra", "-Werror"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]

_RUN_TIMEOUT_SECONDS = 60


def c_compiler() -> list[str]:
    """The C compiler command: `$CC` (split like a shell would), else gcc."""
    from_env = os.environ.get("CC", "").strip()
    if not from_env:
        if shutil.which("gcc") is None:
            raise ToolchainError("gcc not found: install gcc (apt-get install gcc) or set CC")
        return ["gcc"]
    command = shlex.split(from_env)
    if shutil.which(command[0]) is None:
        raise ToolchainError(f"{command[0]} (from CC) not found: install it or set CC to another C compiler")
    return command


def _compile(c_files: Sequence[Path], out: Path, flags: Sequence[str]) -> Path:
    command = [*c_compiler(), *C_FLAGS, *WARNING_FLAGS, *flags, *map(str, c_files), "-o", str(out), "-lm"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolchainError(
            f"compiling {', '.join(map(str, c_files))} failed (exit {result.returncode}):\n"
            f"$ {shlex.join(command)}\n{result.stderr}"
        )
    return out


def build_shared_library(c_files: Sequence[Path], out: Path, extra_flags: Sequence[str] = ()) -> Path:
    """Compiles C files into a shared library, warnings as errors."""
    return _compile(c_files, out, ["-fPIC", "-shared", *extra_flags])


def build_executable(c_files: Sequence[Path], out: Path, extra_flags: Sequence[str] = ()) -> Path:
    """Compiles C files, one of which defines `main`, into a program, warnings as errors."""
    return _compile(c_files, out, extra_flags)


def load_function(lib_path: Path, name: str, n_args: int) -> Callable[..., None]:
    """
    A `void name(float *, ...)` function of a shared library, called with
    float32 numpy arrays (C-contiguous; outputs are written in place).
    Loading the same path twice gives the first library: build each
    library at a fresh path.
    """
    library = ctypes.CDLL(str(lib_path))
    try:
        function = getattr(library, name)
    except AttributeError:
        raise ToolchainError(f"{lib_path} has no function {name}") from None
    function.argtypes = [ctypes.c_void_p] * n_args
    function.restype = None

    def call(*arrays: np.ndarray) -> None:
        if len(arrays) != n_args:
            raise TypeError(f"{name} takes {n_args} arrays, not {len(arrays)}")
        for index, array in enumerate(arrays):
            _check_float32_array(name, index, array)
        function(*(array.ctypes.data for array in arrays))

    return call


def _check_float32_array(name: str, index: int, array: np.ndarray) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.float32:
        raise TypeError(f"argument {index} of {name} must be a float32 numpy array")
    if not array.flags.c_contiguous:
        raise ValueError(f"argument {index} of {name} must be C-contiguous (use np.ascontiguousarray)")


def run_with_sanitizers(
    c_source: str,
    entry: str,
    inputs: Sequence[np.ndarray],
    output_sizes: Sequence[int],
    flags: Sequence[str] = (),
) -> list[np.ndarray]:
    """
    Runs `entry(in0, ..., out0, ...)` of `c_source` under ASan and UBSan and
    returns the outputs (flat float32, zero-initialised before the call).
    Raises SanitizerError if a sanitizer reports anything.
    """
    if not re.fullmatch(r"[A-Za-z_]\w*", entry):
        raise ValueError(f"{entry!r} is not a C function name")
    input_arrays = [np.ascontiguousarray(array, dtype=np.float32).ravel() for array in inputs]
    with tempfile.TemporaryDirectory(prefix="small-ir-sanitize-") as directory:
        work = Path(directory)
        program = work / "program.c"
        program.write_text(c_source + _harness(entry, [a.size for a in input_arrays], output_sizes))
        executable = build_executable([program], work / "program", [*SANITIZE_FLAGS, *flags])
        (work / "inputs.bin").write_bytes(b"".join(array.tobytes() for array in input_arrays))
        _run_sanitized(executable, work / "inputs.bin", work / "outputs.bin")
        outputs = np.fromfile(work / "outputs.bin", dtype=np.float32)
    if outputs.size != sum(output_sizes):
        raise ToolchainError(f"{entry} wrote {outputs.size} output values, expected {sum(output_sizes)}")
    return np.split(outputs, np.cumsum(output_sizes)[:-1]) if output_sizes else []


def _run_sanitized(executable: Path, inputs: Path, outputs: Path) -> None:
    # LeakSanitizer needs ptrace, which containers often forbid; generated code never allocates.
    environment = os.environ | {"ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "print_stacktrace=1"}
    try:
        result = subprocess.run(
            [str(executable), str(inputs), str(outputs)],
            capture_output=True,
            text=True,
            env=environment,
            timeout=_RUN_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"{executable.name} did not finish in {_RUN_TIMEOUT_SECONDS} s") from None
    if result.returncode != 0 or "runtime error" in result.stderr or "Sanitizer" in result.stderr:
        raise SanitizerError(f"the sanitized run failed (exit {result.returncode}):\n{result.stderr}")


def _harness(entry: str, input_sizes: Sequence[int], output_sizes: Sequence[int]) -> str:
    """A `main` that reads the inputs from argv[1], calls entry, writes the outputs to argv[2]."""
    buffers = [f"small_ir_input_{i}" for i in range(len(input_sizes))]
    buffers += [f"small_ir_output_{i}" for i in range(len(output_sizes))]
    sizes = [*input_sizes, *output_sizes]
    lines = [
        "",
        "/* Sanitizer harness (small_ir.toolchain.run_with_sanitizers). */",
        "#include <stdio.h>",
        "#include <stdlib.h>",
        "",
        "int main(int argc, char **argv) {",
        "  if (argc != 3) return 2;",
        '  FILE *in = fopen(argv[1], "rb");',
        "  if (in == NULL) return 3;",
    ]
    for index, (buffer, size) in enumerate(zip(buffers, sizes)):
        # exact sizes, so that ASan's redzones sit right after each buffer
        lines.append(f"  float *{buffer} = calloc({max(size, 1)}, sizeof(float));")
        lines.append(f"  if ({buffer} == NULL) return 4;")
        if index < len(input_sizes):
            lines.append(f"  if (fread({buffer}, sizeof(float), {size}, in) != {size}) return 5;")
    lines += ["  fclose(in);", f"  {entry}({', '.join(buffers)});", '  FILE *out = fopen(argv[2], "wb");']
    lines.append("  if (out == NULL) return 6;")
    for buffer, size in zip(buffers[len(input_sizes) :], output_sizes):
        lines.append(f"  if (fwrite({buffer}, sizeof(float), {size}, out) != {size}) return 7;")
    lines.append("  if (fclose(out) != 0) return 8;")
    lines += [f"  free({buffer});" for buffer in buffers]
    lines += ["  return 0;", "}", ""]
    return "\n".join(lines)
