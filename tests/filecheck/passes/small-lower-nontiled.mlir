// RUN: small-opt %s -p small-lower-nontiled | filecheck %s

// small-lower-nontiled turns small.convert, small.softmax and small.concat into
// plain loops of memref.load / memref.store over the logical channels: the
// padding lanes of a blocked buffer are never read or written. Every constant
// is created once, at the start of the function.

// CHECK-NOT: small.convert
// CHECK-NOT: small.softmax
// CHECK-NOT: small.concat

// Plain -> blocked, 6 channels in blocks of 4: block 0 has 4 lanes, block 1 has 2.
func.func @to_blocked(%x: memref<1x6x2x2xf32>, %y: memref<2x2x2x4xf32>) {
  small.convert %x into %y {src_channels = 6 : i64, src_block = 0 : i64, dst_channels = 6 : i64, dst_block = 4 : i64} : memref<1x6x2x2xf32> into memref<2x2x2x4xf32>
  func.return
}

// CHECK-LABEL: func.func @to_blocked(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x6x2x2xf32>, %[[Y:[a-z0-9_]+]]: memref<2x2x2x4xf32>)
// CHECK-DAG:     %[[C0:[a-z0-9_]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[a-z0-9_]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[a-z0-9_]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C4:[a-z0-9_]+]] = arith.constant 4 : index
// CHECK:         scf.for %[[L:[a-z0-9_]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[H:[a-z0-9_]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:        scf.for %[[W:[a-z0-9_]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:          %[[V:[a-z0-9_]+]] = memref.load %[[X]][%{{.*}}, %[[L]], %[[H]], %[[W]]] : memref<1x6x2x2xf32>
// CHECK-NEXT:          memref.store %[[V]], %[[Y]][%[[C0]], %[[H]], %[[W]], %[[L]]] : memref<2x2x2x4xf32>
// CHECK-NEXT:        }
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    scf.for %[[L:[a-z0-9_]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:      %[[C:[a-z0-9_]+]] = arith.addi %[[C4]], %[[L]] : index
// CHECK-NEXT:      scf.for %[[H:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:        scf.for %[[W:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:          %[[V:[a-z0-9_]+]] = memref.load %[[X]][%{{.*}}, %[[C]], %[[H]], %[[W]]] : memref<1x6x2x2xf32>
// CHECK-NEXT:          memref.store %[[V]], %[[Y]][%[[C1]], %[[H]], %[[W]], %[[L]]] : memref<2x2x2x4xf32>
// CHECK:         func.return

// Blocked -> plain 1xN (the model's output): the same walk, the other way.
func.func @to_plain(%x: memref<2x1x1x4xf32>, %y: memref<1x6xf32>) {
  small.convert %x into %y {src_channels = 6 : i64, src_block = 4 : i64, dst_channels = 6 : i64, dst_block = 0 : i64} : memref<2x1x1x4xf32> into memref<1x6xf32>
  func.return
}

// CHECK-LABEL: func.func @to_plain(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<2x1x1x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x6xf32>)
// CHECK-DAG:     %[[C0:[a-z0-9_]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[a-z0-9_]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[a-z0-9_]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C4:[a-z0-9_]+]] = arith.constant 4 : index
// CHECK:         scf.for %[[L:[a-z0-9_]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:      %[[V:[a-z0-9_]+]] = memref.load %[[X]][%[[C0]], %{{.*}}, %{{.*}}, %[[L]]] : memref<2x1x1x4xf32>
// CHECK-NEXT:      memref.store %[[V]], %[[Y]][%{{.*}}, %[[L]]] : memref<1x6xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    scf.for %[[L:[a-z0-9_]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:      %[[C:[a-z0-9_]+]] = arith.addi %[[C4]], %[[L]] : index
// CHECK-NEXT:      %[[V:[a-z0-9_]+]] = memref.load %[[X]][%[[C1]], %{{.*}}, %{{.*}}, %[[L]]] : memref<2x1x1x4xf32>
// CHECK-NEXT:      memref.store %[[V]], %[[Y]][%{{.*}}, %[[C]]] : memref<1x6xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

// A reshape in the blocked layout, 4x2x2 -> 16x1x1: each destination channel
// reads the source element at the same position in C order.
func.func @reshape(%x: memref<1x2x2x4xf32>, %y: memref<4x1x1x4xf32>) {
  small.convert %x into %y {src_channels = 4 : i64, src_block = 4 : i64, dst_channels = 16 : i64, dst_block = 4 : i64} : memref<1x2x2x4xf32> into memref<4x1x1x4xf32>
  func.return
}

// CHECK-LABEL: func.func @reshape(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x2x2x4xf32>, %[[Y:[a-z0-9_]+]]: memref<4x1x1x4xf32>)
// CHECK-DAG:     %[[C2:[a-z0-9_]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C4:[a-z0-9_]+]] = arith.constant 4 : index
// CHECK:         scf.for %[[CB:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:      scf.for %[[L:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:        %[[M:[a-z0-9_]+]] = arith.muli %[[CB]], %[[C4]] : index
// CHECK-NEXT:        %[[FLAT:[a-z0-9_]+]] = arith.addi %[[M]], %[[L]] : index
// Source channel, then row and column, of the flat index (H * W = 4, W = 2).
// CHECK-NEXT:        %[[SC:[a-z0-9_]+]] = arith.divui %[[FLAT]], %[[C4]] : index
// CHECK-NEXT:        %[[HW:[a-z0-9_]+]] = arith.remui %[[FLAT]], %[[C4]] : index
// CHECK-NEXT:        %[[SH:[a-z0-9_]+]] = arith.divui %[[HW]], %[[C2]] : index
// CHECK-NEXT:        %[[SW:[a-z0-9_]+]] = arith.remui %[[HW]], %[[C2]] : index
// And the block and lane of the source channel.
// CHECK-NEXT:        %[[SB:[a-z0-9_]+]] = arith.divui %[[SC]], %[[C4]] : index
// CHECK-NEXT:        %[[SL:[a-z0-9_]+]] = arith.remui %[[SC]], %[[C4]] : index
// CHECK-NEXT:        %[[V:[a-z0-9_]+]] = memref.load %[[X]][%[[SB]], %[[SH]], %[[SW]], %[[SL]]] : memref<1x2x2x4xf32>
// CHECK-NEXT:        memref.store %[[V]], %[[Y]][%[[CB]], %{{.*}}, %{{.*}}, %[[L]]] : memref<4x1x1x4xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

// Softmax over 5 real channels of an 8-lane block, for the one pixel.
func.func @softmax(%x: memref<1x1x1x8xf32>, %y: memref<1x1x1x8xf32>) {
  small.softmax %x into %y {channels = 5 : i64, c_ob = 8 : i64} : memref<1x1x1x8xf32> into memref<1x1x1x8xf32>
  func.return
}

// CHECK-LABEL: func.func @softmax(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x1x1x8xf32>, %[[Y:[a-z0-9_]+]]: memref<1x1x1x8xf32>)
// CHECK-DAG:     %[[NEG_INF:[a-z0-9_]+]] = arith.constant 0xff800000 : f32
// CHECK-DAG:     %[[ZERO:[a-z0-9_]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[ONE:[a-z0-9_]+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG:     %[[N:[a-z0-9_]+]] = arith.constant 5 : index
// CHECK-DAG:     %[[C8:[a-z0-9_]+]] = arith.constant 8 : index
// The maximum: a reduction over the 5 channels, from -inf.
// CHECK:         %[[MAX:[a-z0-9_]+]] = scf.for %[[C:[a-z0-9_]+]] = %{{.*}} to %[[N]] step %{{.*}} iter_args(%[[M:[a-z0-9_]+]] = %[[NEG_INF]]) -> (f32) {
// CHECK-NEXT:      %[[CB:[a-z0-9_]+]] = arith.divui %[[C]], %[[C8]] : index
// CHECK-NEXT:      %[[CL:[a-z0-9_]+]] = arith.remui %[[C]], %[[C8]] : index
// CHECK-NEXT:      %[[V:[a-z0-9_]+]] = memref.load %[[X]][%[[CB]], %{{.*}}, %{{.*}}, %[[CL]]] : memref<1x1x1x8xf32>
// CHECK-NEXT:      %[[M2:[a-z0-9_]+]] = arith.maximumf %[[M]], %[[V]] : f32
// CHECK-NEXT:      scf.yield %[[M2]] : f32
// CHECK-NEXT:    }
// exp(x - max), stored, and summed from 0.
// CHECK-NEXT:    %[[SUM:[a-z0-9_]+]] = scf.for %{{.*}} = %{{.*}} to %[[N]] step %{{.*}} iter_args(%[[ACC:[a-z0-9_]+]] = %[[ZERO]]) -> (f32) {
// CHECK:           %[[V:[a-z0-9_]+]] = memref.load %[[X]]
// CHECK-NEXT:      %[[D:[a-z0-9_]+]] = arith.subf %[[V]], %[[MAX]] : f32
// CHECK-NEXT:      %[[E:[a-z0-9_]+]] = math.exp %[[D]] : f32
// CHECK:           memref.store %[[E]], %[[Y]]
// CHECK-NEXT:      %[[ACC2:[a-z0-9_]+]] = arith.addf %[[ACC]], %[[E]] : f32
// CHECK-NEXT:      scf.yield %[[ACC2]] : f32
// CHECK-NEXT:    }
// Then one division, and a loop scaling each exp by 1 / sum.
// CHECK-NEXT:    %[[INV:[a-z0-9_]+]] = arith.divf %[[ONE]], %[[SUM]] : f32
// CHECK-NEXT:    scf.for %{{.*}} = %{{.*}} to %[[N]] step %{{.*}} {
// CHECK:           %[[V:[a-z0-9_]+]] = memref.load %[[Y]]
// CHECK-NEXT:      %[[S:[a-z0-9_]+]] = arith.mulf %[[V]], %[[INV]] : f32
// CHECK:           memref.store %[[S]], %[[Y]]
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

// Concat of 4 + 3 channels: the first input fills block 0; the second starts
// on a block boundary, so it is copied lane for lane into block 1.
func.func @concat(%a: memref<1x2x2x4xf32>, %b: memref<1x2x2x4xf32>, %y: memref<2x2x2x4xf32>) {
  small.concat %a, %b into %y {channels = array<i64: 4, 3>, c_ob = 4 : i64} : memref<1x2x2x4xf32>, memref<1x2x2x4xf32> into memref<2x2x2x4xf32>
  func.return
}

// CHECK-LABEL: func.func @concat(
// CHECK-SAME:      %[[A:[a-z0-9_]+]]: memref<1x2x2x4xf32>, %[[B:[a-z0-9_]+]]: memref<1x2x2x4xf32>, %[[Y:[a-z0-9_]+]]: memref<2x2x2x4xf32>)
// CHECK-DAG:     %[[C0:[a-z0-9_]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[a-z0-9_]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C3:[a-z0-9_]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C4:[a-z0-9_]+]] = arith.constant 4 : index
// CHECK:         scf.for %[[L:[a-z0-9_]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[H:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:        scf.for %[[W:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:          %[[V:[a-z0-9_]+]] = memref.load %[[A]][%{{.*}}, %[[H]], %[[W]], %[[L]]] : memref<1x2x2x4xf32>
// CHECK-NEXT:          memref.store %[[V]], %[[Y]][%[[C0]], %[[H]], %[[W]], %[[L]]] : memref<2x2x2x4xf32>
// CHECK:         scf.for %[[L:[a-z0-9_]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[H:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:        scf.for %[[W:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:               %[[V:[a-z0-9_]+]] = memref.load %[[B]][%{{.*}}, %[[H]], %[[W]], %[[L]]] : memref<1x2x2x4xf32>
// CHECK-NEXT:          memref.store %[[V]], %[[Y]][%[[C1]], %[[H]], %[[W]], %[[L]]] : memref<2x2x2x4xf32>
// CHECK:         func.return

// Concat of 3 + 2 channels: the second input starts at channel 3, inside
// block 0, so its block and lane come from the channel index.
func.func @concat_unaligned(%a: memref<1x1x1x4xf32>, %b: memref<1x1x1x4xf32>, %y: memref<2x1x1x4xf32>) {
  small.concat %a, %b into %y {channels = array<i64: 3, 2>, c_ob = 4 : i64} : memref<1x1x1x4xf32>, memref<1x1x1x4xf32> into memref<2x1x1x4xf32>
  func.return
}

// CHECK-LABEL: func.func @concat_unaligned(
// CHECK-SAME:      %[[A:[a-z0-9_]+]]: memref<1x1x1x4xf32>, %[[B:[a-z0-9_]+]]: memref<1x1x1x4xf32>, %[[Y:[a-z0-9_]+]]: memref<2x1x1x4xf32>)
// CHECK-DAG:     %[[C0:[a-z0-9_]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[a-z0-9_]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[a-z0-9_]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[a-z0-9_]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C4:[a-z0-9_]+]] = arith.constant 4 : index
// CHECK:         scf.for %[[L:[a-z0-9_]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:      %[[V:[a-z0-9_]+]] = memref.load %[[A]][%{{.*}}, %{{.*}}, %{{.*}}, %[[L]]] : memref<1x1x1x4xf32>
// CHECK-NEXT:      memref.store %[[V]], %[[Y]][%{{.*}}, %{{.*}}, %{{.*}}, %[[L]]] : memref<2x1x1x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    scf.for %[[L:[a-z0-9_]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:      %[[C:[a-z0-9_]+]] = arith.addi %[[L]], %[[C3]] : index
// CHECK-NEXT:      %[[CB:[a-z0-9_]+]] = arith.divui %[[C]], %[[C4]] : index
// CHECK-NEXT:      %[[CL:[a-z0-9_]+]] = arith.remui %[[C]], %[[C4]] : index
// CHECK-NEXT:      %[[V:[a-z0-9_]+]] = memref.load %[[B]][%{{.*}}, %{{.*}}, %{{.*}}, %[[L]]] : memref<1x1x1x4xf32>
// CHECK-NEXT:      memref.store %[[V]], %[[Y]][%[[CB]], %{{.*}}, %{{.*}}, %[[CL]]] : memref<2x1x1x4xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

// An NHWC image read as one block of its 3 channels: the same memref type,
// every element at the same offset. The convert copies nothing: its buffer
// goes, and the layer reads the function's input.
func.func @same_layout_in(%x: memref<1x4x4x3xf32>, %y: memref<1x4x4x3xf32>) {
  %b = memref.alloc() : memref<1x4x4x3xf32>
  small.convert %x into %b {src_channels = 3 : i64, src_block = 0 : i64, dst_channels = 3 : i64, dst_block = 3 : i64, nhwc} : memref<1x4x4x3xf32> into memref<1x4x4x3xf32>
  small.layer "copy" %b : memref<1x4x4x3xf32> into %y : memref<1x4x4x3xf32> {g = 3 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 3 : i64, w_ob = 4 : i64}
  func.return
}

// CHECK-LABEL: func.func @same_layout_in(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x4x4x3xf32>, %[[Y:[a-z0-9_]+]]: memref<1x4x4x3xf32>)
// CHECK-NOT:     memref.alloc
// CHECK-NEXT:    small.layer "copy" %[[X]] : memref<1x4x4x3xf32> into %[[Y]]
// CHECK-NEXT:    func.return

// ...and on the way out, the layer writes the function's output.
func.func @same_layout_out(%x: memref<1x4x4x3xf32>, %y: memref<1x4x4x3xf32>) {
  %b = memref.alloc() : memref<1x4x4x3xf32>
  small.layer "copy" %x : memref<1x4x4x3xf32> into %b : memref<1x4x4x3xf32> {g = 3 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 3 : i64, w_ob = 4 : i64}
  small.convert %b into %y {src_channels = 3 : i64, src_block = 3 : i64, dst_channels = 3 : i64, dst_block = 0 : i64, nhwc} : memref<1x4x4x3xf32> into memref<1x4x4x3xf32>
  func.return
}

// CHECK-LABEL: func.func @same_layout_out(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x4x4x3xf32>, %[[Y:[a-z0-9_]+]]: memref<1x4x4x3xf32>)
// CHECK-NEXT:    small.layer "copy" %[[X]] : memref<1x4x4x3xf32> into %[[Y]]
// CHECK-NEXT:    func.return

// NCHW with one channel is another memref type (1x1xHxW, blocked HxWx1): a copy.
func.func @other_type(%x: memref<1x1x4x4xf32>, %y: memref<1x4x4x1xf32>) {
  small.convert %x into %y {src_channels = 1 : i64, src_block = 0 : i64, dst_channels = 1 : i64, dst_block = 1 : i64} : memref<1x1x4x4xf32> into memref<1x4x4x1xf32>
  func.return
}

// CHECK-LABEL: func.func @other_type(
// CHECK:         memref.load
// CHECK:         memref.store
