// RUN: small-opt %s -p 'small-layout{c_ob=4 w_ob=2}' | filecheck %s

// small-layout blocks every activation as [C/4][H][W][4], converts only at the
// function's boundary, packs weights at compile time (zero-padded to whole
// blocks) and drops the 1xCx1x1 -> 1xC reshape, which moves no data in the
// blocked layout.

"memref.global"() <{sym_name = "w", type = memref<6x3x3x3xf32>, initial_value = dense<0.5> : tensor<6x3x3x3xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "b", type = memref<6xf32>, initial_value = dense<0.1> : tensor<6xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "dw", type = memref<6x1x3x3xf32>, initial_value = dense<0.25> : tensor<6x1x3x3xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "pw", type = memref<2x2x1x1xf32>, initial_value = dense<[[[[1.0]], [[2.0]]], [[[3.0]], [[4.0]]]]> : tensor<2x2x1x1xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "pb", type = memref<2xf32>, initial_value = dense<[5.0, 6.0]> : tensor<2xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "pdw", type = memref<2x1x1x2xf32>, initial_value = dense<[[[[1.0, 2.0]]], [[[3.0, 4.0]]]]> : tensor<2x1x1x2xf32>, sym_visibility = "private", constant}> : () -> ()

// The packed constants replace the original weights, which are erased.
// conv [K/4][C/3][Fh][Fw][3 ci][4 co] (its input is one exact block of 3): 6x3x3x3 -> 2x1x3x3x3x4.
// CHECK-DAG:  "memref.global"() <{sym_name = "[[W:[a-z0-9_]+]]", type = memref<2x1x3x3x3x4xf32>, {{.*}}constant}>
// bias [K/4][4], zero-padded: 6 -> 2x4.
// CHECK-DAG:  "memref.global"() <{sym_name = "[[B:[a-z0-9_]+]]", type = memref<2x4xf32>, initial_value = dense<{{\[\[}}1.000000e-01, 1.000000e-01, 1.000000e-01, 1.000000e-01], [1.000000e-01, 1.000000e-01, 0.000000e+00, 0.000000e+00]]>
// depthwise [C/4][Fh][Fw][4]: 6x1x3x3 -> 2x3x3x4.
// CHECK-DAG:  "memref.global"() <{sym_name = "[[DW:[a-z0-9_]+]]", type = memref<2x3x3x4xf32>, {{.*}}constant}>
// With distinct values: conv weight w[co][ci] lands at [ci][co] of the 2x4 block
// (2 input channels, one exact block: the input is read by this conv only).
// CHECK-DAG:  "memref.global"() <{sym_name = "[[PW:[a-z0-9_]+]]", type = memref<1x1x1x1x2x4xf32>, initial_value = dense<{{\[\[\[\[\[\[}}1.000000e+00, 3.000000e+00, 0.000000e+00, 0.000000e+00], [2.000000e+00, 4.000000e+00, 0.000000e+00, 0.000000e+00]]]]]]>
// CHECK-DAG:  "memref.global"() <{sym_name = "[[PB:[a-z0-9_]+]]", type = memref<1x4xf32>, initial_value = dense<{{\[\[}}5.000000e+00, 6.000000e+00, 0.000000e+00, 0.000000e+00]]>
// Depthwise w[c][0][0][kw] lands at [0][kw][c].
// CHECK-DAG:  "memref.global"() <{sym_name = "[[PDW:[a-z0-9_]+]]", type = memref<1x1x2x4xf32>, initial_value = dense<{{\[\[\[\[}}1.000000e+00, 3.000000e+00, 0.000000e+00, 0.000000e+00], [2.000000e+00, 4.000000e+00, 0.000000e+00, 0.000000e+00]]]]>
// CHECK-NOT:  "memref.global"

