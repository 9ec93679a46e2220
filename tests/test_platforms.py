"""Building and running C programs on every platform of small_ir.platforms, under its emulator."""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile

from small_ir.platforms import CORTEX_M_FAULT_STATUS, PLATFORMS, Platform, platform
from small_ir.toolchain import ToolchainError

CORTEX_M = ["mps2-an386", "mps2-an500", "mps3-an547"]

# Exactly representable inputs: a*b+c gives the same floats fused or not.
RESULTS = r"""
#include "small_ir_io.h"

#ifndef STATUS
#define STATUS 0
#endif

static volatile float a[8] = {0.5f, -1.25f, 2.0f, 3.5f, -0.75f, 1.0f, 4.0f, -2.5f};
static volatile float b[8] = {2.0f, 0.25f, -1.5f, 1.0f, 4.0f, -0.5f, 0.75f, 3.0f};

static float dot(const volatile float *x, const volatile float *y, int n) {
  float sum = 0.125f;
  for (int i = 0; i < n; i++) sum = x[i] * y[i] + sum;
  return sum;
}

int main(void) {
  float results[3] = {dot(a, b, 8), a[5] / 3.0f, a[6] / b[7]};
  int handle = small_ir_open_output("results.bin");
  if (handle < 0) return 10;
  if (small_ir_write(handle, results, sizeof results - sizeof(float)) != 0) return 11;
  if (small_ir_write(handle, &results[2], sizeof(float)) != 0) return 12;
  if (small_ir_close(handle) != 0) return 13;
  return STATUS;
}
"""


def expected_results() -> np.ndarray:
    a = np.array([0.5, -1.25, 2.0, 3.5, -0.75, 1.0, 4.0, -2.5], dtype=np.float32)
    b = np.array([2.0, 0.25, -1.5, 1.0, 4.0, -0.5, 0.75, 3.0], dtype=np.float32)
    dot = np.float32(0.125) + np.dot(a, b)
    return np.array([dot, a[5] / np.float32(3), a[6] / b[7]], dtype=np.float32)


SPIN_FOREVER = r"""
static volatile int spinning = 1;
int main(void) {
  while (spinning) {
  }
  return 0;
}
"""

FAULTS = {
    "invalid write": "*(volatile int *)0xF0000000u = 1;",  # unmapped on every platform
    "undefined instruction": "__builtin_trap();",
}

# 1 MiB of read-only floats (weights), 256 KiB zeroed (an arena), 512 KiB in the largest RAM.
MEMORY = r"""
#include "small_ir_io.h"

#define WEIGHTS (256 * 1024)
#define ZEROED (64 * 1024)

static const float weights[WEIGHTS] = {[0] = 1.0f, [WEIGHTS - 1] = 2.0f};
static float zeroed[ZEROED];
static float large[2 * ZEROED] SMALL_IR_LARGE_BSS;

static volatile int last = WEIGHTS - 1;

static int fill_and_check(volatile float *buffer, int size) {
  for (int i = 0; i < size; i++)
    if (buffer[i] != 0.0f) return 0;
  for (int i = 0; i < size; i++) buffer[i] = (float)i;
  return buffer[size - 1] == (float)(size - 1);
}

int main(void) {
  if (!fill_and_check(zeroed, ZEROED)) return 20;
  if (!fill_and_check(large, 2 * ZEROED)) return 21;
  return weights[last] == 2.0f && weights[0] == 1.0f ? 0 : 22;
}
"""

HELIUM = r"""
#include <arm_mve.h>
#include "small_ir_io.h"

static volatile float x[8] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f};
static volatile float y[8] = {0.5f, 0.5f, 0.5f, 0.5f, -1.0f, -1.0f, -1.0f, -1.0f};

__attribute__((noinline)) static void axpy(const float *a, const float *b, float *out) {
  for (int i = 0; i < 8; i += 4) vst1q_f32(out + i, vfmaq_n_f32(vld1q_f32(b + i), vld1q_f32(a + i), 0.25f));
}

int main(void) {
  float a[8], b[8], out[8];
  for (int i = 0; i < 8; i++) {
    a[i] = x[i];
    b[i] = y[i];
  }
  axpy(a, b, out);
  int handle = small_ir_open_output("results.bin");
  if (handle < 0 || small_ir_write(handle, out, sizeof out) != 0 || small_ir_close(handle) != 0) return 10;
  return 0;
}
"""

RVV = r"""
#include <riscv_vector.h>
#include "small_ir_io.h"

static volatile float x[37];

int main(void) {
  float a[37], out[38];
  for (int i = 0; i < 37; i++) a[i] = x[i] + 0.5f * (float)i;
  for (size_t i = 0, vl; i < 37; i += vl) {
    vl = __riscv_vsetvl_e32m1(37 - i);
    vfloat32m1_t v = __riscv_vle32_v_f32m1(a + i, vl);
    __riscv_vse32_v_f32m1(out + i, __riscv_vfmacc_vf_f32m1(v, 3.0f, v, vl), vl);
  }
  out[37] = (float)__riscv_vsetvlmax_e32m1();
  int handle = small_ir_open_output("results.bin");
  if (handle < 0 || small_ir_write(handle, out, sizeof out) != 0 || small_ir_close(handle) != 0) return 10;
  return 0;
}
"""


def available(name: str) -> Platform:
    target = platform(name)
    missing = target.missing_tools()
    if missing:
        pytest.skip(f"{name}: missing {', '.join(missing)}")
    return target


def build(target: Platform, directory: Path, source: str, cflags: tuple[str, ...] = ()) -> Path:
    c_file = directory / "program.c"
    c_file.write_text(source)
    return target.build([c_file], directory / "program.elf", cflags)


