// RUN: small-opt %s -p 'small-winograd{min_channels=4 max_stride=2}' | filecheck %s --check-prefix=MARK
// RUN: small-opt %s -p 'small-winograd{min_channels=4}' | filecheck %s --check-prefix=STRIDE1
// RUN: small-opt %s -p 'small-winograd{min_channels=8}' | filecheck %s --check-prefix=SKIP
// RUN: small-opt %s -p 'small-winograd{min_channels=4},small-tile' | filecheck %s
// RUN: small-opt %s -p 'small-winograd{min_channels=4},small-tile' | filecheck %s --check-prefix=F4
// RUN: small-opt %s -p 'small-winograd{min_channels=4 max_tile=2}' | filecheck %s --check-prefix=MAX2
// RUN: small-opt %s -p 'small-winograd{min_channels=4 max_stride=2},small-tile' | filecheck %s --check-prefix=S2

// A 4->4 channel 3x3 conv on a 4x4 image, padded by 1: 2x2 output tiles of
// 2x2 pixels, computed as Winograd F(2x2, 3x3) with C_ob = 4, W_ob = 2 (one
// 4x4 tile is fewer than min_tiles = 4). On an 8x8 image, 2x2 tiles of 4x4
// pixels are enough: F(4x4, 3x3).

"memref.global"() <{sym_name = "w", type = memref<1x1x3x3x4x4xf32>, initial_value = dense<0.5> : tensor<1x1x3x3x4x4xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "b", type = memref<1x4xf32>, initial_value = dense<0.25> : tensor<1x4xf32>, sym_visibility = "private", constant}> : () -> ()

func.func @conv(%x: memref<1x4x4x4xf32>, %y: memref<1x4x4x4xf32>) {
  %w = memref.get_global @w : memref<1x1x3x3x4x4xf32>
  %b = memref.get_global @b : memref<1x4xf32>
  small.layer "conv" %x : memref<1x4x4x4xf32> weights %w : memref<1x1x3x3x4x4xf32> bias %b : memref<1x4xf32> into %y : memref<1x4x4x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 4 : i64, w_ob = 2 : i64, clamp_min = 0.0 : f32}
  func.return
}

func.func @conv8(%x: memref<1x8x8x4xf32>, %y: memref<1x8x8x4xf32>) {
  %w = memref.get_global @w : memref<1x1x3x3x4x4xf32>
  small.layer "conv" %x : memref<1x8x8x4xf32> weights %w : memref<1x1x3x3x4x4xf32> into %y : memref<1x8x8x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 8, 8>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 4 : i64, w_ob = 2 : i64}
  func.return
}

// A stride-2 conv on a 16x16 image: 8x8 outputs, 2x2 tiles of 4x4, computed
// as F(4x4, 2x2) on the four phases of its input with max_stride=2 (by
// default, max_stride=1, it stays a direct conv).
func.func @conv_s2(%x: memref<1x16x16x4xf32>, %y: memref<1x8x8x4xf32>) {
  %w = memref.get_global @w : memref<1x1x3x3x4x4xf32>
  small.layer "conv" %x : memref<1x16x16x4xf32> weights %w : memref<1x1x3x3x4x4xf32> into %y : memref<1x8x8x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 16, 16>, filter = array<i64: 3, 3>, strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 4 : i64, w_ob = 2 : i64}
  func.return
}

// MARK:       small.layer "conv"
// MARK-SAME:    winograd = 2 : i64
// MARK:       small.layer "conv"
// MARK-SAME:    winograd = 4 : i64
// MARK:       small.layer "conv"
// MARK-SAME:    strides = array<i64: 2, 2>
// MARK-SAME:    winograd = 4 : i64
// STRIDE1:     strides = array<i64: 2, 2>
// STRIDE1-NOT: winograd
// MAX2-COUNT-2: winograd = 2 : i64
// MAX2-NOT:     winograd
// SKIP:       small.layer "conv"
// SKIP-NOT:   winograd

