// RUN: small-opt %s -p lower-kernel-to-helium | filecheck %s
// RUN: small-opt %s -p lower-kernel-to-helium -t c | filecheck %s --check-prefix=C

// The cortex-m55 3 x 8 conv tile: 6 of MVE's 8 q registers as accumulators,
// 2 weight vectors per step, vfmaq_n_f32 with the scalar input; leaky relu
// selects by an MVE predicate. Bare metal: no <math.h>.
func.func @conv(%x: memref<1x4x28x8xf32>, %w: memref<1x1x1x1x8x8xf32>, %y: memref<1x4x14x8xf32>) {
  %c0 = arith.constant 0 : index
  %t = kernel.tile : !kernel.tile<3x8xf32>
  kernel.fill %t {value = 0.0 : f32} : !kernel.tile<3x8xf32>
  kernel.fma %t, %x[%c0, %c0, %c0, %c0] pixel_stride 2, %w[%c0, %c0, %c0, %c0, %c0, %c0] : !kernel.tile<3x8xf32>, memref<1x4x28x8xf32>, memref<1x1x1x1x8x8xf32>
  kernel.leaky %t {alpha = 0.1 : f32} : !kernel.tile<3x8xf32>
  kernel.store %t, %y[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<3x8xf32>, memref<1x4x14x8xf32>
  func.return
}

// CHECK:          builtin.module attributes {c.includes = ["arm_mve.h"], c.freestanding}
// CHECK:          memref.alloca() : memref<3x2x!emitc.opaque<"float32x4_t">>
// CHECK-COUNT-2:  "vld1q_f32"
// CHECK-NOT:      "vld1q_f32"
// CHECK-COUNT-6:  "vfmaq_n_f32"
// CHECK-COUNT-6:  "vcmpgeq_n_f32"({{.*}}) : ({{.*}}) -> !emitc.opaque<"mve_pred16_t">
// CHECK-COUNT-6:  "vst1q_f32"
// CHECK-NOT:      kernel.

// C-NOT:       #include <math.h>
// C:           #include <arm_mve.h>
// C:           #define expf small_ir_expf
// C:           vfmaq_n_f32(
