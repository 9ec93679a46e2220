// RUN: small-opt %s | small-opt | filecheck %s
// RUN: small-opt %s --print-op-generic | small-opt | filecheck %s

func.func @f(%x: memref<1x8x8x16xf32>, %w: memref<2x1x3x3x16x16xf32>, %b: memref<2x16xf32>) {
  %c0 = arith.constant 0 : index
  %t = kernel.tile : !kernel.tile<6x16xf32>
  kernel.fill %t {value = 0.0 : f32} : !kernel.tile<6x16xf32>
  kernel.broadcast %t, %b[%c0, %c0] : !kernel.tile<6x16xf32>, memref<2x16xf32>
  kernel.fma %t, %x[%c0, %c0, %c0, %c0] pixel_stride 2, %w[%c0, %c0, %c0, %c0, %c0, %c0] : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>, memref<2x1x3x3x16x16xf32>
  kernel.load %t, %x[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>
  kernel.max %t, %x[%c0, %c0, %c0, %c0] pixel_stride 2 : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>
  kernel.add %t, %x[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>
  kernel.mul %t, %x[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>
  %f = arith.constant 0.25 : f32
  kernel.scale %t, %f : !kernel.tile<6x16xf32>
  kernel.leaky %t {alpha = 0.1 : f32} : !kernel.tile<6x16xf32>
  %t2 = kernel.tile : !kernel.tile<6x16xf32>
  kernel.add_tile %t, %t2 : !kernel.tile<6x16xf32>, !kernel.tile<6x16xf32>
  kernel.add_tile %t, %t2 {scale = -4.0 : f32} : !kernel.tile<6x16xf32>, !kernel.tile<6x16xf32>
  kernel.copy_tile %t2, %t {scale = 2.0 : f32} : !kernel.tile<6x16xf32>, !kernel.tile<6x16xf32>
  kernel.copy_tile %t2, %t : !kernel.tile<6x16xf32>, !kernel.tile<6x16xf32>
  kernel.clamp %t {min = 0.0 : f32, max = 6.0 : f32} : !kernel.tile<6x16xf32>
  kernel.lane_fma %t, %x[%c0, %c0, %c0, %c0] pixel_stride 1, %b[%c0, %c0] : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>, memref<2x16xf32>
  kernel.store %t, %x[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>
  %p = cptr.addr %b[%c0, %c0] : memref<2x16xf32> -> !emitc.ptr<f32>
  func.return
}

// CHECK:      %{{.*}} = kernel.tile : !kernel.tile<6x16xf32>
// CHECK-NEXT: kernel.fill %{{.*}} {value = 0.000000e+00 : f32} : !kernel.tile<6x16xf32>
// CHECK-NEXT: kernel.broadcast %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : !kernel.tile<6x16xf32>, memref<2x16xf32>
// CHECK-NEXT: kernel.fma %{{.*}}, %{{.*}}[{{.*}}] pixel_stride 2, %{{.*}}[{{.*}}] : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>, memref<2x1x3x3x16x16xf32>
// CHECK-NEXT: kernel.load {{.*}} pixel_stride 1
// CHECK-NEXT: kernel.max {{.*}} pixel_stride 2
// CHECK-NEXT: kernel.add
// CHECK-NEXT: kernel.mul
// CHECK:      kernel.scale
// CHECK-NEXT: kernel.leaky %{{.*}} {alpha = 1.000000e-01 : f32}
// CHECK-NEXT: %{{.*}} = kernel.tile : !kernel.tile<6x16xf32>
// CHECK-NEXT: kernel.add_tile %{{.*}}, %{{.*}} : !kernel.tile<6x16xf32>, !kernel.tile<6x16xf32>
// CHECK-NEXT: kernel.add_tile %{{.*}}, %{{.*}} {scale = -4.000000e+00 : f32} : !kernel.tile<6x16xf32>, !kernel.tile<6x16xf32>
// CHECK-NEXT: kernel.copy_tile %{{.*}}, %{{.*}} {scale = 2.000000e+00 : f32} : !kernel.tile<6x16xf32>, !kernel.tile<6x16xf32>
// CHECK-NEXT: kernel.copy_tile %{{.*}}, %{{.*}} : !kernel.tile<6x16xf32>, !kernel.tile<6x16xf32>
// CHECK-NEXT: kernel.clamp %{{.*}} {min = 0.000000e+00 : f32, max = 6.000000e+00 : f32}
// CHECK-NEXT: kernel.lane_fma
// CHECK-NEXT: kernel.store {{.*}} pixel_stride 1
// CHECK-NEXT: cptr.addr %{{.*}}[%{{.*}}, %{{.*}}] : memref<2x16xf32> -> !emitc.ptr<f32>
