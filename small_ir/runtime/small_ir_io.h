/*
 * The I/O a small-ir test or benchmark harness uses, the same on every
 * platform: hosted_io.c implements it with stdio (host, linux-aarch64,
 * linux-riscv64), cortex_m_semihost.c with Arm semihosting (the Cortex-M
 * boards under qemu-system-arm, which writes the files on the host).
 *
 * A relative path is relative to the working directory of the run, which
 * small_ir.platforms runs in the directory of the executable.
 */
#ifndef SMALL_IR_IO_H
#define SMALL_IR_IO_H

/* Opens a binary file for writing (created or truncated): a handle >= 0, or -1. */
int small_ir_open_output(const char *path);

/* Writes all the bytes: 0 on success. */
int small_ir_write(int handle, const void *data, unsigned long bytes);

/* 0 on success. */
int small_ir_close(int handle);

/*
 * Puts a big zero-initialised static buffer (an arena, a benchmark's
 * outputs) in the largest RAM of the board, e.g.
 *     static float arena[65536] SMALL_IR_LARGE_BSS;
 * On the Cortex-M boards the linker scripts place these sections in the
 * board's biggest RAM (PSRAM or DDR) and the startup zeroes them; on Linux
 * they are ordinary .bss.
 */
#define SMALL_IR_LARGE_BSS __attribute__((section(".bss.small_ir_large")))

#endif
