// RUN: small-opt %s -p small-tile | filecheck %s
// RUN: small-opt %s -p small-tile | filecheck %s --check-prefix=NOLAYER

// small-tile lowers each blocked small.layer to the unified loop nest around
// kernel ops on a W_ob x C_ob register tile (here C_ob = 4).

// NOLAYER-NOT: small.layer

// A 3x3 conv, stride 2, padding 1, 5 -> 8 channels, 3x19 -> 2x10, w_ob = 3.
// Output columns: 0 touches the left padding, 1..6 are two full 3-pixel tiles,
// 7..8 one 2-pixel remainder tile, 9 touches the right padding.
func.func @conv(%x: memref<2x3x19x4xf32>, %w: memref<2x2x3x3x4x4xf32>, %b: memref<2x4xf32>, %y: memref<2x2x10x4xf32>) {
  small.layer "conv" %x : memref<2x3x19x4xf32> weights %w : memref<2x2x3x3x4x4xf32> bias %b : memref<2x4xf32> into %y : memref<2x2x10x4xf32> {g = 1 : i64, k = 8 : i64, f_c = 5 : i64, in_hw = array<i64: 3, 19>, filter = array<i64: 3, 3>, strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 4 : i64, w_ob = 3 : i64}
  func.return
}

// CHECK-LABEL: func.func @conv(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<2x3x19x4xf32>, %[[W:[a-z0-9_]+]]: memref<2x2x3x3x4x4xf32>, %[[B:[a-z0-9_]+]]: memref<2x4xf32>, %[[Y:[a-z0-9_]+]]: memref<2x2x10x4xf32>)
// The constants, once, at the start of the function.
// CHECK-DAG:     %[[C0:[a-z0-9_]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[a-z0-9_]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[a-z0-9_]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[a-z0-9_]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C4:[a-z0-9_]+]] = arith.constant 4 : index
// CHECK-DAG:     %[[C7:[a-z0-9_]+]] = arith.constant 7 : index
// CHECK-DAG:     %[[C9:[a-z0-9_]+]] = arith.constant 9 : index
// One loop over the 2 output-channel blocks, one over the 2 output rows.
// CHECK:         scf.for %[[KB:[a-z0-9_]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[OH:[a-z0-9_]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// The valid filter rows of this output row, computed at run time.
// CHECK:             %[[KHLO:[a-z0-9_]+]] = arith.maxsi
// CHECK:             %[[KHHI:[a-z0-9_]+]] = arith.minsi

// Left border column 0: a 1-pixel tile, bias-initialised, filter columns 1..3 only.
// CHECK-NEXT:        %[[T0:[a-z0-9_]+]] = kernel.tile : !kernel.tile<1x4xf32>
// CHECK-NEXT:        kernel.broadcast %[[T0]], %[[B]][%[[KB]], %[[C0]]] : !kernel.tile<1x4xf32>, memref<2x4xf32>
// CHECK:             scf.for %{{.*}} = %[[KHLO]] to %[[KHHI]] step %{{.*}} {
// CHECK-NEXT:          scf.for %{{.*}} = %[[C1]] to %[[C3]] step %{{.*}} {
// CHECK:                 kernel.fma %[[T0]], %[[X]][%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] pixel_stride 2, %[[W]][%[[KB]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : !kernel.tile<1x4xf32>, memref<2x3x19x4xf32>, memref<2x2x3x3x4x4xf32>
// CHECK:             kernel.store %[[T0]], %[[Y]][%[[KB]], %[[OH]], %{{.*}}, %{{.*}}] pixel_stride 1 : !kernel.tile<1x4xf32>, memref<2x2x10x4xf32>

// Full tiles: a loop of 3-pixel tiles over all 3x3 taps.
// CHECK:             scf.for %{{.*}} = %[[C0]] to %[[C2]] step %{{.*}} {
// CHECK:               %[[T1:[a-z0-9_]+]] = kernel.tile : !kernel.tile<3x4xf32>
// CHECK-NEXT:          kernel.broadcast %[[T1]], %[[B]][%[[KB]], %[[C0]]] : !kernel.tile<3x4xf32>, memref<2x4xf32>
// CHECK:               scf.for %[[KH:[a-z0-9_]+]] = %[[KHLO]] to %[[KHHI]] step %{{.*}} {
// CHECK-NEXT:            scf.for %[[KW:[a-z0-9_]+]] = %[[C0]] to %[[C3]] step %{{.*}} {
// The 4 channels of input block 0, one rank-1 update each ...
// CHECK:                   scf.for %[[CI:[a-z0-9_]+]] = %{{.*}} to %[[C4]] step %{{.*}} {
// CHECK:                     kernel.fma %[[T1]], %[[X]][%{{.*}}, %{{.*}}, %{{.*}}, %[[CI]]] pixel_stride 2, %[[W]][%[[KB]], %{{.*}}, %[[KH]], %[[KW]], %[[CI]], %{{.*}}] : !kernel.tile<3x4xf32>
// CHECK-NEXT:              }
// ... then the 1 remaining channel, in input block 1.
// CHECK-NEXT:              kernel.fma %[[T1]], %[[X]][%[[C1]], %{{.*}}, %{{.*}}, %{{.*}}] pixel_stride 2, %[[W]][%[[KB]], %{{.*}}, %[[KH]], %[[KW]], %{{.*}}, %{{.*}}] : !kernel.tile<3x4xf32>
// CHECK-NEXT:            }
// CHECK-NEXT:          }
// CHECK:               kernel.store %[[T1]], %[[Y]][%[[KB]], %[[OH]], %{{.*}}, %{{.*}}] pixel_stride 1 : !kernel.tile<3x4xf32>, memref<2x2x10x4xf32>
// CHECK-NEXT:        }