// The filters, transformed at compile time: [16 positions][K/Cb][F_c/Cb][Cb][Cb].
// CHECK:      "memref.global"() <{sym_name = "wino2x2_0", type = memref<16x1x1x4x4xf32>
// X, the input rows of a strip of one tile row, zero-padded (4 rows of 6
// pixels); V and M: [blocks][16 positions][2 tiles][Cb]; T and S, one tile's
// halfway transforms B^T d [4][4][Cb] and A^T M [2][4][Cb]. plan-memory puts them in the arena.
// CHECK-LABEL: func.func @conv(
// CHECK:      %[[X:[0-9]+]] = memref.alloc() : memref<1x4x6x4xf32>
// CHECK-NEXT: %[[V:[0-9]+]] = memref.alloc() : memref<1x16x2x4xf32>
// CHECK-NEXT: %[[M:[0-9]+]] = memref.alloc() : memref<1x16x2x4xf32>
// CHECK-NEXT: %[[T:[0-9]+]] = memref.alloc() : memref<4x4x4xf32>
// CHECK-NEXT: %[[S:[0-9]+]] = memref.alloc() : memref<2x4x4xf32>
// CHECK-NEXT: %[[U:[0-9]+]] = memref.get_global @wino2x2_0
// One loop over the 2 strips.
// CHECK-NEXT: scf.for %[[STRIP:[0-9]+]] =
// The rows above the image are zero, the image rows are copied between zero columns.
// CHECK:      kernel.fill
// CHECK-NEXT: kernel.store %{{[0-9]+}}, %[[X]]
// CHECK:      kernel.load %[[ROW:[0-9]+]], %x[
// CHECK-NEXT: kernel.store %[[ROW]], %[[X]]
// Per window of X, a loop over its 4 columns b: the column d[0..3][b] into
// registers, then T[1][b] = d[2][b] + d[1][b], T[2][b] = d[2][b] - d[1][b],
// T[0][b] = d[0][b] - d[2][b], T[3][b] = d[1][b] - d[3][b].
// CHECK:      kernel.load %[[D0:[0-9]+]], %[[X]][{{.*}}] pixel_stride 1 : !kernel.tile<1x4xf32>
// CHECK:      kernel.load %[[D1:[0-9]+]], %[[X]]
// CHECK:      kernel.load %[[D2:[0-9]+]], %[[X]]
// CHECK:      kernel.load %[[D3:[0-9]+]], %[[X]]
// CHECK:      kernel.copy_tile %[[T1:[0-9]+]], %[[D2]]
// CHECK-NEXT: kernel.add_tile %[[T1]], %[[D1]] : !kernel.tile<1x4xf32>, !kernel.tile<1x4xf32>
// CHECK:      kernel.copy_tile %[[T2:[0-9]+]], %[[D2]]
// CHECK-NEXT: kernel.add_tile %[[T2]], %[[D1]] {scale = -1.000000e+00 : f32}
// CHECK:      kernel.copy_tile %[[T0:[0-9]+]], %[[D0]]
// CHECK-NEXT: kernel.add_tile %[[T0]], %[[D2]] {scale = -1.000000e+00 : f32}
// CHECK:      kernel.copy_tile %[[T3:[0-9]+]], %[[D1]]
// CHECK-NEXT: kernel.add_tile %[[T3]], %[[D3]] {scale = -1.000000e+00 : f32}
// CHECK-NEXT: kernel.store %[[T0]], %[[T]]
// CHECK-NEXT: kernel.store %[[T1]], %[[T]]
// CHECK-NEXT: kernel.store %[[T2]], %[[T]]
// CHECK-NEXT: kernel.store %[[T3]], %[[T]]
// ...then a loop over its 4 rows i, the same on T[i][0..3] into V (position 4 i + j).
// CHECK:      scf.for %[[I:[0-9]+]] =
// CHECK:      kernel.load %{{[0-9]+}}, %[[T]][%[[I]], {{.*}}] pixel_stride 1 : !kernel.tile<1x4xf32>
// CHECK:      kernel.store %{{[0-9]+}}, %[[V]]
// 16 matrix products over the 4 input channels, a register tile of 2 output tiles.
// CHECK:      scf.for %[[POS:[0-9]+]] =
// CHECK:      kernel.fill %[[P:[0-9]+]]
// CHECK-NEXT: scf.for %[[CI:[0-9]+]] =
// CHECK-NEXT: kernel.fma %[[P]], %[[V]][%{{.*}}, %[[POS]], %{{.*}}, %[[CI]]] pixel_stride 1, %[[U]][%[[POS]], %{{.*}}, %{{.*}}, %[[CI]], %{{.*}}]
// CHECK:      kernel.store %[[P]], %[[M]]
// Per output tile, a loop over the 4 columns b of M: M[1][b] +- M[2][b] once,
// then S[0][b] = M[0][b] + (M[1][b] + M[2][b]), S[1][b] = (M[1][b] - M[2][b]) - M[3][b].
// CHECK:      scf.for
// CHECK:      kernel.load %[[M0:[0-9]+]], %[[M]]
// CHECK:      kernel.load %[[M1:[0-9]+]], %[[M]]
// CHECK:      kernel.load %[[M2:[0-9]+]], %[[M]]
// CHECK:      kernel.load %[[M3:[0-9]+]], %[[M]]
// CHECK:      kernel.copy_tile %[[SUM:[0-9]+]], %[[M1]]
// CHECK-NEXT: kernel.add_tile %[[SUM]], %[[M2]] :
// CHECK:      kernel.copy_tile %[[DIFFERENCE:[0-9]+]], %[[M1]]
// CHECK-NEXT: kernel.add_tile %[[DIFFERENCE]], %[[M2]] {scale = -1.000000e+00 : f32}
// CHECK:      kernel.copy_tile %[[S0:[0-9]+]], %[[M0]]
// CHECK-NEXT: kernel.add_tile %[[S0]], %[[SUM]] :
// CHECK:      kernel.copy_tile %[[S1:[0-9]+]], %[[DIFFERENCE]]
// CHECK-NEXT: kernel.add_tile %[[S1]], %[[M3]] {scale = -1.000000e+00 : f32}
// CHECK-NEXT: kernel.store %[[S0]], %[[S]]
// CHECK-NEXT: kernel.store %[[S1]], %[[S]]
// ...then a loop over its 2 rows, the same on S[r][0..3]; output column 0 = bias + S[r][0] + (S[r][1] + S[r][2]), relu, store.
// CHECK:      kernel.broadcast %[[Y:[0-9]+]], %b
// CHECK-NEXT: kernel.add_tile %[[Y]], %{{[0-9]+}} :
// CHECK:      kernel.clamp %[[Y]] {min = 0.000000e+00 : f32
// CHECK-NEXT: kernel.store %[[Y]], %y[{{.*}}] pixel_stride 1 : !kernel.tile<1x4xf32>

