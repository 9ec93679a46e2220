// RUN: small-opt %s -p 'small-layout{c_ob=8 w_ob=3 narrow_block=4 narrow_w_ob=6}' | filecheck %s

// With narrow_block=4, an activation of at most 4 channels is blocked by 4
// instead of 8: no lanes of zeros. The layers writing one get the narrow tile
// width; a conv reads its input in that input's block, so its weights are
// [K/8][F_c/4][Fh][Fw][4 ci][8 co]; a concat reads each input in its own block.

"memref.global"() <{sym_name = "squeeze", type = memref<3x16x1x1xf32>, initial_value = dense<0.5> : tensor<3x16x1x1xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "dw", type = memref<3x1x3x3xf32>, initial_value = dense<0.25> : tensor<3x1x3x3xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "expand", type = memref<10x3x1x1xf32>, initial_value = dense<1.0> : tensor<10x3x1x1xf32>, sym_visibility = "private", constant}> : () -> ()

// CHECK-DAG:  "memref.global"() <{sym_name = "[[SQUEEZE:[a-z0-9_]+]]", type = memref<1x2x1x1x8x4xf32>, {{.*}}constant}>
// CHECK-DAG:  "memref.global"() <{sym_name = "[[DW:[a-z0-9_]+]]", type = memref<1x3x3x4xf32>, {{.*}}constant}>
// CHECK-DAG:  "memref.global"() <{sym_name = "[[EXPAND:[a-z0-9_]+]]", type = memref<2x1x1x1x4x8xf32>, {{.*}}constant}>

func.func @net(%x: memref<1x16x4x4xf32>, %y: memref<1x13x4x4xf32>) {
  %ws = memref.get_global @squeeze : memref<3x16x1x1xf32>
  %wd = memref.get_global @dw : memref<3x1x3x3xf32>
  %we = memref.get_global @expand : memref<10x3x1x1xf32>
  %a = memref.alloc() : memref<1x3x4x4xf32>
  small.layer "conv" %x : memref<1x16x4x4xf32> weights %ws : memref<3x16x1x1xf32> into %a : memref<1x3x4x4xf32> {g = 1 : i64, k = 3 : i64, f_c = 16 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64}
  %b = memref.alloc() : memref<1x3x4x4xf32>
  small.layer "dwconv" %a : memref<1x3x4x4xf32> weights %wd : memref<3x1x3x3xf32> into %b : memref<1x3x4x4xf32> {g = 3 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 0 : i64, w_ob = 1 : i64}
  %c = memref.alloc() : memref<1x10x4x4xf32>
  small.layer "conv" %b : memref<1x3x4x4xf32> weights %we : memref<10x3x1x1xf32> into %c : memref<1x10x4x4xf32> {g = 1 : i64, k = 10 : i64, f_c = 3 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64}
  small.concat %b, %c into %y {channels = array<i64: 3, 10>, c_ob = 0 : i64} : memref<1x3x4x4xf32>, memref<1x10x4x4xf32> into memref<1x13x4x4xf32>
  func.return
}

// CHECK-LABEL: func.func @net(
// CHECK:         %[[A:[a-z0-9_]+]] = memref.alloc() : memref<1x4x4x4xf32>
// CHECK:         small.layer "conv" %{{.*}} : memref<2x4x4x8xf32> weights %{{.*}} : memref<1x2x1x1x8x4xf32> into %[[A]] : memref<1x4x4x4xf32>
// CHECK-SAME:      c_ob = 4 : i64, w_ob = 6 : i64
// CHECK:         %[[B:[a-z0-9_]+]] = memref.alloc() : memref<1x4x4x4xf32>
// CHECK:         small.layer "dwconv" %[[A]] : memref<1x4x4x4xf32> weights %{{.*}} : memref<1x3x3x4xf32> into %[[B]] : memref<1x4x4x4xf32>
// CHECK-SAME:      c_ob = 4 : i64, w_ob = 6 : i64
// CHECK:         %[[C:[a-z0-9_]+]] = memref.alloc() : memref<2x4x4x8xf32>
// CHECK:         small.layer "conv" %[[B]] : memref<1x4x4x4xf32> weights %{{.*}} : memref<2x1x1x1x4x8xf32> into %[[C]] : memref<2x4x4x8xf32>
// CHECK-SAME:      c_ob = 8 : i64, w_ob = 3 : i64
// CHECK:         small.concat %[[B]], %[[C]] into %[[OUT:[a-z0-9_]+]] {channels = array<i64: 3, 10>, c_ob = 8 : i64} : memref<1x4x4x4xf32>, memref<2x4x4x8xf32> into memref<2x4x4x8xf32>
// CHECK-NEXT:    small.convert %[[OUT]] into %{{.*}} {src_channels = 13 : i64, src_block = 8 : i64, dst_channels = 13 : i64, dst_block = 0 : i64}
