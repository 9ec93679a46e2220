// RUN: small-opt %s -p 'small-layout{c_ob=4 w_ob=2 io_layout=nhwc}' | filecheck %s

// With io_layout=nhwc the function's 4-D arguments become 1xHxWxC and the
// boundary conversions read and write NHWC; 2-D arguments are unchanged.

func.func @net(%x: memref<1x3x5x6xf32>, %y: memref<1x3x5x6xf32>) {
  small.layer "copy" %x : memref<1x3x5x6xf32> into %y : memref<1x3x5x6xf32> {g = 3 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 5, 6>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, clamp_min = 0.0 : f32}
  func.return
}

// CHECK:      func.func @net(%[[X:.*]]: memref<1x5x6x3xf32>, %[[Y:.*]]: memref<1x5x6x3xf32>) {
// CHECK-NEXT:   %[[IN:.*]] = memref.alloc() : memref<1x5x6x4xf32>
// CHECK-NEXT:   small.convert %[[X]] into %[[IN]] {src_channels = 3 : i64, src_block = 0 : i64, dst_channels = 3 : i64, dst_block = 4 : i64, nhwc} : memref<1x5x6x3xf32> into memref<1x5x6x4xf32>
// CHECK:        small.convert %{{.*}} into %[[Y]] {src_channels = 3 : i64, src_block = 4 : i64, dst_channels = 3 : i64, dst_block = 0 : i64, nhwc} : memref<1x5x6x4xf32> into memref<1x5x6x3xf32>
// CHECK-NEXT:   func.return