// The remainder tile: 2 pixels at column 7.
// CHECK-NEXT:        %[[T2:[a-z0-9_]+]] = kernel.tile : !kernel.tile<2x4xf32>
// CHECK-NEXT:        kernel.broadcast %[[T2]], %[[B]]
// CHECK:             kernel.fma %[[T2]], {{.*}} pixel_stride 2, {{.*}} : !kernel.tile<2x4xf32>
// CHECK:             kernel.store %[[T2]], %[[Y]][%[[KB]], %[[OH]], %[[C7]], %{{.*}}] pixel_stride 1 : !kernel.tile<2x4xf32>, memref<2x2x10x4xf32>

// Right border column 9: filter columns 0..2 only.
// CHECK-NEXT:        %[[T3:[a-z0-9_]+]] = kernel.tile : !kernel.tile<1x4xf32>
// CHECK-NEXT:        kernel.broadcast %[[T3]], %[[B]]
// CHECK:             scf.for %{{.*}} = %[[KHLO]] to %[[KHHI]] step %{{.*}} {
// CHECK-NEXT:          scf.for %{{.*}} = %[[C0]] to %[[C2]] step %{{.*}} {
// CHECK:                 kernel.fma %[[T3]], {{.*}} pixel_stride 2, {{.*}} : !kernel.tile<1x4xf32>
// CHECK:             kernel.store %[[T3]], %[[Y]][%[[KB]], %[[OH]], %[[C9]], %{{.*}}] pixel_stride 1 : !kernel.tile<1x4xf32>, memref<2x2x10x4xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NOT:     kernel.
// CHECK:         func.return

// A 2x2 max pool, stride 2: one full 2-pixel tile per row, started at -inf.
func.func @max(%x: memref<1x4x4x4xf32>, %y: memref<1x2x2x4xf32>) {
  small.layer "max" %x : memref<1x4x4x4xf32> into %y : memref<1x2x2x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 2, 2>, strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 4 : i64, w_ob = 2 : i64}
  func.return
}

// CHECK-LABEL: func.func @max(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x4x4x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x2x2x4xf32>)
// CHECK:         scf.for %[[OH:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:           %[[T:[a-z0-9_]+]] = kernel.tile : !kernel.tile<2x4xf32>
// CHECK-NEXT:      kernel.fill %[[T]] {value = 0xff800000 : f32} : !kernel.tile<2x4xf32>
// CHECK:           scf.for
// CHECK:             scf.for
// CHECK:               kernel.max %[[T]], %[[X]][%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] pixel_stride 2 : !kernel.tile<2x4xf32>, memref<1x4x4x4xf32>
// CHECK:           kernel.store %[[T]], %[[Y]][%{{.*}}, %[[OH]], %{{.*}}, %{{.*}}] pixel_stride 1 : !kernel.tile<2x4xf32>, memref<1x2x2x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

// A 3x3 average pool, padding 1, count_include_pad unset: each tile divides by
// its number of valid taps, (valid rows) x (valid columns), computed at run
// time because the valid rows depend on the output row.
func.func @avg(%x: memref<1x3x3x4xf32>, %y: memref<1x3x3x4xf32>) {
  small.layer "avg" %x : memref<1x3x3x4xf32> into %y : memref<1x3x3x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 3, 3>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 4 : i64, w_ob = 2 : i64}
  func.return
}

