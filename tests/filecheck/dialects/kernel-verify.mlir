// RUN: small-opt %s --split-input-file --verify-diagnostics | filecheck %s

func.func @indices(%x: memref<1x8x8x16xf32>) {
  %c0 = arith.constant 0 : index
  %t = kernel.tile : !kernel.tile<6x16xf32>
  kernel.load %t, %x[%c0, %c0, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>
  func.return
}
// CHECK: kernel.load: 3 indices for a memref of rank 4

// -----

func.func @stride(%x: memref<1x8x8x16xf32>) {
  %c0 = arith.constant 0 : index
  %t = kernel.tile : !kernel.tile<6x16xf32>
  kernel.store %t, %x[%c0, %c0, %c0, %c0] pixel_stride 0 : !kernel.tile<6x16xf32>, memref<1x8x8x16xf32>
  func.return
}
// CHECK: kernel.store: pixel_stride must be >= 1, got 0

// -----

func.func @element_type(%x: memref<1x8x8x16xi32>) {
  %c0 = arith.constant 0 : index
  %t = kernel.tile : !kernel.tile<6x16xf32>
  kernel.max %t, %x[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<6x16xf32>, memref<1x8x8x16xi32>
  func.return
}
// CHECK: kernel.max: memref elements i32 differ from the tile's f32

// -----

func.func @empty_tile() {
  %t = kernel.tile : !kernel.tile<0x16xf32>
  func.return
}
// CHECK: kernel.tile needs at least one pixel and one lane

// -----

func.func @tile_types() {
  %t = kernel.tile : !kernel.tile<6x16xf32>
  %u = kernel.tile : !kernel.tile<1x16xf32>
  kernel.copy_tile %t, %u {scale = 2.0 : f32} : !kernel.tile<6x16xf32>, !kernel.tile<1x16xf32>
  func.return
}
// CHECK: kernel.copy_tile: tiles !kernel.tile<6x16xf32> and !kernel.tile<1x16xf32> differ
