// RUN: small-opt %s -p nn-to-small | filecheck %s
// The output parses again, so a pipeline can be split across tool runs:
// RUN: small-opt %s -p nn-to-small | small-opt -p small-fuse | filecheck %s --check-prefix=SPLIT

"memref.global"() <{sym_name = "w", type = memref<4x2x3x3xf32>, initial_value = dense<0.5> : tensor<4x2x3x3xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "dw", type = memref<4x1x3x3xf32>, initial_value = dense<0.25> : tensor<4x1x3x3xf32>, sym_visibility = "private", constant}> : () -> ()
"memref.global"() <{sym_name = "fc", type = memref<3x16xf32>, initial_value = dense<1.0> : tensor<3x16xf32>, sym_visibility = "private", constant}> : () -> ()

func.func @net(%x: memref<1x2x4x4xf32>, %y: memref<1x3xf32>) {
  %w = memref.get_global @w : memref<4x2x3x3xf32>
  %dw = memref.get_global @dw : memref<4x1x3x3xf32>
  %fc = memref.get_global @fc : memref<3x16xf32>
  %a = memref.alloc() : memref<1x4x4x4xf32>
  nn.conv2d %x, %w into %a {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} : memref<1x2x4x4xf32>, memref<4x2x3x3xf32> into memref<1x4x4x4xf32>
  %b = memref.alloc() : memref<1x4x4x4xf32>
  nn.relu %a into %b : memref<1x4x4x4xf32> into memref<1x4x4x4xf32>
  %c = memref.alloc() : memref<1x4x2x2xf32>
  nn.conv2d %b, %dw into %c {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>, dilations = array<i64: 1, 1>, group = 4 : i64} : memref<1x4x4x4xf32>, memref<4x1x3x3xf32> into memref<1x4x2x2xf32>
  %d = memref.alloc() : memref<1x16xf32>
  nn.reshape %c into %d : memref<1x4x2x2xf32> into memref<1x16xf32>
  nn.dense %d, %fc into %y : memref<1x16xf32>, memref<3x16xf32> into memref<1x3xf32>
  func.return
}

// CHECK:      small.layer "conv" %{{.*}} : memref<1x2x4x4xf32> weights %{{.*}} : memref<4x2x3x3xf32> into %{{.*}} : memref<1x4x4x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 2 : i64, {{.*}}c_ob = 0 : i64
// CHECK:      small.layer "copy" {{.*}}clamp_min = 0.000000e+00 : f32}
// CHECK:      small.layer "dwconv" %{{.*}} : memref<1x4x4x4xf32> weights %{{.*}} : memref<4x1x3x3xf32> into %{{.*}} : memref<1x4x2x2xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64
// The flatten folds into the dense layer: a 2x2 filter over the 4x2x2 tensor.
// CHECK-NOT:  small.convert
// CHECK:      small.layer "conv" %{{.*}} : memref<1x4x2x2xf32> weights %{{.*}} : memref<3x4x2x2xf32> into %{{.*}} : memref<1x3xf32> {g = 1 : i64, k = 3 : i64, f_c = 4 : i64, in_hw = array<i64: 2, 2>, filter = array<i64: 2, 2>
// CHECK-NOT:  nn.

// SPLIT: small.layer "conv" {{.*}}clamp_min = 0.000000e+00 : f32}
// SPLIT-NOT: small.layer "copy"
