// RUN: small-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @weights_shape(%x: memref<1x9x9x16xf32>, %w: memref<1x1x3x3x16x8xf32>, %y: memref<1x4x4x16xf32>) {
  small.layer "conv" %x : memref<1x9x9x16xf32> weights %w : memref<1x1x3x3x16x8xf32> into %y : memref<1x4x4x16xf32> {g = 1 : i64, k = 8 : i64, f_c = 3 : i64, in_hw = array<i64: 9, 9>, filter = array<i64: 3, 3>, strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 0, 0>, c_ob = 16 : i64, w_ob = 6 : i64}
  func.return
}
// CHECK: small.layer conv: weights 1x1x3x3x16x8 should be 1x1x3x3x16x16

// -----

func.func @output_type(%x: memref<1x4x4x16xf32>, %y: memref<1x4x3x16xf32>) {
  small.layer "max" %x : memref<1x4x4x16xf32> into %y : memref<1x4x3x16xf32> {g = 8 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 2, 2>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 16 : i64, w_ob = 6 : i64}
  func.return
}
// CHECK: small.layer max: output type 1x4x3x16 does not hold 8 channels x 3 x 3 (blocked by 16)

// -----

func.func @copy_window(%x: memref<1x4x4x16xf32>, %y: memref<1x4x4x16xf32>) {
  small.layer "copy" %x : memref<1x4x4x16xf32> into %y : memref<1x4x4x16xf32> {g = 8 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 1, 0, 0>, c_ob = 16 : i64, w_ob = 6 : i64}
  func.return
}
// CHECK: small.layer copy: copy is a 1x1 window with stride 1 and no padding

// -----

func.func @two_activations(%x: memref<1x4x4x16xf32>, %y: memref<1x4x4x16xf32>) {
  small.layer "copy" %x : memref<1x4x4x16xf32> into %y : memref<1x4x4x16xf32> {g = 8 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 16 : i64, w_ob = 6 : i64, clamp_min = 0.0 : f32, clamp_max = 6.0 : f32, leaky = 0.1 : f32}
  func.return
}
// CHECK: small.layer copy: one activation at most: clamp, leaky or sigmoid

// -----

func.func @combine_without_other(%x: memref<1x4x4x16xf32>, %y: memref<1x4x4x16xf32>) {
  small.layer "copy" %x : memref<1x4x4x16xf32> into %y : memref<1x4x4x16xf32> {g = 8 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 16 : i64, w_ob = 6 : i64, combine = "add"}
  func.return
}
// CHECK: small.layer copy: `other` and `combine` go together

// -----

func.func @convert_sizes(%x: memref<1x3x8x8xf32>, %y: memref<1x8x7x16xf32>) {
  small.convert %x into %y {src_channels = 3 : i64, src_block = 0 : i64, dst_channels = 3 : i64, dst_block = 16 : i64} : memref<1x3x8x8xf32> into memref<1x8x7x16xf32>
  func.return
}
// CHECK: small.convert: 192 elements in, 168 out
