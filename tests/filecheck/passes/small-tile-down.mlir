// RUN: small-opt %s -p small-tile | filecheck %s

// A 5x2 output is narrower than a tile (W_ob = 4) and taller than one: the
// tiles run down each output column. Pixel p of a tile is p output rows down
// (pixel_stride = W_out = 2 elements along the flat rows) and reads the
// input 2 rows further (stride 2 x W_in = 8).

"memref.global"() <{sym_name = "w", type = memref<1x1x3x3x4x4xf32>, initial_value = dense<0.5> : tensor<1x1x3x3x4x4xf32>, sym_visibility = "private", constant}> : () -> ()

func.func @down(%x: memref<1x12x4x4xf32>, %y: memref<1x5x2x4xf32>) {
  %w = memref.get_global @w : memref<1x1x3x3x4x4xf32>
  small.layer "conv" %x : memref<1x12x4x4xf32> weights %w : memref<1x1x3x3x4x4xf32> into %y : memref<1x5x2x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 12, 4>, filter = array<i64: 3, 3>, strides = array<i64: 2, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 4 : i64, w_ob = 4 : i64}
  func.return
}

// CHECK-DAG:   %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:   %[[C4:[0-9]+]] = arith.constant 4 : index
// One output column at a time.
// CHECK:       scf.for %[[OW:[0-9]+]] =
// Rows 0..3 of the column: one tile of 4 pixels.
// CHECK:         %[[T:[0-9]+]] = kernel.tile : !kernel.tile<4x4xf32>
// CHECK:         kernel.fma %[[T]], %x[%[[C0]], %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}] pixel_stride 8
// CHECK:         kernel.store %[[T]], %y[%[[C0]], %[[C0]], %[[OW]], %[[C0]]] pixel_stride 2 : !kernel.tile<4x4xf32>
// Row 4: a tile of 1 pixel.
// CHECK:         kernel.tile : !kernel.tile<1x4xf32>
// CHECK:         kernel.store %{{[0-9]+}}, %y[%[[C0]], %[[C4]], %[[OW]], %[[C0]]] pixel_stride 2 : !kernel.tile<1x4xf32>