// F(4x4, 3x3): 36 positions; the input transform shares d[4] - 4 d[2] and
// d[3] - 4 d[1] between T[1] and T[2], d[4] - d[2] and d[3] - d[1] between
// T[3] and T[4] (the points +-1 and +-2), by FMAs with constant factors.
// F4:      "memref.global"() <{sym_name = "wino4x4_0", type = memref<36x1x1x4x4xf32>
// F4-LABEL: func.func @conv8(
// F4:      %[[X:[0-9]+]] = memref.alloc() : memref<1x6x10x4xf32>
// F4-NEXT: %[[V:[0-9]+]] = memref.alloc() : memref<1x36x2x4xf32>
// F4:      kernel.load %[[D0:[0-9]+]], %[[X]]
// F4-NEXT: kernel.tile
// F4-NEXT: kernel.load %[[D1:[0-9]+]], %[[X]]
// F4-NEXT: kernel.tile
// F4-NEXT: kernel.load %[[D2:[0-9]+]], %[[X]]
// F4-NEXT: kernel.tile
// F4-NEXT: kernel.load %[[D3:[0-9]+]], %[[X]]
// F4-NEXT: kernel.tile
// F4-NEXT: kernel.load %[[D4:[0-9]+]], %[[X]]
// F4:      kernel.copy_tile %[[E:[0-9]+]], %[[D4]]
// F4-NEXT: kernel.add_tile %[[E]], %[[D2]] {scale = -4.000000e+00 : f32}
// F4:      kernel.copy_tile %[[O:[0-9]+]], %[[D3]]
// F4-NEXT: kernel.add_tile %[[O]], %[[D1]] {scale = -4.000000e+00 : f32}
// F4:      kernel.copy_tile %[[T1:[0-9]+]], %[[E]]
// F4-NEXT: kernel.add_tile %[[T1]], %[[O]] :
// F4:      kernel.copy_tile %[[T2:[0-9]+]], %[[E]]
// F4-NEXT: kernel.add_tile %[[T2]], %[[O]] {scale = -1.000000e+00 : f32}
// F4:      kernel.copy_tile %[[E2:[0-9]+]], %[[D4]]
// F4-NEXT: kernel.add_tile %[[E2]], %[[D2]] {scale = -1.000000e+00 : f32}
// F4:      kernel.copy_tile %[[O2:[0-9]+]], %[[D3]]
// F4-NEXT: kernel.add_tile %[[O2]], %[[D1]] {scale = -1.000000e+00 : f32}
// F4:      kernel.copy_tile %[[T3:[0-9]+]], %[[E2]]
// F4-NEXT: kernel.add_tile %[[T3]], %[[O2]] {scale = 2.000000e+00 : f32}
// F4:      kernel.copy_tile %[[T4:[0-9]+]], %[[E2]]
// F4-NEXT: kernel.add_tile %[[T4]], %[[O2]] {scale = -2.000000e+00 : f32}

