/*
 * The only C library functions a small-ir program gets on the Cortex-M
 * boards: compilers emit calls to these even in freestanding code (struct
 * copies, zeroing loops). Compiled with the program's flags; the loops are
 * byte loops, which the compiler vectorises where it can.
 */
#include <stddef.h>

void *memcpy(void *restrict destination, const void *restrict source, size_t bytes) {
  unsigned char *to = destination;
  const unsigned char *from = source;
  for (size_t i = 0; i < bytes; i++) to[i] = from[i];
  return destination;
}

void *memset(void *destination, int value, size_t bytes) {
  unsigned char *to = destination;
  for (size_t i = 0; i < bytes; i++) to[i] = (unsigned char)value;
  return destination;
}

void *memmove(void *destination, const void *source, size_t bytes) {
  unsigned char *to = destination;
  const unsigned char *from = source;
  if (to < from) {
    for (size_t i = 0; i < bytes; i++) to[i] = from[i];
  } else {
    for (size_t i = bytes; i > 0; i--) to[i - 1] = from[i - 1];
  }
  return destination;
}