def read_floats(path: Path) -> np.ndarray:
    return np.frombuffer(path.read_bytes(), dtype=np.float32)


@pytest.mark.parametrize("name", PLATFORMS)
def test_program_writes_float_results(name: str, tmp_path: Path):
    target = available(name)
    program = build(target, tmp_path, RESULTS)

    target.run(program, timeout=30)

    np.testing.assert_allclose(read_floats(tmp_path / "results.bin"), expected_results(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", PLATFORMS)
def test_nonzero_status_raises_with_the_status(name: str, tmp_path: Path):
    target = available(name)
    program = build(target, tmp_path, RESULTS, ("-DSTATUS=3",))

    with pytest.raises(ToolchainError, match=f"{name}: program.elf exited with status 3"):
        target.run(program, timeout=30)


@pytest.mark.parametrize("name", PLATFORMS)
def test_endless_program_hits_the_timeout(name: str, tmp_path: Path):
    target = available(name)
    program = build(target, tmp_path, SPIN_FOREVER)

    with pytest.raises(ToolchainError, match=rf"{name}: program.elf did not finish within 0.5 s"):
        target.run(program, timeout=0.5)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("name", PLATFORMS)
def test_fault_is_reported(name: str, fault: str, tmp_path: Path):
    target = available(name)
    program = build(target, tmp_path, f"int main(void) {{\n  {FAULTS[fault]}\n  return 0;\n}}\n")

    with pytest.raises(ToolchainError) as error:
        target.run(program, timeout=30)

    if name in CORTEX_M:
        assert f"exited with status {CORTEX_M_FAULT_STATUS}" in str(error.value)
        assert "small-ir: HardFault at pc 0x" in str(error.value)
    else:
        assert "was killed by SIG" in str(error.value)


MACHINES = {
    "linux-aarch64": "EM_AARCH64",
    "linux-riscv64": "EM_RISCV",
    "mps2-an386": "EM_ARM",
    "mps2-an500": "EM_ARM",
    "mps3-an547": "EM_ARM",
}


@pytest.mark.parametrize("name", PLATFORMS)
def test_library_compiles_to_an_object_for_the_platform(name: str, tmp_path: Path):
    target = available(name)
    c_file = tmp_path / "library.c"
    c_file.write_text("void scale(const float *x, float *y) { for (int i = 0; i < 64; i++) y[i] = 2.0f * x[i]; }\n")

    with target.compile_object(c_file, tmp_path / "library.o").open("rb") as file:
        elf = ELFFile(file)
        assert elf["e_type"] == "ET_REL"
        assert elf["e_machine"] == MACHINES.get(name, host_machine())
        assert elf.get_section_by_name(".text")["sh_size"] > 0


def host_machine() -> str:
    with Path(sys.executable).resolve().open("rb") as file:
        return ELFFile(file)["e_machine"]


@pytest.mark.parametrize("name", [name for name in PLATFORMS if name != "host"])
def test_emulator_arguments_reach_qemu(name: str, tmp_path: Path):
    target = available(name)
    program = build(target, tmp_path, RESULTS)

    target.run(program, ("-d", "in_asm", "-D", "qemu.log"), timeout=30)

    assert "IN:" in (tmp_path / "qemu.log").read_text()


@pytest.mark.parametrize("name", CORTEX_M)
def test_big_weights_and_arena_fit(name: str, tmp_path: Path):
    target = available(name)
    program = build(target, tmp_path, MEMORY)
    with program.open("rb") as file:
        sizes = {section.name: section["sh_size"] for section in ELFFile(file).iter_sections()}
    assert sizes[".rodata"] >= 1024 * 1024
    assert sizes[".bss"] >= 256 * 1024
    assert sizes[".large_bss"] >= 512 * 1024

    target.run(program, timeout=30)


@pytest.mark.parametrize("name", CORTEX_M)
def test_bare_metal_links_no_c_library(name: str, tmp_path: Path):
    target = available(name)
    source = 'int puts(const char *text);\nint main(void) { return puts("hello"); }\n'

    with pytest.raises(ToolchainError, match="undefined symbol: puts"):
        build(target, tmp_path, source)


def test_helium_is_enabled_on_the_cortex_m55(tmp_path: Path):
    target = available("mps3-an547")
    program = build(target, tmp_path, HELIUM)

    target.run(program, timeout=30)

    x = np.arange(1, 9, dtype=np.float32)
    y = np.repeat(np.array([0.5, -1.0], dtype=np.float32), 4)
    np.testing.assert_allclose(read_floats(tmp_path / "results.bin"), y + 0.25 * x, rtol=0, atol=1e-6)


def test_riscv_vector_program_agrees_across_vector_lengths(tmp_path: Path):
    target = available("linux-riscv64")
    program = build(target, tmp_path, RVV)
    expected = 4 * 0.5 * np.arange(37, dtype=np.float32)

    for vlen in (128, 512):
        target.run(program, timeout=30, vlen=vlen)
        results = read_floats(tmp_path / "results.bin")
        np.testing.assert_allclose(results[:37], expected, rtol=0, atol=1e-6)
        assert results[37] == vlen // 32  # floats per vector register: the vector length took effect


def test_missing_tool_names_the_apt_get_line(tmp_path: Path):
    target = dataclasses.replace(platform("host"), tools=(("no-such-compiler-x9", "no-such-package"),))

    assert target.missing_tools() == [
        "no-such-compiler-x9 (apt-get install -y --no-install-recommends no-such-package)"
    ]
    with pytest.raises(ToolchainError, match="apt-get install -y --no-install-recommends no-such-package"):
        build(target, tmp_path, RESULTS)


def test_unknown_platform_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown platform 'pdp-11'; known: host, linux-aarch64"):
        platform("pdp-11")
