/* small_ir_io.h on a hosted C library (stdio): the host, linux-aarch64, linux-riscv64. */
#include <stdio.h>

#include "small_ir_io.h"

enum { MAX_OPEN_FILES = 16 };

static FILE *open_files[MAX_OPEN_FILES];

int small_ir_open_output(const char *path) {
  for (int handle = 0; handle < MAX_OPEN_FILES; handle++) {
    if (open_files[handle] != NULL) continue;
    open_files[handle] = fopen(path, "wb");
    return open_files[handle] != NULL ? handle : -1;
  }
  return -1;
}

static FILE *file_of(int handle) {
  if (handle < 0 || handle >= MAX_OPEN_FILES) return NULL;
  return open_files[handle];
}

int small_ir_write(int handle, const void *data, unsigned long bytes) {
  FILE *file = file_of(handle);
  if (file == NULL) return -1;
  return fwrite(data, 1, bytes, file) == bytes ? 0 : -1;
}

int small_ir_close(int handle) {
  FILE *file = file_of(handle);
  if (file == NULL) return -1;
  open_files[handle] = NULL;
  return fclose(file) == 0 ? 0 : -1;
}