// CHECK-LABEL: func.func @avg(
// CHECK-DAG:     %[[C2:[a-z0-9_]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[a-z0-9_]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[ONE:[a-z0-9_]+]] = arith.constant 1.000000e+00 : f32
// CHECK:           %[[KHLO:[a-z0-9_]+]] = arith.maxsi
// CHECK:           %[[KHHI:[a-z0-9_]+]] = arith.minsi
// Left border: 2 valid columns.
// CHECK-NEXT:      %[[T:[a-z0-9_]+]] = kernel.tile : !kernel.tile<1x4xf32>
// CHECK-NEXT:      kernel.fill %[[T]] {value = 0.000000e+00 : f32} : !kernel.tile<1x4xf32>
// CHECK:           kernel.add %[[T]], %{{.*}} pixel_stride 1
// CHECK:           %[[ROWS:[a-z0-9_]+]] = arith.subi %[[KHHI]], %[[KHLO]] : index
// CHECK-NEXT:      %[[N:[a-z0-9_]+]] = arith.muli %[[ROWS]], %[[C2]] : index
// CHECK-NEXT:      %[[NI:[a-z0-9_]+]] = arith.index_cast %[[N]] : index to i64
// CHECK:           %[[NF:[a-z0-9_]+]] = arith.sitofp %[[NI]] : i64 to f32
// CHECK-NEXT:      %[[F:[a-z0-9_]+]] = arith.divf %[[ONE]], %[[NF]] : f32
// CHECK-NEXT:      kernel.scale %[[T]], %[[F]] : !kernel.tile<1x4xf32>
// CHECK:           kernel.store %[[T]]
// The interior column: 3 valid columns.
// CHECK-NEXT:      %[[T:[a-z0-9_]+]] = kernel.tile : !kernel.tile<1x4xf32>
// CHECK:           %[[ROWS:[a-z0-9_]+]] = arith.subi %[[KHHI]], %[[KHLO]] : index
// CHECK-NEXT:      %[[N:[a-z0-9_]+]] = arith.muli %[[ROWS]], %[[C3]] : index
// CHECK:           kernel.scale %[[T]], %{{.*}} : !kernel.tile<1x4xf32>
// CHECK:           kernel.store %[[T]]
// Right border: 2 valid columns.
// CHECK-NEXT:      %[[T:[a-z0-9_]+]] = kernel.tile : !kernel.tile<1x4xf32>
// CHECK:           %[[ROWS:[a-z0-9_]+]] = arith.subi %[[KHHI]], %[[KHLO]] : index
// CHECK-NEXT:      %[[N:[a-z0-9_]+]] = arith.muli %[[ROWS]], %[[C2]] : index
// CHECK:           kernel.scale %[[T]], %{{.*}} : !kernel.tile<1x4xf32>
// CHECK:           kernel.store %[[T]]
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

// An element-wise copy with a residual add and relu6: the tile is loaded, then
// the epilogue runs in order (combine, clamp) before the store.
func.func @copy(%x: memref<1x2x4x4xf32>, %r: memref<1x2x4x4xf32>, %y: memref<1x2x4x4xf32>) {
  small.layer "copy" %x : memref<1x2x4x4xf32> other %r : memref<1x2x4x4xf32> into %y : memref<1x2x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 2, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 4 : i64, w_ob = 4 : i64, combine = "add", clamp_min = 0.0 : f32, clamp_max = 6.0 : f32}
  func.return
}

// CHECK-LABEL: func.func @copy(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x2x4x4xf32>, %[[R:[a-z0-9_]+]]: memref<1x2x4x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x2x4x4xf32>)
// A 1x1 window with stride 1 and no padding: the 2x4 pixels run as one flat
// row of 8 (rows are contiguous), two tiles of 4 starting at W index 0 and 4.
// CHECK:         scf.for %[[I:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:      %[[P:[a-z0-9_]+]] = arith.muli %[[I]], %{{.*}} : index
// CHECK-NEXT:      %[[T:[a-z0-9_]+]] = kernel.tile : !kernel.tile<4x4xf32>
// CHECK-NOT:       kernel.{{fill|broadcast}}
// CHECK:           kernel.load %[[T]], %[[X]][%[[C0:[a-z0-9_]+]], %[[C0]], %[[P]], %[[C0]]] pixel_stride 1 : !kernel.tile<4x4xf32>, memref<1x2x4x4xf32>
// CHECK-NOT:       kernel.{{clamp|store}}
// CHECK:           kernel.add %[[T]], %[[R]][%[[C0]], %[[C0]], %[[P]], %[[C0]]] pixel_stride 1 : !kernel.tile<4x4xf32>, memref<1x2x4x4xf32>
// CHECK-NEXT:      kernel.clamp %[[T]] {min = 0.000000e+00 : f32, max = 6.000000e+00 : f32} : !kernel.tile<4x4xf32>
// CHECK-NEXT:      kernel.store %[[T]], %[[Y]][%[[C0]], %[[C0]], %[[P]], %[[C0]]] pixel_stride 1 : !kernel.tile<4x4xf32>, memref<1x2x4x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

// The other epilogue: an element-wise product, then leaky relu.
func.func @copy_mul_leaky(%x: memref<1x1x4x4xf32>, %r: memref<1x1x4x4xf32>, %y: memref<1x1x4x4xf32>) {
  small.layer "copy" %x : memref<1x1x4x4xf32> other %r : memref<1x1x4x4xf32> into %y : memref<1x1x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 1, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 4 : i64, w_ob = 4 : i64, combine = "mul", leaky = 0.5 : f32}
  func.return
}

// CHECK-LABEL: func.func @copy_mul_leaky(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x1x4x4xf32>, %[[R:[a-z0-9_]+]]: memref<1x1x4x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x1x4x4xf32>)
// CHECK:         %[[T:[a-z0-9_]+]] = kernel.tile : !kernel.tile<4x4xf32>
// CHECK:         kernel.load %[[T]], %[[X]]
// CHECK:         kernel.mul %[[T]], %[[R]]
// CHECK-NEXT:    kernel.leaky %[[T]] {alpha = 5.000000e-01 : f32} : !kernel.tile<4x4xf32>
// CHECK-NEXT:    kernel.store %[[T]], %[[Y]]
// CHECK-NEXT:    func.return
