// RUN: small-opt %s -p lower-kernel-to-neon | filecheck %s
// RUN: small-opt %s -p lower-kernel-to-neon -t c | filecheck %s --check-prefix=C

// The neon 6 x 16 conv tile: 24 float32x4_t accumulators, 4 weight vectors per
// step, and per pixel one scalar input times each of them (vfmaq_n_f32);
// leaky relu selects by vcgezq_f32.
func.func @conv(%x: memref<1x4x28x16xf32>, %w: memref<1x1x1x1x16x16xf32>, %y: memref<1x4x14x16xf32>) {
  %c0 = arith.constant 0 : index
  %t = kernel.tile : !kernel.tile<6x16xf32>
  kernel.fill %t {value = 0.0 : f32} : !kernel.tile<6x16xf32>
  kernel.fma %t, %x[%c0, %c0, %c0, %c0] pixel_stride 2, %w[%c0, %c0, %c0, %c0, %c0, %c0] : !kernel.tile<6x16xf32>, memref<1x4x28x16xf32>, memref<1x1x1x1x16x16xf32>
  kernel.leaky %t {alpha = 0.1 : f32} : !kernel.tile<6x16xf32>
  kernel.store %t, %y[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<1x4x14x16xf32>
  func.return
}

// CHECK:          c.includes = ["arm_neon.h"]
// CHECK:          memref.alloca() : memref<6x4x!emitc.opaque<"float32x4_t">>
// CHECK-COUNT-4:  "vld1q_f32"
// CHECK-NOT:      "vld1q_f32"
// CHECK-COUNT-24: "vfmaq_n_f32"
// CHECK-COUNT-24: "vcgezq_f32"({{.*}}) : ({{.*}}) -> !emitc.opaque<"uint32x4_t">
// CHECK-COUNT-24: "vst1q_f32"
// CHECK-NOT:      kernel.

// C:           #include <arm_neon.h>
// C:           const float [[X0:[a-z0-9_]+]] = x[0];
// C:           vfmaq_n_f32({{[a-z0-9_]+}}, {{[a-z0-9_]+}}, [[X0]]);

// Winograd's sums of tiles: +-1 adds and subtracts, other factors a scalar FMA
// (vfmaq_n_f32) or, for a copy, a multiply by a splat.
func.func @sums(%x: memref<1x1x2x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d = kernel.tile : !kernel.tile<1x16xf32>
  kernel.load %d, %x[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<1x16xf32>, memref<1x1x2x16xf32>
  %e = kernel.tile : !kernel.tile<1x16xf32>
  kernel.copy_tile %e, %d : !kernel.tile<1x16xf32>, !kernel.tile<1x16xf32>
  kernel.add_tile %e, %d {scale = -1.0 : f32} : !kernel.tile<1x16xf32>, !kernel.tile<1x16xf32>
  kernel.add_tile %e, %d {scale = -4.0 : f32} : !kernel.tile<1x16xf32>, !kernel.tile<1x16xf32>
  kernel.add_tile %e, %d : !kernel.tile<1x16xf32>, !kernel.tile<1x16xf32>
  kernel.copy_tile %e, %d {scale = 2.0 : f32} : !kernel.tile<1x16xf32>, !kernel.tile<1x16xf32>
  kernel.store %e, %x[%c0, %c0, %c1, %c0] pixel_stride 1 : !kernel.tile<1x16xf32>, memref<1x1x2x16xf32>
  func.return
}

// CHECK-LABEL:  func.func @sums
// CHECK:         %[[FACTOR:[0-9]+]] = arith.constant -4.000000e+00 : f32
// CHECK-COUNT-4: "vsubq_f32"
// CHECK-COUNT-4: "vfmaq_n_f32"({{.*}}, %[[FACTOR]])
// CHECK-COUNT-4: "vaddq_f32"
// CHECK:         "vdupq_n_f32"
// CHECK-COUNT-4: "vmulq_f32"
