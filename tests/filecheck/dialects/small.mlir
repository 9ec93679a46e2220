// RUN: small-opt %s | small-opt | filecheck %s
// RUN: small-opt %s --print-op-generic | small-opt | filecheck %s

func.func @f(%x: memref<1x9x9x16xf32>, %w: memref<1x1x3x3x16x16xf32>, %b: memref<1x16xf32>, %y: memref<1x4x4x16xf32>) {
  small.layer "conv" %x : memref<1x9x9x16xf32> weights %w : memref<1x1x3x3x16x16xf32> bias %b : memref<1x16xf32> into %y : memref<1x4x4x16xf32> {g = 1 : i64, k = 8 : i64, f_c = 3 : i64, in_hw = array<i64: 9, 9>, filter = array<i64: 3, 3>, strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 0, 0>, c_ob = 16 : i64, w_ob = 6 : i64, clamp_min = 0.0 : f32, clamp_max = 6.0 : f32}
  small.layer "copy" %y : memref<1x4x4x16xf32> other %y : memref<1x4x4x16xf32> into %y : memref<1x4x4x16xf32> {g = 8 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 16 : i64, w_ob = 6 : i64, combine = "add"}
  func.return
}

func.func @data(%x: memref<1x3x8x8xf32>, %b: memref<1x8x8x16xf32>, %s: memref<1x1x1x16xf32>) {
  small.convert %x into %b {src_channels = 3 : i64, src_block = 0 : i64, dst_channels = 3 : i64, dst_block = 16 : i64} : memref<1x3x8x8xf32> into memref<1x8x8x16xf32>
  small.softmax %s into %s {channels = 10 : i64, c_ob = 16 : i64} : memref<1x1x1x16xf32> into memref<1x1x1x16xf32>
  small.concat %b, %b into %b {channels = array<i64: 1, 2>, c_ob = 16 : i64} : memref<1x8x8x16xf32>, memref<1x8x8x16xf32> into memref<1x8x8x16xf32>
  func.return
}

// CHECK:      small.layer "conv" %{{.*}} : memref<1x9x9x16xf32> weights %{{.*}} : memref<1x1x3x3x16x16xf32> bias %{{.*}} : memref<1x16xf32> into %{{.*}} : memref<1x4x4x16xf32> {g = 1 : i64, k = 8 : i64, f_c = 3 : i64, in_hw = array<i64: 9, 9>, filter = array<i64: 3, 3>, strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 0, 0>, c_ob = 16 : i64, w_ob = 6 : i64, clamp_min = 0.000000e+00 : f32, clamp_max = 6.000000e+00 : f32}
// CHECK-NEXT: small.layer "copy" %{{.*}} : memref<1x4x4x16xf32> other %{{.*}} : memref<1x4x4x16xf32> into %{{.*}} : memref<1x4x4x16xf32> {{.*}}combine = "add"}
// CHECK:      small.convert %{{.*}} into %{{.*}} {src_channels = 3 : i64, src_block = 0 : i64, dst_channels = 3 : i64, dst_block = 16 : i64}
// CHECK-NEXT: small.softmax %{{.*}} into %{{.*}} {channels = 10 : i64, c_ob = 16 : i64}
// CHECK-NEXT: small.concat %{{.*}}, %{{.*}} into %{{.*}} {channels = array<i64: 1, 2>, c_ob = 16 : i64}
