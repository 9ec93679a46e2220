/*
 * Arm semihosting for the Cortex-M boards under qemu-system-arm
 * (-semihosting-config enable=on,target=native): small_ir_io.h, plus the
 * exit and console calls the startup uses. Operations and parameter blocks
 * follow the Arm "Semihosting for AArch32 and AArch64" specification.
 */
#include "small_ir_io.h"

enum {
  SYS_OPEN = 0x01,
  SYS_CLOSE = 0x02,
  SYS_WRITE0 = 0x04,
  SYS_WRITE = 0x05,
  SYS_EXIT = 0x18,
  SYS_EXIT_EXTENDED = 0x20,
};

enum { OPEN_MODE_WRITE_BINARY = 5 }; /* fopen's "wb" */

enum { ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN = 0x20023, ADP_STOPPED_APPLICATION_EXIT = 0x20026 };

/* On M-profile the semihosting trap is `bkpt 0xab`: operation in r0, parameter in r1, result in r0. */
int small_ir_semihost_call(int operation, const void *parameter) {
  register int r0 __asm__("r0") = operation;
  register const void *r1 __asm__("r1") = parameter;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static unsigned long string_length(const char *text) {
  unsigned long length = 0;
  while (text[length] != '\0') length++;
  return length;
}

int small_ir_open_output(const char *path) {
  const unsigned long block[3] = {(unsigned long)path, OPEN_MODE_WRITE_BINARY, string_length(path)};
  return small_ir_semihost_call(SYS_OPEN, block);
}

int small_ir_write(int handle, const void *data, unsigned long bytes) {
  const unsigned long block[3] = {(unsigned long)handle, (unsigned long)data, bytes};
  /* SYS_WRITE returns the number of bytes it did not write. */
  return small_ir_semihost_call(SYS_WRITE, block) == 0 ? 0 : -1;
}

int small_ir_close(int handle) {
  const unsigned long block[1] = {(unsigned long)handle};
  return small_ir_semihost_call(SYS_CLOSE, block) == 0 ? 0 : -1;
}

void small_ir_semihost_write0(const char *text) { small_ir_semihost_call(SYS_WRITE0, text); }

/* Ends the emulation; qemu's exit code is the status (modulo 256). */
__attribute__((noreturn)) void small_ir_semihost_exit(int status) {
  const unsigned long block[2] = {ADP_STOPPED_APPLICATION_EXIT, (unsigned long)status};
  small_ir_semihost_call(SYS_EXIT_EXTENDED, block);
  /* Only reached if the host lacks SYS_EXIT_EXTENDED: exits with 0 or 1. */
  const unsigned long reason = status == 0 ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN;
  small_ir_semihost_call(SYS_EXIT, (const void *)reason);
  for (;;) {
  }
}
