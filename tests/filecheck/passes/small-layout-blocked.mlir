// RUN: small-opt %s -p 'small-layout{c_ob=4 w_ob=2 io_layout=blocked}' | filecheck %s

// With io_layout=blocked the function's arguments are the blocked buffers:
// no layout conversion at the boundary (e.g. to time or chain compiled parts).

func.func @net(%x: memref<1x6x5x5xf32>, %y: memref<1x6x5x5xf32>) {
  small.layer "copy" %x : memref<1x6x5x5xf32> into %y : memref<1x6x5x5xf32> {g = 6 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 5, 5>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, clamp_min = 0.0 : f32}
  func.return
}

// CHECK:      func.func @net(%[[X:.*]]: memref<2x5x5x4xf32>, %[[Y:.*]]: memref<2x5x5x4xf32>) {
// CHECK-NEXT:   small.layer "copy" %[[X]] : memref<2x5x5x4xf32> into %[[Y]] : memref<2x5x5x4xf32> {{.*}}c_ob = 4 : i64, w_ob = 2 : i64
// CHECK-NOT:    small.convert
// CHECK:        func.return
