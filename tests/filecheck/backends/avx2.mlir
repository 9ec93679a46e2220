// RUN: small-opt %s -p lower-kernel-to-avx2 | filecheck %s
// RUN: small-opt %s -p lower-kernel-to-avx2 | filecheck %s --check-prefix=BCAST
// RUN: small-opt %s -p lower-kernel-to-avx2 | filecheck %s --check-prefix=FMADD
// RUN: small-opt %s -p lower-kernel-to-avx2 -t c | filecheck %s --check-prefix=C

// lower-kernel-to-avx2: a W_ob x 16 tile is W_ob x 2 __m256 accumulators. A
// rank-1 update loads the 2 weight vectors once, then per pixel broadcasts one
// input value and issues 2 FMAs: for 6 x 16, 2 loads, 6 broadcasts, 12 FMAs.

// CHECK: builtin.module attributes {c.includes = ["immintrin.h"]}
// CHECK-NOT: kernel.

func.func @conv6x16(%x: memref<1x1x12x16xf32>, %w: memref<1x1x1x1x16x16xf32>, %y: memref<1x1x6x16xf32>) {
  %c0 = arith.constant 0 : index
  %c3 = arith.constant 3 : index
  %t = kernel.tile : !kernel.tile<6x16xf32>
  kernel.fill %t {value = 0.0 : f32} : !kernel.tile<6x16xf32>
  kernel.fma %t, %x[%c0, %c0, %c0, %c3] pixel_stride 2, %w[%c0, %c0, %c0, %c0, %c3, %c0] : !kernel.tile<6x16xf32>, memref<1x1x12x16xf32>, memref<1x1x1x1x16x16xf32>
  kernel.store %t, %y[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<1x1x6x16xf32>
  func.return
}

// CHECK-LABEL: func.func @conv6x16(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x1x12x16xf32>, %[[W:[a-z0-9_]+]]: memref<1x1x1x1x16x16xf32>, %[[Y:[a-z0-9_]+]]: memref<1x1x6x16xf32>)
// CHECK:         %[[T:[a-z0-9_]+]] = memref.alloca() : memref<6x2x!emitc.opaque<"__m256">>
// fill 0: one zero vector stored into the 12 accumulators.
// CHECK-NEXT:    %[[ZERO:[a-z0-9_]+]] = emitc.call_opaque "_mm256_setzero_ps"() : () -> !emitc.opaque<"__m256">
// CHECK-COUNT-12: memref.store %[[ZERO]], %[[T]][%{{.*}}, %{{.*}}] : memref<6x2x!emitc.opaque<"__m256">>
// The fma: lanes 0..7 and 8..15 of the weight row of input channel 3.
// Loads take read-only addresses ({read_only}: the C keeps an input const).
// CHECK:         %[[WP0:[a-z0-9_]+]] = cptr.addr %[[W]][%{{.*}}] {read_only} : memref<1x1x1x1x16x16xf32> -> !emitc.ptr<f32>
// CHECK-NEXT:    %[[W0:[a-z0-9_]+]] = emitc.call_opaque "_mm256_loadu_ps"(%[[WP0]]) : (!emitc.ptr<f32>) -> !emitc.opaque<"__m256">
// CHECK:         %[[WP1:[a-z0-9_]+]] = cptr.addr %[[W]][%{{.*}}] {read_only} : memref<1x1x1x1x16x16xf32> -> !emitc.ptr<f32>
// CHECK-NEXT:    %[[W1:[a-z0-9_]+]] = emitc.call_opaque "_mm256_loadu_ps"(%[[WP1]]) : (!emitc.ptr<f32>) -> !emitc.opaque<"__m256">
// Then per pixel: broadcast one input value and accumulate it into both
// vectors of the pixel's row (pixel 0 shown; BCAST and FMADD count them all).
// CHECK-NEXT:    %[[XP:[a-z0-9_]+]] = cptr.addr %[[X]][%{{.*}}] {read_only} : memref<1x1x12x16xf32> -> !emitc.ptr<f32>
// CHECK-NEXT:    %[[XB:[a-z0-9_]+]] = emitc.call_opaque "_mm256_broadcast_ss"(%[[XP]]) : (!emitc.ptr<f32>) -> !emitc.opaque<"__m256">
// CHECK:         %[[ACC0:[a-z0-9_]+]] = memref.load %[[T]]
// CHECK-NEXT:    %[[R0:[a-z0-9_]+]] = emitc.call_opaque "_mm256_fmadd_ps"(%[[XB]], %[[W0]], %[[ACC0]])
// CHECK:         memref.store %[[R0]], %[[T]]
// CHECK:         %[[ACC1:[a-z0-9_]+]] = memref.load %[[T]]
// CHECK-NEXT:    %[[R1:[a-z0-9_]+]] = emitc.call_opaque "_mm256_fmadd_ps"(%[[XB]], %[[W1]], %[[ACC1]])
// CHECK:         memref.store %[[R1]], %[[T]]
// The weights are not reloaded for the other pixels.
// CHECK-NOT:     _mm256_loadu_ps
// The store: 12 vectors.
// CHECK-COUNT-12: emitc.call_opaque "_mm256_storeu_ps"(%{{.*}}, %{{.*}}) : (!emitc.ptr<f32>, !emitc.opaque<"__m256">) -> ()
// CHECK-NOT:     _mm256_storeu_ps
// CHECK:         func.return

// BCAST-LABEL: func.func @conv6x16(
// BCAST-COUNT-6: "_mm256_broadcast_ss"
// BCAST-NOT:     "_mm256_broadcast_ss"
// BCAST-LABEL: func.func @epilogue(

// FMADD-LABEL: func.func @conv6x16(
// FMADD-COUNT-2: "_mm256_loadu_ps"
// FMADD-NOT:     "_mm256_loadu_ps"
// FMADD-COUNT-12: "_mm256_fmadd_ps"
// FMADD-NOT:     "_mm256_{{fmadd|loadu}}_ps"
// FMADD-LABEL: func.func @epilogue(

// Bias broadcast (one vector load shared by all pixels), max pooling at pixel
// stride 2, relu6, on a 2 x 8 tile: one vector per pixel.
func.func @epilogue(%x: memref<1x1x4x8xf32>, %b: memref<1x8xf32>, %y: memref<1x1x4x8xf32>) {
  %c0 = arith.constant 0 : index
  %t = kernel.tile : !kernel.tile<2x8xf32>
  kernel.broadcast %t, %b[%c0, %c0] : !kernel.tile<2x8xf32>, memref<1x8xf32>
  kernel.max %t, %x[%c0, %c0, %c0, %c0] pixel_stride 2 : !kernel.tile<2x8xf32>, memref<1x1x4x8xf32>
  kernel.clamp %t {min = 0.0 : f32, max = 6.0 : f32} : !kernel.tile<2x8xf32>
  kernel.store %t, %y[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<2x8xf32>, memref<1x1x4x8xf32>
  func.return
}

// CHECK-LABEL: func.func @epilogue(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x1x4x8xf32>, %[[B:[a-z0-9_]+]]: memref<1x8xf32>, %[[Y:[a-z0-9_]+]]: memref<1x1x4x8xf32>)
// CHECK:         %[[T:[a-z0-9_]+]] = memref.alloca() : memref<2x1x!emitc.opaque<"__m256">>
// CHECK-NEXT:    %[[BP:[a-z0-9_]+]] = cptr.addr %[[B]]
// CHECK-NEXT:    %[[BV:[a-z0-9_]+]] = emitc.call_opaque "_mm256_loadu_ps"(%[[BP]])
// CHECK-COUNT-2: memref.store %[[BV]], %[[T]]
// CHECK-COUNT-2: "_mm256_max_ps"
// CHECK:         %[[LO:[a-z0-9_]+]] = emitc.call_opaque "_mm256_setzero_ps"
// CHECK:         %[[HI:[a-z0-9_]+]] = emitc.call_opaque "_mm256_set1_ps"
// CHECK-COUNT-2: "_mm256_min_ps"({{.*}}%[[HI]]{{.*}})
// CHECK-COUNT-2: "_mm256_storeu_ps"
// CHECK:         func.return

// The emitted code includes the intrinsics header, and the tile lives in 12
// scalar __m256 locals (never an array, so it can stay in registers).
// C:           #include <math.h>
// C-NEXT:      #include <immintrin.h>
// C:           void conv6x16(
// C-COUNT-12:    __m256 [[T:[a-z0-9_]+]]_{{[0-5]}}_{{[01]}};
// C-NEXT:        const __m256 [[ZERO:[a-z0-9_]+]] = _mm256_setzero_ps();
// C-NEXT:        [[T]]_0_0 = [[ZERO]];
// C-NOT:         [[T]][
// The weight row of input channel 3: elements 48..55 and 56..63.
// C:             = _mm256_loadu_ps(&{{[a-z0-9_]+}}[48]);
// C-NEXT:        = _mm256_loadu_ps(&{{[a-z0-9_]+}}[56]);
// Pixel p reads input column 2p: elements 3, 35, 67, 99, 131, 163.
// C-NEXT:        = _mm256_broadcast_ss(&{{[a-z0-9_]+}}[3]);
// C:             = _mm256_broadcast_ss(&{{[a-z0-9_]+}}[35]);
// C:             = _mm256_broadcast_ss(&{{[a-z0-9_]+}}[67]);
// C:             = _mm256_broadcast_ss(&{{[a-z0-9_]+}}[99]);
// C:             = _mm256_broadcast_ss(&{{[a-z0-9_]+}}[131]);
// C:             = _mm256_broadcast_ss(&{{[a-z0-9_]+}}[163]);
// C:             [[T]]_5_1 = {{[a-z0-9_]+}};
// C-NOT:         [[T]][
// C:             _mm256_storeu_ps(&{{[a-z0-9_]+}}[0], {{[a-z0-9_]+}});
// C:           void epilogue(
// C-NOT:       malloc
