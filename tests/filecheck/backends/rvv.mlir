// RUN: small-opt %s -p lower-kernel-to-rvv | filecheck %s
// RUN: small-opt %s -p lower-kernel-to-rvv -t c | filecheck %s --check-prefix=C

// The rvv 7 x 16 conv tile: 7 LMUL=4 accumulator groups, one weight group per
// step, and per pixel vfmacc.vf with the scalar input; every intrinsic takes
// vl = 16 (C_ob), whatever the VLEN.
func.func @conv(%x: memref<1x4x28x16xf32>, %w: memref<1x1x1x1x16x16xf32>, %y: memref<1x4x14x16xf32>) {
  %c0 = arith.constant 0 : index
  %t = kernel.tile : !kernel.tile<7x16xf32>
  kernel.fill %t {value = 0.0 : f32} : !kernel.tile<7x16xf32>
  kernel.fma %t, %x[%c0, %c0, %c0, %c0] pixel_stride 2, %w[%c0, %c0, %c0, %c0, %c0, %c0] : !kernel.tile<7x16xf32>, memref<1x4x28x16xf32>, memref<1x1x1x1x16x16xf32>
  kernel.leaky %t {alpha = 0.1 : f32} : !kernel.tile<7x16xf32>
  kernel.store %t, %y[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<7x16xf32>, memref<1x4x14x16xf32>
  func.return
}

// CHECK:          c.includes = ["riscv_vector.h"]
// CHECK:          memref.alloca() : memref<7x1x!emitc.opaque<"vfloat32m4_t">>
// CHECK-COUNT-1:  "__riscv_vle32_v_f32m4"
// CHECK-NOT:      "__riscv_vle32_v_f32m4"
// CHECK-COUNT-7:  "__riscv_vfmacc_vf_f32m4"
// CHECK-COUNT-7:  "__riscv_vmfge_vf_f32m4_b8"({{.*}}) : ({{.*}}) -> !emitc.opaque<"vbool8_t">
// CHECK-COUNT-7:  "__riscv_vse32_v_f32m4"
// CHECK-NOT:      kernel.

// C:           #include <riscv_vector.h>
// C:           __riscv_vle32_v_f32m4(&w[0], 16);
// C:           __riscv_vfmacc_vf_f32m4({{[a-z0-9_]+}}, {{[a-z0-9_]+}}, {{[a-z0-9_]+}}, 16);