// Stride 2: the filters' four phases (taps 2a + p, 2b + q, zero past 2) side by
// side as 4x the input channel blocks, [25 positions][K/Cb][4 x F_c/Cb][Cb][Cb];
// X holds the 10 input rows and 18 columns under a strip of one tile row (the
// last phase's 5x5 window reaches one past the conv's); V, [4 phases x 1
// block][25][2 tiles][Cb]; a loop over the 4 phases (p, q) transforms each
// window of X, 2 apart; the products sum over the 4 phase blocks in a loop.
// S2:      "memref.global"() <{sym_name = "wino4x4_{{[0-9]+}}", type = memref<25x1x4x4x4xf32>
// S2-LABEL: func.func @conv_s2(
// S2:      %[[X:[0-9]+]] = memref.alloc() : memref<1x10x18x4xf32>
// S2-NEXT: %[[V:[0-9]+]] = memref.alloc() : memref<4x25x2x4xf32>
// S2-NEXT: memref.alloc() : memref<1x25x2x4xf32>
// S2-NEXT: memref.alloc() : memref<5x5x4xf32>
// S2-NEXT: memref.alloc() : memref<4x5x4xf32>
// S2:      kernel.store %{{[0-9]+}}, %[[V]][%{{[0-9]+}},
// S2:      kernel.fill
// S2-NEXT: scf.for %[[PH:[0-9]+]] = %{{[0-9]+}} to %{{[0-9]+}} step
// S2-NEXT: scf.for %[[CI:[0-9]+]] =
// S2-NEXT: kernel.fma %{{[0-9]+}}, %[[V]][%[[PH]], %{{[0-9]+}}, %{{[0-9]+}}, %[[CI]]]
// S2-NOT:  kernel.fma
// S2:      func.return
