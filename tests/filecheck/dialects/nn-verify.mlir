// RUN: small-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @conv_output(%x: memref<1x3x9x9xf32>, %w: memref<8x3x3x3xf32>, %y: memref<1x8x5x4xf32>) {
  nn.conv2d %x, %w into %y {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : memref<1x3x9x9xf32>, memref<8x3x3x3xf32> into memref<1x8x5x4xf32>
  func.return
}
// CHECK: nn.conv2d: output shape 1x8x5x4 does not match the expected 1x8x4x4

// -----

func.func @conv_group(%x: memref<1x6x9x9xf32>, %w: memref<8x3x3x3xf32>, %y: memref<1x8x7x7xf32>) {
  nn.conv2d %x, %w into %y {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 4 : i64} : memref<1x6x9x9xf32>, memref<8x3x3x3xf32> into memref<1x8x7x7xf32>
  func.return
}
// CHECK: nn.conv2d: group 4 must divide the input channels 6 and output channels 8

// -----

func.func @pool_pads(%x: memref<1x8x4x4xf32>, %y: memref<1x8x4x4xf32>) {
  nn.max_pool2d %x into %y {kernel_shape = array<i64: 2, 2>, strides = array<i64: 1, 1>, pads = array<i64: 2, 0, 0, 1>, dilations = array<i64: 1, 1>} : memref<1x8x4x4xf32> into memref<1x8x4x4xf32>
  func.return
}
// CHECK: nn.max_pool2d: pads [2, 0, 0, 1] must be smaller than the kernel 2x2

// -----

func.func @dense(%x: memref<1x32xf32>, %w: memref<10x30xf32>, %y: memref<1x10xf32>) {
  nn.dense %x, %w into %y : memref<1x32xf32>, memref<10x30xf32> into memref<1x10xf32>
  func.return
}
// CHECK: nn.dense: weight must be Nx32 for a 1x32 input, got 10x30

// -----

func.func @reshape(%x: memref<1x8x2x2xf32>, %y: memref<1x30xf32>) {
  nn.reshape %x into %y : memref<1x8x2x2xf32> into memref<1x30xf32>
  func.return
}
// CHECK: nn.reshape: cannot reshape 1x8x2x2 (32 elements) to 1x30 (30 elements)
