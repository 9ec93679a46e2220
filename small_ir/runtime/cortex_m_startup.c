/*
 * Startup for small-ir programs on the Cortex-M boards qemu-system-arm
 * models (mps2-an386, mps2-an500, mps3-an547), with the board's linker
 * script: enables the FPU (and with it Helium on the M55), initialises
 * .data and the .bss sections, runs `int main(void)` and ends the emulation
 * through semihosting with main's return value as qemu's exit code.
 *
 * A fault (or any other exception: none is enabled) prints what happened
 * through semihosting and exits with FAULT_EXIT_STATUS, instead of hanging.
 */
#include <stddef.h>
#include <stdint.h>

enum { FAULT_EXIT_STATUS = 250 };

int main(void);
void *memcpy(void *destination, const void *source, size_t bytes);
void *memset(void *destination, int value, size_t bytes);
void small_ir_semihost_write0(const char *text);
__attribute__((noreturn)) void small_ir_semihost_exit(int status);

/* From the linker script. */
extern char __stack_top[];
extern char __data_load[], __data_start[], __data_end[];
extern char __bss_start[], __bss_end[];
extern char __large_bss_start[], __large_bss_end[];

/* System control block registers (Armv7-M and Armv8-M ARM, B3.2). */
#define CPACR (*(volatile uint32_t *)0xE000ED88u)
#define CFSR (*(volatile uint32_t *)0xE000ED28u)
#define HFSR (*(volatile uint32_t *)0xE000ED2Cu)
#define MMFAR (*(volatile uint32_t *)0xE000ED34u)
#define BFAR (*(volatile uint32_t *)0xE000ED38u)

/* Full access to coprocessors 10 and 11: the FPU, and on Armv8.1-M also MVE. */
static void enable_fpu(void) {
  CPACR |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
}

__attribute__((noreturn)) void Reset_Handler(void) {
  enable_fpu(); /* first: the compiler may use FP or vector registers anywhere after */
  memcpy(__data_start, __data_load, (size_t)(__data_end - __data_start));
  memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
  memset(__large_bss_start, 0, (size_t)(__large_bss_end - __large_bss_start));
  small_ir_semihost_exit(main());
}

static const char *exception_name(uint32_t number) {
  switch (number) {
  case 2: return "NMI";
  case 3: return "HardFault";
  case 4: return "MemManage fault";
  case 5: return "BusFault";
  case 6: return "UsageFault";
  case 7: return "SecureFault";
  case 11: return "SVCall";
  case 12: return "DebugMonitor";
  case 14: return "PendSV";
  case 15: return "SysTick";
  default: return "interrupt";
  }
}

static char *append(char *end, const char *text) {
  while (*text != '\0') *end++ = *text++;
  return end;
}

static char *append_hex(char *end, uint32_t value) {
  end = append(end, "0x");
  for (int shift = 28; shift >= 0; shift -= 4) *end++ = "0123456789abcdef"[(value >> shift) & 0xFu];
  return end;
}

/* `frame` is the exception stack frame: r0-r3, r12, lr, pc, xpsr. */
__attribute__((used, noreturn)) void small_ir_report_fault(const uint32_t *frame, uint32_t exception_number) {
  static char message[256];
  char *end = append(message, "small-ir: ");
  end = append(end, exception_name(exception_number));
  end = append(end, " at pc ");
  end = append_hex(end, frame[6]);
  end = append(end, " (CFSR ");
  end = append_hex(end, CFSR);
  end = append(end, ", HFSR ");
  end = append_hex(end, HFSR);
  end = append(end, ", MMFAR ");
  end = append_hex(end, MMFAR);
  end = append(end, ", BFAR ");
  end = append_hex(end, BFAR);
  end = append(end, ")\n");
  *end = '\0';
  small_ir_semihost_write0(message);
  small_ir_semihost_exit(FAULT_EXIT_STATUS);
}

__attribute__((naked)) void Fault_Handler(void) {
  __asm__ volatile("mrs r0, msp\n\t"
                   "mrs r1, ipsr\n\t"
                   "b small_ir_report_fault");
}

typedef void (*Handler)(void);

/* Exceptions 0-15; no interrupt is ever enabled. */
__attribute__((section(".vectors"), used)) const Handler small_ir_vectors[16] = {
    (Handler)__stack_top, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler,        Fault_Handler, 0,             0,             0,             Fault_Handler,
    Fault_Handler,        0,             Fault_Handler, Fault_Handler,
};
