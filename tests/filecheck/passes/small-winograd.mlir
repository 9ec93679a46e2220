// RUN: small-opt %s -p 'small-winograd{min_channels=4}' | filecheck %s --check-prefix=MARK
// RUN: small-opt %s -p 'small-winograd{min_channels=8}' | filecheck %s --check-prefix=SKIP
// RUN: small-opt %s -p 'small-winograd{min_channels=4},small-tile' | filecheck %s

// A 4->4 channel 3x3 conv on a 4x4 image, padded by 1: 2x2 output tiles of
// 2x2 pixels, computed as Winograd F(2x2, 3x3) with C_ob = 4, W_ob = 2.

"memref.global"() <{sym_name = "w", type = memref<1x1x3x3x4x4xf32>, initial_value = dense<0.5> : tensor<1x1x3x3x4x4xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "b", type = memref<1x4xf32>, initial_value = dense<0.25> : tensor<1x4xf32>, sym_visibility = "private", constant}> : () -> ()

func.func @conv(%x: memref<1x4x4x4xf32>, %y: memref<1x4x4x4xf32>) {
  %w = memref.get_global @w : memref<1x1x3x3x4x4xf32>
  %b = memref.get_global @b : memref<1x4xf32>
  small.layer "conv" %x : memref<1x4x4x4xf32> weights %w : memref<1x1x3x3x4x4xf32> bias %b : memref<1x4xf32> into %y : memref<1x4x4x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 4 : i64, w_ob = 2 : i64, clamp_min = 0.0 : f32}
  func.return
}

// MARK:     small.layer "conv"
// MARK-SAME:  winograd
// SKIP:       small.layer "conv"
// SKIP-NOT:   winograd

// The filters, transformed at compile time: [16 positions][K/Cb][F_c/Cb][Cb][Cb].
// CHECK:      "memref.global"() <{sym_name = "wino0", type = memref<16x1x1x4x4xf32>
// X, the input rows of a strip of one tile row, zero-padded (4 rows of 6
// pixels); V and M: [blocks][16 positions][2 tiles][Cb]. plan-memory puts them in the arena.
// CHECK:      %[[X:[0-9]+]] = memref.alloc() : memref<1x4x6x4xf32>
// CHECK-NEXT: %[[V:[0-9]+]] = memref.alloc() : memref<1x16x2x4xf32>
// CHECK-NEXT: %[[M:[0-9]+]] = memref.alloc() : memref<1x16x2x4xf32>
// CHECK-NEXT: %[[U:[0-9]+]] = memref.get_global @wino0
// One loop over the 2 strips.
// CHECK-NEXT: scf.for %[[STRIP:[0-9]+]] =
// The rows above the image are zero, the image rows are copied between zero columns.
// CHECK:      kernel.fill
// CHECK-NEXT: kernel.store %{{[0-9]+}}, %[[X]]
// CHECK:      kernel.load %[[ROW:[0-9]+]], %x[
// CHECK-NEXT: kernel.store %[[ROW]], %[[X]]
// V[0][0] = d[0][0] + d[2][2] - d[0][2] - d[2][0], for each window of X.
// CHECK:      kernel.load %[[T:[0-9]+]], %[[X]]
// CHECK-NEXT: kernel.add %[[T]], %[[X]]
// CHECK-NEXT: kernel.sub %[[T]], %[[X]]
// CHECK-NEXT: kernel.sub %[[T]], %[[X]]
// CHECK-NEXT: kernel.store %[[T]], %[[V]]
// 16 matrix products over the 4 input channels, a register tile of 2 output tiles.
// CHECK:      scf.for %[[POS:[0-9]+]] =
// CHECK:      kernel.fill %[[P:[0-9]+]]
// CHECK-NEXT: scf.for %[[CI:[0-9]+]] =
// CHECK-NEXT: kernel.fma %[[P]], %[[V]][%{{.*}}, %[[POS]], %{{.*}}, %[[CI]]] pixel_stride 1, %[[U]][%[[POS]], %{{.*}}, %{{.*}}, %[[CI]], %{{.*}}]
// CHECK:      kernel.store %[[P]], %[[M]]
// Output pixel (0, 0) of each tile: bias, then the 9 products of A^T M A, the relu, the store.
// CHECK:      kernel.broadcast %[[Y:[0-9]+]], %b
// CHECK-COUNT-9: kernel.add %[[Y]], %[[M]]
// CHECK:      kernel.clamp %[[Y]] {min = 0.000000e+00 : f32
// CHECK-NEXT: kernel.store %[[Y]], %y[
