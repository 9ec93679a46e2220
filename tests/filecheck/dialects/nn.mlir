// RUN: small-opt %s | small-opt | filecheck %s
// RUN: small-opt %s --print-op-generic | small-opt | filecheck %s

func.func @all_ops(%x: memref<1x3x9x9xf32>, %w: memref<8x3x3x3xf32>, %b: memref<8xf32>, %a: memref<1x8x4x4xf32>,
                   %p: memref<1x8x2x2xf32>, %g: memref<1x8x1x1xf32>, %f: memref<1x32xf32>, %wd: memref<10x32xf32>,
                   %y: memref<1x10xf32>, %c: memref<1x16x4x4xf32>) {
  nn.conv2d %x, %w, %b into %a {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : memref<1x3x9x9xf32>, memref<8x3x3x3xf32>, memref<8xf32> into memref<1x8x4x4xf32>
  nn.conv2d %x, %w into %a {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : memref<1x3x9x9xf32>, memref<8x3x3x3xf32> into memref<1x8x4x4xf32>
  nn.max_pool2d %a into %p {kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>} : memref<1x8x4x4xf32> into memref<1x8x2x2xf32>
  nn.avg_pool2d %a into %p {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, count_include_pad = false} : memref<1x8x4x4xf32> into memref<1x8x2x2xf32>
  nn.global_avg_pool %a into %g : memref<1x8x4x4xf32> into memref<1x8x1x1xf32>
  nn.relu %a into %a : memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
  nn.clip %a into %a {min = 0.0 : f32, max = 6.0 : f32} : memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
  nn.leaky_relu %a into %a {alpha = 0.1 : f32} : memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
  nn.add %a, %a into %a : memref<1x8x4x4xf32>, memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
  nn.mul %a, %a into %a : memref<1x8x4x4xf32>, memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
  nn.reshape %p into %f : memref<1x8x2x2xf32> into memref<1x32xf32>
  nn.dense %f, %wd into %y : memref<1x32xf32>, memref<10x32xf32> into memref<1x10xf32>
  nn.softmax %y into %y {axis = 1 : i64} : memref<1x10xf32> into memref<1x10xf32>
  nn.concat %a, %a into %c {axis = 1 : i64} : memref<1x8x4x4xf32>, memref<1x8x4x4xf32> into memref<1x16x4x4xf32>
  func.return
}

// CHECK:      nn.conv2d %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : memref<1x3x9x9xf32>, memref<8x3x3x3xf32>, memref<8xf32> into memref<1x8x4x4xf32>
// CHECK-NEXT: nn.conv2d %{{.*}}, %{{.*}} into %{{.*}} {{.*}} : memref<1x3x9x9xf32>, memref<8x3x3x3xf32> into memref<1x8x4x4xf32>
// CHECK-NEXT: nn.max_pool2d {{.*}}kernel_shape = array<i64: 2, 2>
// CHECK-NEXT: nn.avg_pool2d {{.*}}count_include_pad = false
// CHECK-NEXT: nn.global_avg_pool
// CHECK-NEXT: nn.relu
// CHECK-NEXT: nn.clip {{.*}}{min = 0.000000e+00 : f32, max = 6.000000e+00 : f32}
// CHECK-NEXT: nn.leaky_relu {{.*}}{alpha = 1.000000e-01 : f32}
// CHECK-NEXT: nn.add
// CHECK-NEXT: nn.mul
// CHECK-NEXT: nn.reshape {{.*}} : memref<1x8x2x2xf32> into memref<1x32xf32>
// CHECK-NEXT: nn.dense {{.*}} : memref<1x32xf32>, memref<10x32xf32> into memref<1x10xf32>
// CHECK-NEXT: nn.softmax
// CHECK-NEXT: nn.concat {{.*}} into memref<1x16x4x4xf32>
