// RUN: small-opt %s -p lower-kernel-to-avx512 | filecheck %s
// RUN: small-opt %s -p lower-kernel-to-avx512 -t c | filecheck %s --check-prefix=C

// A 14 x 16 conv tile: 14 __m512 accumulators, one weight vector per step,
// a broadcast and one FMA per pixel; leaky relu through a compare mask.
func.func @conv14x16(%x: memref<1x4x28x16xf32>, %w: memref<1x1x1x1x16x16xf32>, %y: memref<1x4x14x16xf32>) {
  %c0 = arith.constant 0 : index
  %t = kernel.tile : !kernel.tile<14x16xf32>
  kernel.fill %t {value = 0.0 : f32} : !kernel.tile<14x16xf32>
  kernel.fma %t, %x[%c0, %c0, %c0, %c0] pixel_stride 2, %w[%c0, %c0, %c0, %c0, %c0, %c0] : !kernel.tile<14x16xf32>, memref<1x4x28x16xf32>, memref<1x1x1x1x16x16xf32>
  kernel.leaky %t {alpha = 0.1 : f32} : !kernel.tile<14x16xf32>
  kernel.store %t, %y[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<14x16xf32>, memref<1x4x14x16xf32>
  func.return
}

// CHECK:         c.includes = ["immintrin.h"]
// CHECK:         memref.alloca() : memref<14x1x!emitc.opaque<"__m512">>
// CHECK-COUNT-1: "_mm512_loadu_ps"
// CHECK-NOT:     "_mm512_loadu_ps"
// CHECK-COUNT-14: "_mm512_fmadd_ps"
// CHECK-COUNT-14: "_mm512_cmp_ps_mask"({{.*}}) : ({{.*}}) -> !emitc.opaque<"__mmask16">
// CHECK-COUNT-14: "_mm512_storeu_ps"
// CHECK-NOT:     kernel.

// C:           #include <immintrin.h>
// C:           void conv14x16(
// C-COUNT-14:    __m512 {{[a-z0-9_]+}}_{{[0-9]+}}_0;
// C:             const float [[X0:[a-z0-9_]+]] = x[0];
// C-NEXT:        _mm512_set1_ps([[X0]]);
// C:             _mm512_fmadd_ps(
// C:             const __mmask16 {{[a-z0-9_]+}} = _mm512_cmp_ps_mask({{.*}}, 29);
// C:             _mm512_mask_blend_ps(
