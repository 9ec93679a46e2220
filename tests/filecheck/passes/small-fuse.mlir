// RUN: small-opt %s -p small-fuse | filecheck %s

// small-fuse folds element-wise `copy` layers into the tile store of the layer
// that produces their input. The input is written at the small level, so the
// test depends on small-fuse alone. Activations are relu6: clamp_min 0 and
// clamp_max 6 (a relu has clamp_min only).

"memref.global"() <{sym_name = "w", type = memref<4x4x3x3xf32>, initial_value = dense<0.5> : tensor<4x4x3x3xf32>, sym_visibility = "private", constant}> : () -> ()

// A relu6 becomes the conv's clamp; its temporary buffer and the copy go away.
func.func @conv_relu6(%x: memref<1x4x4x4xf32>, %y: memref<1x4x4x4xf32>) {
  %w = memref.get_global @w : memref<4x4x3x3xf32>
  %a = memref.alloc() : memref<1x4x4x4xf32>
  small.layer "conv" %x : memref<1x4x4x4xf32> weights %w : memref<4x4x3x3xf32> into %a : memref<1x4x4x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 0 : i64, w_ob = 1 : i64}
  small.layer "copy" %a : memref<1x4x4x4xf32> into %y : memref<1x4x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, clamp_min = 0.0 : f32, clamp_max = 6.0 : f32}
  func.return
}

// CHECK-LABEL: func.func @conv_relu6(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x4x4x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x4x4x4xf32>)
// CHECK-NEXT:    %[[W:[a-z0-9_]+]] = memref.get_global @w
// CHECK-NEXT:    small.layer "conv" %[[X]] : memref<1x4x4x4xf32> weights %[[W]] : memref<4x4x3x3xf32> into %[[Y]] : memref<1x4x4x4xf32>
// CHECK-SAME:      clamp_min = 0.000000e+00 : f32, clamp_max = 6.000000e+00 : f32}
// CHECK-NEXT:    func.return

// conv -> add -> relu6: the residual add becomes `other` with `combine = "add"`,
// then the relu6 the clamp applied after it. The relu6 wrote a temporary (%r),
// whose alloc moves before the fused layer.
func.func @conv_add_relu6(%x: memref<1x4x4x4xf32>, %y: memref<1x4x2x2xf32>) {
  %w = memref.get_global @w : memref<4x4x3x3xf32>
  %a = memref.alloc() : memref<1x4x4x4xf32>
  small.layer "conv" %x : memref<1x4x4x4xf32> weights %w : memref<4x4x3x3xf32> into %a : memref<1x4x4x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 0 : i64, w_ob = 1 : i64}
  %s = memref.alloc() : memref<1x4x4x4xf32>
  small.layer "copy" %a : memref<1x4x4x4xf32> other %x : memref<1x4x4x4xf32> into %s : memref<1x4x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, combine = "add"}
  %r = memref.alloc() : memref<1x4x4x4xf32>
  small.layer "copy" %s : memref<1x4x4x4xf32> into %r : memref<1x4x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, clamp_min = 0.0 : f32, clamp_max = 6.0 : f32}
  small.layer "max" %r : memref<1x4x4x4xf32> into %y : memref<1x4x2x2xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 2, 2>, strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64}
  func.return
}

// CHECK-LABEL: func.func @conv_add_relu6(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x4x4x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x4x2x2xf32>)
// CHECK-NEXT:    %[[W:[a-z0-9_]+]] = memref.get_global @w
// CHECK-NEXT:    %[[R:[a-z0-9_]+]] = memref.alloc() : memref<1x4x4x4xf32>
// CHECK-NEXT:    small.layer "conv" %[[X]] : memref<1x4x4x4xf32> weights %[[W]] : memref<4x4x3x3xf32> other %[[X]] : memref<1x4x4x4xf32> into %[[R]] : memref<1x4x4x4xf32>
// CHECK-SAME:      combine = "add", clamp_min = 0.000000e+00 : f32, clamp_max = 6.000000e+00 : f32}
// CHECK-NEXT:    small.layer "max" %[[R]] : memref<1x4x4x4xf32> into %[[Y]] : memref<1x4x2x2xf32>
// CHECK-NEXT:    func.return

// The producer may be either operand of the add: here it is the second one,
// and the first becomes `other`.
func.func @add_producer_second(%x: memref<1x4x4x4xf32>, %y: memref<1x4x4x4xf32>) {
  %w = memref.get_global @w : memref<4x4x3x3xf32>
  %a = memref.alloc() : memref<1x4x4x4xf32>
  small.layer "conv" %x : memref<1x4x4x4xf32> weights %w : memref<4x4x3x3xf32> into %a : memref<1x4x4x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 0 : i64, w_ob = 1 : i64}
  small.layer "copy" %x : memref<1x4x4x4xf32> other %a : memref<1x4x4x4xf32> into %y : memref<1x4x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, combine = "add"}
  func.return
}

// CHECK-LABEL: func.func @add_producer_second(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x4x4x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x4x4x4xf32>)
// CHECK-NEXT:    %[[W:[a-z0-9_]+]] = memref.get_global @w
// CHECK-NEXT:    small.layer "conv" %[[X]] : memref<1x4x4x4xf32> weights %[[W]] : memref<4x4x3x3xf32> other %[[X]] : memref<1x4x4x4xf32> into %[[Y]] : memref<1x4x4x4xf32>
// CHECK-SAME:      combine = "add"}
// CHECK-NEXT:    func.return

