"""
Exact executed-instruction counts per function, for programs run under QEMU
(qemu-aarch64, qemu-riscv64, qemu-system-arm), through the TCG plugin in
`small_ir/runtime/insncount.c`.

    command = ["qemu-system-arm", "-M", "mps2-an386", *plugin_arguments(Path("counts.txt")), "-kernel", "m.elf"]
    subprocess.run(command, check=True)
    counts = function_counts(Path("counts.txt"), Path("m.elf"))

The plugin writes one line "<hex address> <count>" per executed instruction
when QEMU exits. Counts are repeatable to the instruction for a single-threaded
guest (user mode) or one vCPU (system mode) given the same program, arguments
and environment (a static glibc program's startup code walks the environment:
run qemu with an empty one).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile

from small_ir.platforms import RUNTIME_DIR
from small_ir.toolchain import ToolchainError

UNKNOWN_FUNCTION = "<unknown>"

_PLUGIN_SOURCES = [RUNTIME_DIR / "insncount.c", RUNTIME_DIR / "qemu-plugin.h"]
_PLUGIN_FLAGS = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror"]
_FUNCTION_TYPES = {"STT_FUNC", "STT_LOOS"}  # STT_LOOS is how pyelftools names STT_GNU_IFUNC


def cache_directory() -> Path:
    """`$XDG_CACHE_HOME/small-ir`, else `~/.cache/small-ir`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "small-ir"


def plugin_library() -> Path:
    """The plugin as a shared library, built with gcc on first use and again whenever its source changes."""
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in _PLUGIN_SOURCES)).hexdigest()[:16]
    library = cache_directory() / f"insncount-{digest}.so"
    if library.exists():
        return library
    if shutil.which("gcc") is None:
        raise ToolchainError("gcc not found, needed to build the qemu instruction-count plugin: apt-get install gcc")
    library.parent.mkdir(parents=True, exist_ok=True)
    # Built under a temporary name and renamed, so concurrent builds never load a half-written library.
    with tempfile.TemporaryDirectory(dir=library.parent) as scratch:
        built = Path(scratch) / library.name
        command = ["gcc", *_PLUGIN_FLAGS, str(_PLUGIN_SOURCES[0]), "-o", str(built)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolchainError(f"building the qemu plugin failed: {' '.join(command)}\n{result.stderr}")
        os.replace(built, library)
    return library


def plugin_arguments(out: Path) -> list[str]:
    """
    QEMU options loading the plugin so that it writes its counts to `out`; put
    them before the guest program. Removes a stale `out`, so that a run which
    does not write it is reported instead of silently reusing old counts.
    """
    out.unlink(missing_ok=True)
    # QEMU splits -plugin's value at commas; a comma inside a value is written twice.
    library = str(plugin_library()).replace(",", ",,")
    out_path = str(out.absolute()).replace(",", ",,")
    return ["-plugin", f"{library},out={out_path}"]


def address_counts(counts_file: Path) -> dict[int, int]:
    """The plugin's output: executions per instruction address."""
    if not counts_file.exists() or counts_file.stat().st_size == 0:
        raise ToolchainError(
            f"the qemu plugin wrote no counts to {counts_file}: qemu did not exit normally "
            "(crash, timeout, or a guest that never exits) or it ran without the plugin"
        )
    counts: dict[int, int] = {}
    for line in counts_file.read_text().splitlines():
        address, count = line.split()
        counts[int(address, 16)] = int(count)  # the plugin writes each address once
    return counts


@dataclass(frozen=True)
class _Function:
    start: int
    end: int
    name: str


def _plainness(function: _Function) -> tuple[int, str]:
    """Sort key preferring `memcpy` over its alias `__memcpy`; ties broken by name so the choice is stable."""
    return len(function.name) - len(function.name.lstrip("_")), function.name


def _functions(elf: Path) -> list[_Function]:
    """The ELF's sized function symbols sorted by address, one per address (aliases: the plainest name)."""
    with elf.open("rb") as stream:
        elf_file = ELFFile(stream)
        if elf_file["e_type"] != "ET_EXEC":
            raise ToolchainError(f"{elf} is not a fixed-address executable: link it with -static (and -no-pie)")
        symbol_table = elf_file.get_section_by_name(".symtab")
        if symbol_table is None:
            raise ToolchainError(f"{elf} has no symbol table: do not strip it")
        thumb = elf_file["e_machine"] == "EM_ARM"
        by_start: dict[int, _Function] = {}
        for symbol in symbol_table.iter_symbols():
            if symbol["st_info"]["type"] not in _FUNCTION_TYPES or symbol["st_size"] == 0:
                continue
            start = symbol["st_value"] & ~1 if thumb else symbol["st_value"]
            function = _Function(start, start + symbol["st_size"], symbol.name)
            by_start[start] = min(function, by_start.get(start, function), key=_plainness)
    return sorted(by_start.values(), key=lambda function: function.start)


def function_counts(counts_file: Path, elf: Path) -> dict[str, int]:
    """Executed instructions per function of `elf`; those outside every function symbol under UNKNOWN_FUNCTION."""
    addresses = address_counts(counts_file)
    functions = _functions(elf)
    starts = [function.start for function in functions]
    totals: dict[str, int] = defaultdict(int)
    for address, count in addresses.items():
        index = bisect.bisect_right(starts, address) - 1
        inside = index >= 0 and address < functions[index].end
        totals[functions[index].name if inside else UNKNOWN_FUNCTION] += count
    return dict(totals)
