"""
The platforms small-ir's generated C runs on: how to compile, link and run a
C program on each, natively (host) or under qemu.

    from small_ir.platforms import platform
    board = platform("mps2-an386")
    if board.missing_tools():
        ...  # e.g. ["qemu-system-arm (apt-get install -y --no-install-recommends qemu-system-arm)"]
    program = board.build([Path("harness.c"), Path("model.c")], Path("out/program.elf"))
    board.run(program)                                 # raises ToolchainError unless main returned 0
    board.compile_object(Path("model.c"), Path("out/model.o"))   # the library alone, for code size
    platform("linux-riscv64").run(program, vlen=512)   # the RISC-V vector length is a run-time choice

A program is a `main` (returning the exit status) plus the model's C files.
It writes its results through `small_ir_io.h` (in small_ir/runtime/, on the
include path), which build() links in for the platform: stdio on Linux,
semihosting on the Cortex-M boards, where build() also links the startup,
memcpy/memset/memmove (no other C library) and the board's linker script.

run() runs the program in its own directory, so relative paths it opens land
next to it. Any nonzero exit status raises ToolchainError naming the
platform and the status, with the program's stderr: `return 3` in main gives
"exited with status 3". On the Cortex-M boards a fault exits with status
250 (CORTEX_M_FAULT_STATUS) after printing the fault's registers; a fault
inside the fault handler makes qemu abort ("Lockup"). A run that does not
finish within its timeout raises ToolchainError too.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from small_ir.toolchain import C_FLAGS, WARNING_FLAGS, ToolchainError, c_compiler

RUNTIME_DIR = Path(__file__).parent / "runtime"

CORTEX_M_FAULT_STATUS = 250
"""The exit status of a Cortex-M program that faulted (FAULT_EXIT_STATUS in cortex_m_startup.c)."""

APT_GET_INSTALL = "apt-get install -y --no-install-recommends"
ALL_PACKAGES = (
    "gcc-aarch64-linux-gnu libc6-dev-arm64-cross clang-16 lld-16 libc6-dev-riscv64-cross "
    "libgcc-12-dev-riscv64-cross binutils-riscv64-linux-gnu qemu-user qemu-system-arm"
)

BARE_METAL_FLAGS = (
    "-ffreestanding",
    "-ffp-contract=fast",  # else a freestanding clang turns __builtin_fmaf into a call to fmaf
    "-fno-math-errno",
)


@dataclass(frozen=True)
class Platform:
    name: str
    compiler: tuple[str, ...]
    """The compiler command; empty: small_ir.toolchain's ($CC, else gcc)."""
    compile_flags: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ()
    runtime: tuple[str, ...] = ("hosted_io.c",)
    """Files of small_ir/runtime/ compiled into every program."""
    emulator: tuple[str, ...] = ()
    """The command the program runs under (before its path); empty: natively."""
    tools: tuple[tuple[str, str], ...] = ()
    """(command, or file of a library, Debian package) that building needs, for missing_tools()."""
    emulator_tools: tuple[tuple[str, str], ...] = ()
    """The same for running."""
    default_vlen: int | None = None
    """For a platform whose emulator takes a vector length (bits): the one used when run() is given none."""

    def missing_tools(self, running: bool = True) -> list[str]:
        """Each missing tool (for building, and with `running` for running) with the apt-get line that installs it."""
        tools = (*self.tools, *self.emulator_tools) if running else self.tools
        return [f"{tool} ({APT_GET_INSTALL} {package})" for tool, package in tools if not _installed(tool)]

    def build(self, c_files: Sequence[Path], out: Path, cflags: Sequence[str] = ()) -> Path:
        """Compiles and links a program (one file defines `main`) with this platform's runtime files."""
        runtime_files = [RUNTIME_DIR / name for name in self.runtime]
        command = [*self._compile_command(cflags), *map(str, c_files), *map(str, runtime_files), "-o", str(out)]
        _run_compiler([*command, *self.link_flags], f"building {out.name} for {self.name}")
        return out

    def compile_object(self, c_file: Path, out: Path, cflags: Sequence[str] = ()) -> Path:
        """Compiles one C file (the model library) to an object file, as build() would compile it."""
        _run_compiler(
            [*self._compile_command(cflags), "-c", str(c_file), "-o", str(out)], f"compiling {c_file} for {self.name}"
        )
        return out

    def run(
        self,
        executable: Path,
        emulator_args: Sequence[str] = (),
        timeout: float = 120,
        vlen: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        """
        Runs a program built by build(), in its directory; `emulator_args`
        go to qemu (e.g. `-plugin ...`), `vlen` sets the RISC-V vector length,
        `env` replaces the environment. Raises ToolchainError on a nonzero
        exit status or a timeout.
        """
        self._require_tools(running=True)
        executable = executable.resolve()
        command = [*self._emulator_command(emulator_args, vlen), str(executable)]
        try:
            result = subprocess.run(
                command,
                cwd=executable.parent,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                env=env,
            )
        except subprocess.TimeoutExpired:
            raise ToolchainError(
                f"{self.name}: {executable.name} did not finish within {timeout:g} s (killed)\n$ {shlex.join(command)}"
            ) from None
        if result.returncode != 0:
            raise ToolchainError(
                f"{self.name}: {executable.name} {_describe_exit(result.returncode)}\n"
                f"$ {shlex.join(command)}\n{result.stderr}{result.stdout}"
            )
        return result

    def _compile_command(self, cflags: Sequence[str]) -> list[str]:
        self._require_tools(running=False)
        compiler = list(self.compiler) or c_compiler()
        return [*compiler, *C_FLAGS, *WARNING_FLAGS, *self.compile_flags, f"-I{RUNTIME_DIR}", *cflags]

    def _emulator_command(self, emulator_args: Sequence[str], vlen: int | None) -> list[str]:
        if not self.emulator:
            if emulator_args or vlen is not None:
                raise ValueError(f"{self.name} runs programs natively: no emulator arguments or vlen")
            return []
        if vlen is not None and self.default_vlen is None:
            raise ValueError(f"{self.name} has no vector length to set (vlen={vlen})")
        emulator = [argument.format(vlen=vlen if vlen is not None else self.default_vlen) for argument in self.emulator]
        return [emulator[0], *emulator_args, *emulator[1:]]

    def _require_tools(self, running: bool) -> None:
        missing = self.missing_tools(running)
        if missing:
            raise ToolchainError(
                f"platform {self.name} needs {', '.join(missing)}\n"
                f"(every platform's tools: {APT_GET_INSTALL} {ALL_PACKAGES})"
            )


def _installed(tool: str) -> bool:
    return Path(tool).exists() if "/" in tool else shutil.which(tool) is not None


def _run_compiler(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode == 0:
        return
    overflows = [line for line in result.stderr.splitlines() if "will not fit in region" in line or "overflowed by" in line]
    if overflows:
        raise ToolchainError(
            f"{what} failed: the program does not fit the board's memory (see the memory map in "
            f"small_ir/runtime/*.ld); use a smaller model or fewer inputs per run:\n" + "\n".join(overflows[:4])
        )
    raise ToolchainError(f"{what} failed (exit {result.returncode}):\n$ {shlex.join(command)}\n{result.stderr}")


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


CLANG = (("clang-16", "clang-16"), ("ld.lld-16", "lld-16"))


def _cortex_m(board: str, target: str, cpu: str, fpu_flags: tuple[str, ...], extra_flags: tuple[str, ...] = ()) -> Platform:
    return Platform(
        name=board,
        compiler=("clang-16", f"--target={target}", f"-mcpu={cpu}", *fpu_flags, "-mfloat-abi=hard"),
        compile_flags=(*BARE_METAL_FLAGS, "-fdata-sections", *extra_flags),
        link_flags=("-nostdlib", "-fuse-ld=lld", f"-L{RUNTIME_DIR}", f"-T{RUNTIME_DIR / board}.ld"),
        runtime=("cortex_m_startup.c", "cortex_m_semihost.c", "cortex_m_libc.c"),
        emulator=(
            "qemu-system-arm",
            *("-M", board, "-display", "none", "-monitor", "none", "-serial", "none"),
            *("-semihosting-config", "enable=on,target=native", "-kernel"),
        ),
        tools=CLANG,
        emulator_tools=(("qemu-system-arm", "qemu-system-arm"),),
    )


PLATFORMS: dict[str, Platform] = {
    "host": Platform(name="host", compiler=(), link_flags=("-lm",)),
    "linux-aarch64": Platform(
        name="linux-aarch64",
        compiler=("aarch64-linux-gnu-gcc",),
        link_flags=("-static", "-lm"),
        emulator=("qemu-aarch64",),
        tools=(
            ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
            ("/usr/aarch64-linux-gnu/lib/libc.a", "libc6-dev-arm64-cross"),
        ),
        emulator_tools=(("qemu-aarch64", "qemu-user"),),
    ),
    "linux-riscv64": Platform(
        name="linux-riscv64",
        compiler=("clang-16", "--target=riscv64-linux-gnu", "-march=rv64gcv"),
        link_flags=("-static", "-fuse-ld=lld", "-lm"),
        emulator=("qemu-riscv64", "-cpu", "rv64,v=true,vlen={vlen},vext_spec=v1.0"),
        tools=(
            *CLANG,
            ("/usr/riscv64-linux-gnu/lib/libc.a", "libc6-dev-riscv64-cross"),
            ("/usr/lib/gcc-cross/riscv64-linux-gnu/12/libgcc.a", "libgcc-12-dev-riscv64-cross"),
        ),
        emulator_tools=(("qemu-riscv64", "qemu-user"),),
        default_vlen=128,
    ),
    "mps2-an386": _cortex_m("mps2-an386", "thumbv7em-none-eabihf", "cortex-m4", ("-mfpu=fpv4-sp-d16",)),
    # qemu's Cortex-M7 has the double-precision FPv5 (fpv5-d16, not fpv5-sp-d16)
    "mps2-an500": _cortex_m("mps2-an500", "thumbv7em-none-eabihf", "cortex-m7", ("-mfpu=fpv5-d16",)),
    # -mcpu=cortex-m55 alone gives MVE with floats (__ARM_FEATURE_MVE == 3) and the FPU
    # No MVE gather/scatter from the vectorizer: with clang-16 -O3 on qemu 7.2, layout-conversion loops
    # vectorized into scatter stores with writeback (vstrw.32 q0, [q1, #512]!) wrote or faulted at wrong
    # addresses (a 16->36 channel conv found by the random-layer tests; -O2 or this flag give right results).
    "mps3-an547": _cortex_m(
        "mps3-an547", "thumbv8.1m.main-none-eabihf", "cortex-m55", (), ("-mllvm", "-enable-arm-maskedgatscat=false")
    ),
}


def platform(name: str) -> Platform:
    """The platform called `name`, one of PLATFORMS."""
    if name not in PLATFORMS:
        raise ValueError(f"unknown platform {name!r}; known: {', '.join(PLATFORMS)}")
    return PLATFORMS[name]