// conv -> relu6 -> add: the relu6 fuses, but the add cannot follow it (the
// combine runs before the activation), so the add stays a separate layer.
func.func @relu6_then_add(%x: memref<1x4x4x4xf32>, %y: memref<1x4x4x4xf32>) {
  %w = memref.get_global @w : memref<4x4x3x3xf32>
  %a = memref.alloc() : memref<1x4x4x4xf32>
  small.layer "conv" %x : memref<1x4x4x4xf32> weights %w : memref<4x4x3x3xf32> into %a : memref<1x4x4x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 0 : i64, w_ob = 1 : i64}
  %r = memref.alloc() : memref<1x4x4x4xf32>
  small.layer "copy" %a : memref<1x4x4x4xf32> into %r : memref<1x4x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, clamp_min = 0.0 : f32, clamp_max = 6.0 : f32}
  small.layer "copy" %r : memref<1x4x4x4xf32> other %x : memref<1x4x4x4xf32> into %y : memref<1x4x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, combine = "add"}
  func.return
}

// CHECK-LABEL: func.func @relu6_then_add(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x4x4x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x4x4x4xf32>)
// CHECK-NEXT:    %[[W:[a-z0-9_]+]] = memref.get_global @w
// CHECK-NEXT:    %[[R:[a-z0-9_]+]] = memref.alloc() : memref<1x4x4x4xf32>
// CHECK-NEXT:    small.layer "conv" %[[X]] : memref<1x4x4x4xf32> weights %[[W]] : memref<4x4x3x3xf32> into %[[R]] : memref<1x4x4x4xf32>
// CHECK-NOT:       combine
// CHECK-SAME:      clamp_min = 0.000000e+00 : f32, clamp_max = 6.000000e+00 : f32}
// CHECK-NEXT:    small.layer "copy" %[[R]] : memref<1x4x4x4xf32> other %[[X]] : memref<1x4x4x4xf32> into %[[Y]] : memref<1x4x4x4xf32>
// CHECK-SAME:      combine = "add"}
// CHECK-NEXT:    func.return

// A producer that already has an activation takes no second one.
func.func @relu6_leaky(%x: memref<1x4x4x4xf32>, %y: memref<1x4x4x4xf32>) {
  %w = memref.get_global @w : memref<4x4x3x3xf32>
  %a = memref.alloc() : memref<1x4x4x4xf32>
  small.layer "conv" %x : memref<1x4x4x4xf32> weights %w : memref<4x4x3x3xf32> into %a : memref<1x4x4x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 0 : i64, w_ob = 1 : i64, clamp_min = 0.0 : f32, clamp_max = 6.0 : f32}
  small.layer "copy" %a : memref<1x4x4x4xf32> into %y : memref<1x4x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, leaky = 1.0e-01 : f32}
  func.return
}

// CHECK-LABEL: func.func @relu6_leaky(
// CHECK:         small.layer "conv" {{.*}}clamp_min = 0.000000e+00 : f32, clamp_max = 6.000000e+00 : f32}
// CHECK-NEXT:    small.layer "copy" {{.*}}leaky = 1.000000e-01 : f32}
// CHECK-NEXT:    func.return

// The conv output has two users: nothing fuses.
func.func @two_users(%x: memref<1x4x4x4xf32>, %y: memref<1x4x4x4xf32>, %z: memref<1x4x4x4xf32>) {
  %w = memref.get_global @w : memref<4x4x3x3xf32>
  %a = memref.alloc() : memref<1x4x4x4xf32>
  small.layer "conv" %x : memref<1x4x4x4xf32> weights %w : memref<4x4x3x3xf32> into %a : memref<1x4x4x4xf32> {g = 1 : i64, k = 4 : i64, f_c = 4 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, c_ob = 0 : i64, w_ob = 1 : i64}
  small.layer "copy" %a : memref<1x4x4x4xf32> into %y : memref<1x4x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, clamp_min = 0.0 : f32, clamp_max = 6.0 : f32}
  small.layer "copy" %a : memref<1x4x4x4xf32> other %x : memref<1x4x4x4xf32> into %z : memref<1x4x4x4xf32> {g = 4 : i64, k = 1 : i64, f_c = 1 : i64, in_hw = array<i64: 4, 4>, filter = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, c_ob = 0 : i64, w_ob = 1 : i64, combine = "add"}
  func.return
}

// CHECK-LABEL: func.func @two_users(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x4x4x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x4x4x4xf32>, %[[Z:[a-z0-9_]+]]: memref<1x4x4x4xf32>)
// CHECK-NEXT:    %[[W:[a-z0-9_]+]] = memref.get_global @w
// CHECK-NEXT:    %[[A:[a-z0-9_]+]] = memref.alloc() : memref<1x4x4x4xf32>
// CHECK-NEXT:    small.layer "conv" %[[X]] : memref<1x4x4x4xf32> weights %[[W]] : memref<4x4x3x3xf32> into %[[A]] : memref<1x4x4x4xf32>
// CHECK-NOT:       clamp
// CHECK-SAME:      w_ob = 1 : i64}
// CHECK-NEXT:    small.layer "copy" %[[A]] : memref<1x4x4x4xf32> into %[[Y]] : memref<1x4x4x4xf32> {{.*}}clamp
// CHECK-NEXT:    small.layer "copy" %[[A]] : memref<1x4x4x4xf32> other %[[X]] : memref<1x4x4x4xf32> into %[[Z]] : memref<1x4x4x4xf32> {{.*}}combine = "add"
// CHECK-NEXT:    func.return