func.func @net(%x: memref<1x3x5x5xf32>, %y: memref<1x6xf32>) {
  %w = memref.get_global @w : memref<6x3x3x3xf32>
  %b = memref.get_global @b : memref<6xf32>
  %dw = memref.get_global @dw : memref<6x1x3x3xf32>
  %a = memref.alloc() : memref<1x6x5x5xf32>
  small.layer "conv" %x : memref<1x3x5x5xf32> weights %w : memref<6x3x3x3xf32> bias %b : memref<6xf32> into %a : memref<1x6x5x5xf32> {g = 1 : i64, k = 6 : i64, f_c = 3 : i64, in_hw = array<i64: 5, 5>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 0 : i64, w_ob = 1 : i64}
  %c = memref.alloc() : memref<1x6x3x3xf32>
  small.layer "dwconv" %a : memref<1x6x5x5xf32> weights %dw : memref<6x1x3x3xf32> into %c : memref<1x6x3x3xf32> {g = 6 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 5, 5>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64}
  %g = memref.alloc() : memref<1x6x1x1xf32>
  small.layer "avg" %c : memref<1x6x3x3xf32> into %g : memref<1x6x1x1xf32> {g = 6 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 3, 3>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64}
  %f = memref.alloc() : memref<1x6xf32>
  small.convert %g into %f {src_channels = 6 : i64, src_block = 0 : i64, dst_channels = 6 : i64, dst_block = 0 : i64} : memref<1x6x1x1xf32> into memref<1x6xf32>
  small.softmax %f into %y {channels = 6 : i64, c_ob = 0 : i64} : memref<1x6xf32> into memref<1x6xf32>
  func.return
}

// CHECK-LABEL: func.func @net(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x3x5x5xf32>, %[[Y:[a-z0-9_]+]]: memref<1x6xf32>)
// The input argument is converted once, at entry, before any layer. Only a conv
// reads its 3 channels, so they are one exact block of 3, not padded to 4.
// CHECK-NEXT:    %[[IN:[a-z0-9_]+]] = memref.alloc() : memref<1x5x5x3xf32>
// CHECK-NEXT:    small.convert %[[X]] into %[[IN]] {src_channels = 3 : i64, src_block = 0 : i64, dst_channels = 3 : i64, dst_block = 3 : i64} : memref<1x3x5x5xf32> into memref<1x5x5x3xf32>
// CHECK-NEXT:    %[[A:[a-z0-9_]+]] = memref.alloc() : memref<2x5x5x4xf32>
// CHECK-NEXT:    %[[WV:[a-z0-9_]+]] = memref.get_global @[[W]] : memref<2x1x3x3x3x4xf32>
// CHECK-NEXT:    %[[BV:[a-z0-9_]+]] = memref.get_global @[[B]] : memref<2x4xf32>
// CHECK-NEXT:    small.layer "conv" %[[IN]] : memref<1x5x5x3xf32> weights %[[WV]] : memref<2x1x3x3x3x4xf32> bias %[[BV]] : memref<2x4xf32> into %[[A]] : memref<2x5x5x4xf32>
// CHECK-SAME:      {g = 1 : i64, k = 6 : i64, f_c = 3 : i64, {{.*}}, c_ob = 4 : i64, w_ob = 2 : i64}
// CHECK-NEXT:    %[[C:[a-z0-9_]+]] = memref.alloc() : memref<2x3x3x4xf32>
// CHECK-NEXT:    %[[DWV:[a-z0-9_]+]] = memref.get_global @[[DW]] : memref<2x3x3x4xf32>
// CHECK-NEXT:    small.layer "dwconv" %[[A]] : memref<2x5x5x4xf32> weights %[[DWV]] : memref<2x3x3x4xf32> into %[[C]] : memref<2x3x3x4xf32>
// CHECK-SAME:      c_ob = 4 : i64, w_ob = 2 : i64}
// CHECK-NEXT:    %[[G:[a-z0-9_]+]] = memref.alloc() : memref<2x1x1x4xf32>
// CHECK-NEXT:    small.layer "avg" %[[C]] : memref<2x3x3x4xf32> into %[[G]] : memref<2x1x1x4xf32>
// CHECK-SAME:      c_ob = 4 : i64, w_ob = 2 : i64}
// The output argument is written through a blocked buffer (6 channels -> 2x1x1x4),
// allocated just before its writer so that its life in the arena is short.
// The reshape is gone: softmax reads the pooled buffer directly.
// CHECK-NEXT:    %[[OUT:[a-z0-9_]+]] = memref.alloc() : memref<2x1x1x4xf32>
// CHECK-NEXT:    small.softmax %[[G]] into %[[OUT]] {channels = 6 : i64, c_ob = 4 : i64} : memref<2x1x1x4xf32> into memref<2x1x1x4xf32>
// CHECK-NEXT:    small.convert %[[OUT]] into %[[Y]] {src_channels = 6 : i64, src_block = 4 : i64, dst_channels = 6 : i64, dst_block = 0 : i64} : memref<2x1x1x4xf32> into memref<1x6xf32>
// CHECK-NEXT:    func.return

