// RUN: small-opt %s -p lower-kernel-to-armv7em | filecheck %s
// RUN: small-opt %s -p lower-kernel-to-armv7em -t c | filecheck %s --check-prefix=C

// The cortex-m4/m7 6 x 4 tile: the scalar kernel's loops on a float[6][4]
// (float[24] in C) that the C compiler unrolls into s registers. Bare metal: no <math.h>.
func.func @conv(%x: memref<1x4x28x4xf32>, %w: memref<1x1x1x1x4x4xf32>, %y: memref<1x4x14x4xf32>) {
  %c0 = arith.constant 0 : index
  %t = kernel.tile : !kernel.tile<6x4xf32>
  kernel.fill %t {value = 0.0 : f32} : !kernel.tile<6x4xf32>
  kernel.fma %t, %x[%c0, %c0, %c0, %c0] pixel_stride 2, %w[%c0, %c0, %c0, %c0, %c0, %c0] : !kernel.tile<6x4xf32>, memref<1x4x28x4xf32>, memref<1x1x1x1x4x4xf32>
  kernel.leaky %t {alpha = 0.1 : f32} : !kernel.tile<6x4xf32>
  kernel.store %t, %y[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<6x4xf32>, memref<1x4x14x4xf32>
  func.return
}

// CHECK:          builtin.module attributes {c.freestanding}
// CHECK:          memref.alloca() : memref<6x4xf32>
// CHECK-NOT:      kernel.

// C-NOT:       #include <math.h>
// C:           #define INFINITY __builtin_inff()
// C:           float {{[a-z0-9_]+}}[24];
