"""
The qemu instruction-count plugin (small_ir/insncount.py) on real guests: tiny
programs whose functions f and g run loops of 1000 and 3000 iterations, built
for aarch64 and riscv64 Linux (qemu user mode) and for a bare-metal Cortex-M
(qemu-system-arm, semihosting exit).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from small_ir.insncount import (
    UNKNOWN_FUNCTION,
    address_counts,
    function_counts,
    plugin_arguments,
    plugin_library,
)
from small_ir.toolchain import ToolchainError


def count_instructions(command: Sequence[str], elf: Path, timeout: float = 600) -> dict[str, int]:
    """Runs a qemu `command` (qemu binary first) with the plugin and returns `function_counts` for `elf`."""
    qemu = shutil.which(command[0])
    if qemu is None:
        raise ToolchainError(f"{command[0]} not found: apt-get install qemu-user qemu-system-arm")
    with tempfile.TemporaryDirectory() as scratch:
        counts_file = Path(scratch) / "counts.txt"
        full_command = [qemu, *plugin_arguments(counts_file), *command[1:]]
        try:
            # An empty environment: qemu-user hands its own to the guest, and glibc's startup code reads it.
            result = subprocess.run(full_command, capture_output=True, text=True, timeout=timeout, env={})
        except subprocess.TimeoutExpired as error:
            raise ToolchainError(f"timed out after {timeout} s: {' '.join(full_command)}") from error
        if result.returncode != 0:
            raise ToolchainError(f"exit status {result.returncode}: {' '.join(full_command)}\n{result.stderr}")
        return function_counts(counts_file, elf)


LOOPS_C = r"""
__attribute__((noinline)) unsigned f(unsigned n) {
    unsigned sum = 0;
    for (unsigned i = 0; i < n; i++) {
        sum += i * i;
        __asm__ volatile("" : "+r"(sum)); /* keeps the loop a loop */
    }
    return sum;
}

__attribute__((noinline)) unsigned g(unsigned n) {
    unsigned sum = 0;
    for (unsigned i = 0; i < n; i++) {
        sum += i * i;
        __asm__ volatile("" : "+r"(sum));
    }
    return sum;
}
"""

LINUX_MAIN_C = r"""
int main(void) { return f(1000) + g(3000) == 1u; }
"""

# mps2-an386/an500 and mps3-an547 all boot from a vector table at 0x0 and have RAM at 0x20000000.
CORTEX_M_MAIN_C = r"""
static void semihosting_exit(unsigned reason) {
    register unsigned operation __asm__("r0") = 0x18; /* SYS_EXIT */
    register unsigned argument __asm__("r1") = reason;
    __asm__ volatile("bkpt 0xab" : : "r"(operation), "r"(argument) : "memory");
}

void reset(void) {
    /* ADP_Stopped_ApplicationExit (0x20026) makes qemu exit with status 0; the sum is never 1. */
    semihosting_exit(f(1000) + g(3000) == 1u ? 0x20023 : 0x20026);
    for (;;) {}
}

__attribute__((section(".vectors"), used)) const void *const vectors[2] = {(void *)0x20010000, (void *)reset};
"""

CORTEX_M_LINKER_SCRIPT = """
ENTRY(reset)
SECTIONS {
  .text 0x0 : { KEEP(*(.vectors)) *(.text*) *(.rodata*) }
  /DISCARD/ : { *(.ARM.exidx*) }
}
"""

LINUX_TARGETS = {
    "aarch64": (
        ["aarch64-linux-gnu-gcc", "-static", "-O1"],
        "qemu-aarch64",
        "apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user",
    ),
    "riscv64": (
        ["clang-16", "--target=riscv64-linux-gnu", "-march=rv64gc", "-static", "-fuse-ld=lld", "-O1"],
        "qemu-riscv64",
        "apt-get install clang-16 lld-16 libc6-dev-riscv64-cross libgcc-12-dev-riscv64-cross qemu-user",
    ),
}

CORTEX_M_COMPILER = [
    "clang-16", "--target=thumbv7em-none-eabi", "-mcpu=cortex-m4", "-O1",
    "-nostdlib", "-ffreestanding", "-fuse-ld=lld",
]  # fmt: skip
CORTEX_M_INSTALL = "apt-get install clang-16 lld-16 qemu-system-arm"
QEMU_SYSTEM_OPTIONS = [
    "-display", "none", "-monitor", "none", "-serial", "none",
    "-semihosting-config", "enable=on,target=native",
]  # fmt: skip


@pytest.fixture(autouse=True)
def private_plugin_cache(tmp_path_factory, monkeypatch):
    """Builds the plugin once per session into a temporary cache, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))