func.func @pack(%x: memref<1x2x1x3xf32>, %y: memref<1x2x1x2xf32>) {
  %pw = memref.get_global @pw : memref<2x2x1x1xf32>
  %pb = memref.get_global @pb : memref<2xf32>
  %pdw = memref.get_global @pdw : memref<2x1x1x2xf32>
  %a = memref.alloc() : memref<1x2x1x3xf32>
  small.layer "conv" %x : memref<1x2x1x3xf32> weights %pw : memref<2x2x1x1xf32> bias %pb : memref<2xf32> into %a : memref<1x2x1x3xf32> {g = 1 : i64, k = 2 : i64, f_c = 2 : i64, in_hw = array<i64: 1, 3>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64}
  small.layer "dwconv" %a : memref<1x2x1x3xf32> weights %pdw : memref<2x1x1x2xf32> into %y : memref<1x2x1x2xf32> {g = 2 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 1, 3>, filter = array<i64: 1, 2>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64}
  func.return
}

// CHECK-LABEL: func.func @pack(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x2x1x3xf32>, %[[Y:[a-z0-9_]+]]: memref<1x2x1x2xf32>)
// CHECK-NEXT:    %[[IN:[a-z0-9_]+]] = memref.alloc() : memref<1x1x3x2xf32>
// CHECK-NEXT:    small.convert %[[X]] into %[[IN]] {{.*}} : memref<1x2x1x3xf32> into memref<1x1x3x2xf32>
// CHECK-NEXT:    %[[A:[a-z0-9_]+]] = memref.alloc() : memref<1x1x3x4xf32>
// CHECK-NEXT:    %[[WV:[a-z0-9_]+]] = memref.get_global @[[PW]] : memref<1x1x1x1x2x4xf32>
// CHECK-NEXT:    %[[BV:[a-z0-9_]+]] = memref.get_global @[[PB]] : memref<1x4xf32>
// CHECK-NEXT:    small.layer "conv" %[[IN]] : memref<1x1x3x2xf32> weights %[[WV]] : memref<1x1x1x1x2x4xf32> bias %[[BV]] : memref<1x4xf32> into %[[A]] : memref<1x1x3x4xf32>
// CHECK-NEXT:    %[[OUT:[a-z0-9_]+]] = memref.alloc() : memref<1x1x2x4xf32>
// CHECK-NEXT:    %[[DWV:[a-z0-9_]+]] = memref.get_global @[[PDW]] : memref<1x1x2x4xf32>
// CHECK-NEXT:    small.layer "dwconv" %[[A]] : memref<1x1x3x4xf32> weights %[[DWV]] : memref<1x1x2x4xf32> into %[[OUT]] : memref<1x1x2x4xf32>
// CHECK-NEXT:    small.convert %[[OUT]] into %[[Y]] {src_channels = 2 : i64, src_block = 4 : i64, dst_channels = 2 : i64, dst_block = 0 : i64} : memref<1x1x2x4xf32> into memref<1x2x1x2xf32>
// CHECK-NEXT:    func.return
