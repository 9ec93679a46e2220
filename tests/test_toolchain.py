"""Building, loading and sanitizer-running host C."""

from pathlib import Path

import numpy as np
import pytest

from small_ir.toolchain import (
    SanitizerError,
    ToolchainError,
    build_executable,
    build_shared_library,
    load_function,
    run_with_sanitizers,
)

SCALE = """
void scale(const float *restrict x, float *restrict y) {
  for (int i = 0; i < 4; i++) y[i] = 2.0f * x[i];
}
"""

OUT_OF_BOUNDS = """
void scale(const float *restrict x, float *restrict y) {
  for (int i = 0; i <= 4; i++) y[i] = 2.0f * x[i % 4];
}
"""

SIGNED_OVERFLOW = """
#include <limits.h>
void overflow(const float *restrict x, float *restrict y) {
  int big = INT_MAX - 1 + (int)x[0];
  y[0] = (float)(big + 1);
}
"""


def write(directory: Path, source: str) -> Path:
    c_file = directory / "code.c"
    c_file.write_text(source)
    return c_file


def test_shared_library_function_takes_numpy_arrays(tmp_path: Path):
    library = build_shared_library([write(tmp_path, SCALE)], tmp_path / "scale.so")
    scale = load_function(library, "scale", 2)
    x = np.arange(4, dtype=np.float32)
    y = np.zeros(4, dtype=np.float32)

    scale(x, y)

    assert y.tolist() == [0.0, 2.0, 4.0, 6.0]
    with pytest.raises(TypeError, match="float32"):
        scale(x.astype(np.float64), y)
    with pytest.raises(ValueError, match="C-contiguous"):
        scale(np.zeros(8, dtype=np.float32)[::2], y)
    with pytest.raises(TypeError, match="takes 2 arrays"):
        scale(x)


def test_missing_function_is_reported(tmp_path: Path):
    library = build_shared_library([write(tmp_path, SCALE)], tmp_path / "scale.so")
    with pytest.raises(ToolchainError, match="no function missing"):
        load_function(library, "missing", 1)


def test_compile_error_carries_the_compiler_message(tmp_path: Path):
    c_file = write(tmp_path, "void broken(void) { undeclared_name = 1; }\n")
    with pytest.raises(ToolchainError, match="undeclared_name") as error:
        build_shared_library([c_file], tmp_path / "broken.so")
    assert "code.c" in str(error.value)


def test_warnings_are_errors(tmp_path: Path):
    c_file = write(tmp_path, "void unused(void) { int never_read = 1; }\nint main(void) { return 0; }\n")
    with pytest.raises(ToolchainError, match="never_read"):
        build_executable([c_file], tmp_path / "unused")


def test_missing_compiler_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CC", "no-such-compiler-small-ir -O1")
    with pytest.raises(ToolchainError, match=r"no-such-compiler-small-ir \(from CC\) not found"):
        build_shared_library([write(tmp_path, SCALE)], tmp_path / "scale.so")


def test_missing_gcc_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match=r"gcc not found: install gcc \(apt-get install gcc\) or set CC"):
        build_shared_library([write(tmp_path, SCALE)], tmp_path / "scale.so")


def test_sanitized_run_returns_the_outputs():
    (y,) = run_with_sanitizers(SCALE, "scale", [np.arange(4)], [4])
    assert y.dtype == np.float32
    assert y.tolist() == [0.0, 2.0, 4.0, 6.0]


def test_out_of_bounds_write_is_a_sanitizer_error():
    # ASan reports it as a heap-buffer-overflow; at -O3, UBSan's object-size check may see it first.
    with pytest.raises(SanitizerError, match="heap-buffer-overflow|store to address .* with insufficient space"):
        run_with_sanitizers(OUT_OF_BOUNDS, "scale", [np.arange(4)], [4])


def test_undefined_behaviour_is_a_sanitizer_error():
    with pytest.raises(SanitizerError, match="signed integer overflow"):
        run_with_sanitizers(SIGNED_OVERFLOW, "overflow", [np.ones(1)], [1])