def require_tools(tools: list[str], install: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: {install}")


def compile_program(compiler: list[str], sources: str, out: Path, extra_flags: Sequence[str] = ()) -> Path:
    source = out.with_suffix(".c")
    source.write_text(sources)
    subprocess.run([*compiler, *extra_flags, str(source), "-o", str(out)], check=True, capture_output=True)
    return out


def linux_program(target: str, tmp_path: Path) -> tuple[Path, str]:
    compiler, qemu, install = LINUX_TARGETS[target]
    require_tools([compiler[0], qemu], install)
    return compile_program(compiler, LOOPS_C + LINUX_MAIN_C, tmp_path / f"loops-{target}"), qemu


def cortex_m_program(tmp_path: Path) -> Path:
    require_tools([CORTEX_M_COMPILER[0], "qemu-system-arm"], CORTEX_M_INSTALL)
    linker_script = tmp_path / "cortex_m.ld"
    linker_script.write_text(CORTEX_M_LINKER_SCRIPT)
    out = tmp_path / "loops-cortex-m.elf"
    return compile_program(CORTEX_M_COMPILER, LOOPS_C + CORTEX_M_MAIN_C, out, [f"-Wl,-T,{linker_script}"])


def function_range(elf: Path, name: str) -> range:
    with elf.open("rb") as stream:
        symbol = ELFFile(stream).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
    start = symbol["st_value"] & ~1
    return range(start, start + symbol["st_size"])


def hottest_count(counts_file: Path, elf: Path, name: str) -> int:
    """The execution count of the most executed instruction of function `name`: its loop body's."""
    addresses = function_range(elf, name)
    return max(count for address, count in address_counts(counts_file).items() if address in addresses)


def assert_loop_counts(counts: dict[str, int]) -> None:
    assert counts["f"] > 0 and counts["g"] > 0
    assert counts["g"] / counts["f"] == pytest.approx(3, rel=0.03)


@pytest.mark.parametrize("target", sorted(LINUX_TARGETS))
def test_user_mode_counts_per_function(target, tmp_path):
    program, qemu = linux_program(target, tmp_path)
    counts_file = tmp_path / "counts.txt"
    subprocess.run([qemu, *plugin_arguments(counts_file), str(program)], check=True, timeout=60)

    counts = function_counts(counts_file, program)
    assert_loop_counts(counts)
    assert hottest_count(counts_file, program, "f") == 1000
    assert hottest_count(counts_file, program, "g") == 3000
    assert counts["main"] > 0
    assert sum(counts.values()) == sum(address_counts(counts_file).values())


@pytest.mark.parametrize("target", sorted(LINUX_TARGETS))
def test_user_mode_counts_are_repeatable(target, tmp_path):
    program, qemu = linux_program(target, tmp_path)
    first = count_instructions([qemu, str(program)], program)
    second = count_instructions([qemu, str(program)], program)
    assert first == second
    assert_loop_counts(first)


@pytest.mark.parametrize("machine", ["mps2-an386", "mps2-an500", "mps3-an547"])
def test_bare_metal_cortex_m_counts(machine, tmp_path):
    program = cortex_m_program(tmp_path)
    command = ["qemu-system-arm", "-M", machine, *QEMU_SYSTEM_OPTIONS, "-kernel", str(program)]
    counts_file = tmp_path / "counts.txt"
    full_command = [command[0], *plugin_arguments(counts_file), *command[1:]]
    subprocess.run(full_command, check=True, timeout=20)

    counts = function_counts(counts_file, program)
    assert_loop_counts(counts)
    assert hottest_count(counts_file, program, "f") == 1000
    assert hottest_count(counts_file, program, "g") == 3000
    assert UNKNOWN_FUNCTION not in counts, "Thumb function symbols (bit 0 set) must cover every instruction"
    assert count_instructions(command, program) == counts == count_instructions(command, program)


def test_missing_counts_file_is_a_clear_error(tmp_path):
    with pytest.raises(ToolchainError, match="wrote no counts"):
        function_counts(tmp_path / "never-written.txt", tmp_path / "program.elf")


def test_plugin_arguments_remove_a_stale_counts_file(tmp_path):
    stale = tmp_path / "counts.txt"
    stale.write_text("1000 1\n")
    plugin_arguments(stale)
    assert not stale.exists()


def test_crashing_guest_is_a_clear_error(tmp_path):
    require_tools([CORTEX_M_COMPILER[0], "qemu-system-arm"], CORTEX_M_INSTALL)
    # No vector table: the core locks up at reset and qemu aborts before the plugin's exit callback.
    program = compile_program(CORTEX_M_COMPILER, "void reset(void) {}\n", tmp_path / "broken.elf", ["-Wl,-e,reset"])
    command = ["qemu-system-arm", "-M", "mps2-an386", *QEMU_SYSTEM_OPTIONS, "-kernel", str(program)]
    counts_file = tmp_path / "counts.txt"
    result = subprocess.run([command[0], *plugin_arguments(counts_file), *command[1:]], capture_output=True, timeout=20)
    assert result.returncode != 0
    with pytest.raises(ToolchainError, match="wrote no counts"):
        function_counts(counts_file, program)
    with pytest.raises(ToolchainError, match="exit status"):
        count_instructions(command, program)


def test_plugin_is_cached_by_source_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    library = plugin_library()
    assert library.parent == tmp_path / "small-ir"
    assert library.name.startswith("insncount-") and library.suffix == ".so"
    modified = library.stat().st_mtime_ns
    assert plugin_library() == library and library.stat().st_mtime_ns == modified


def test_plugin_arguments_escape_commas(tmp_path):
    out = tmp_path / "a,b.txt"
    option, value = plugin_arguments(out)
    assert option == "-plugin"
    assert value.endswith(f"out={str(out).replace(',', ',,')}")


def test_plugin_rejects_unknown_arguments(tmp_path):
    program, qemu = linux_program("aarch64", tmp_path)
    result = subprocess.run(
        [qemu, "-plugin", f"{plugin_library()},bogus=1", str(program)], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "unknown argument 'bogus=1'" in result.stderr
