// RUN: small-opt %s -p 'small-tile{split_k=2}' | filecheck %s
// RUN: small-opt %s -p 'small-tile{split_k=1}' | filecheck %s --check-prefix=ONE

// A dense layer (a 1x1 conv on a 1x1 image) has one-pixel tiles: its 6
// reduction channels go round robin to split_k tiles, which are then summed.

"memref.global"() <{sym_name = "w", type = memref<1x2x1x1x4x4xf32>, initial_value = dense<0.5> : tensor<1x2x1x1x4x4xf32>, sym_visibility = "private", constant}> : () -> ()

func.func @dense(%x: memref<2x1x1x4xf32>, %y: memref<1x1x1x4xf32>) {
  %w = memref.get_global @w : memref<1x2x1x1x4x4xf32>
  small.layer "conv" %x : memref<2x1x1x4xf32> weights %w : memref<1x2x1x1x4x4xf32> into %y : memref<1x1x1x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 6 : i64, in_hw = array<i64: 1, 1>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 4 : i64, w_ob = 2 : i64}
  func.return
}

// CHECK-DAG:     %[[C0:[a-z0-9_]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[a-z0-9_]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[a-z0-9_]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C4:[a-z0-9_]+]] = arith.constant 4 : index
// CHECK:         %[[T:[a-z0-9_]+]] = kernel.tile : !kernel.tile<1x4xf32>
// CHECK-NEXT:    kernel.fill %[[T]] {value = 0.000000e+00 : f32}
// CHECK-NEXT:    %[[P:[a-z0-9_]+]] = kernel.tile : !kernel.tile<1x4xf32>
// CHECK-NEXT:    kernel.fill %[[P]] {value = 0.000000e+00 : f32}
// The first input block: channels 0..3 in steps of 2, even ones to T, odd ones to P.
// CHECK-NEXT:    scf.for %[[CI:[a-z0-9_]+]] = %[[C0]] to %[[C4]] step %[[C2]] {
// CHECK-NEXT:      kernel.fma %[[T]], %{{.*}}[%[[C0]], %[[C0]], %[[C0]], %[[CI]]] pixel_stride 1
// CHECK-NEXT:      %[[ODD:[a-z0-9_]+]] = arith.addi %[[CI]], %[[C1]] : index
// CHECK-NEXT:      kernel.fma %[[P]], %{{.*}}[%[[C0]], %[[C0]], %[[C0]], %[[ODD]]] pixel_stride 1
// CHECK-NEXT:    }
// The 2 channels of the second block: one round, inlined.
// CHECK-NEXT:    kernel.fma %[[T]], %{{.*}}[%[[C1]], %[[C0]], %[[C0]], %[[C0]]] pixel_stride 1
// CHECK-NEXT:    kernel.fma %[[P]], %{{.*}}[%[[C1]], %[[C0]], %[[C0]], %[[C1]]] pixel_stride 1
// CHECK-NEXT:    kernel.add_tile %[[T]], %[[P]] : !kernel.tile<1x4xf32>, !kernel.tile<1x4xf32>
// CHECK-NEXT:    kernel.store %[[T]]

// ONE-COUNT-1:   kernel.tile
// ONE-NOT:       kernel.add_tile
