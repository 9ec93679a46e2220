// RUN: small-opt %s -p lower-kernel-to-scalar | filecheck %s
// RUN: small-opt %s -p lower-kernel-to-scalar | filecheck %s --check-prefix=NOKERNEL
// RUN: small-opt %s -p lower-kernel-to-scalar -t c | filecheck %s --check-prefix=C

// lower-kernel-to-scalar: the register tile becomes a `memref.alloca` (a local
// `float tile[W_ob * C_ob]` in C) and every kernel op a pixel x lane loop nest
// of scalar loads, arithmetic and stores.

// NOKERNEL-NOT: kernel.

// A conv microkernel: bias broadcast, one rank-1 update at pixel stride 2,
// relu6, store.
func.func @conv_tile(%x: memref<1x2x4x4xf32>, %w: memref<1x1x1x1x4x4xf32>, %b: memref<1x4xf32>, %y: memref<1x2x4x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %t = kernel.tile : !kernel.tile<2x4xf32>
  kernel.broadcast %t, %b[%c0, %c0] : !kernel.tile<2x4xf32>, memref<1x4xf32>
  kernel.fma %t, %x[%c0, %c1, %c0, %c1] pixel_stride 2, %w[%c0, %c0, %c0, %c0, %c1, %c0] : !kernel.tile<2x4xf32>, memref<1x2x4x4xf32>, memref<1x1x1x1x4x4xf32>
  kernel.clamp %t {min = 0.0 : f32, max = 6.0 : f32} : !kernel.tile<2x4xf32>
  kernel.store %t, %y[%c0, %c1, %c0, %c0] pixel_stride 1 : !kernel.tile<2x4xf32>, memref<1x2x4x4xf32>
  func.return
}

// CHECK-LABEL: func.func @conv_tile(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x2x4x4xf32>, %[[W:[a-z0-9_]+]]: memref<1x1x1x1x4x4xf32>, %[[B:[a-z0-9_]+]]: memref<1x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x2x4x4xf32>)
// The constants, once, at the start of the function.
// CHECK-DAG:     %[[C0:[a-z0-9_]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[a-z0-9_]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[a-z0-9_]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C4:[a-z0-9_]+]] = arith.constant 4 : index
// CHECK-DAG:     %[[LO:[a-z0-9_]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[HI:[a-z0-9_]+]] = arith.constant 6.000000e+00 : f32
// CHECK:         %[[T:[a-z0-9_]+]] = memref.alloca() : memref<2x4xf32>
// Broadcast: every pixel gets the 4 bias lanes.
// CHECK-NEXT:    scf.for %[[P:[a-z0-9_]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[L:[a-z0-9_]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:        %[[V:[a-z0-9_]+]] = memref.load %[[B]][%{{.*}}, %[[L]]] : memref<1x4xf32>
// CHECK-NEXT:        memref.store %[[V]], %[[T]][%[[P]], %[[L]]] : memref<2x4xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// FMA: input channel 1 of pixel p (column p * 2) times weight lane l.
// CHECK-NEXT:    scf.for %[[P:[a-z0-9_]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[L:[a-z0-9_]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:        %[[COL:[a-z0-9_]+]] = arith.muli %[[P]], %[[C2]] : index
// CHECK-NEXT:        %[[XV:[a-z0-9_]+]] = memref.load %[[X]][%{{.*}}, %{{.*}}, %[[COL]], %{{.*}}] : memref<1x2x4x4xf32>
// CHECK-NEXT:        %[[WV:[a-z0-9_]+]] = memref.load %[[W]][%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[L]]] : memref<1x1x1x1x4x4xf32>
// CHECK-NEXT:        %[[PROD:[a-z0-9_]+]] = arith.mulf %[[XV]], %[[WV]] : f32
// CHECK-NEXT:        %[[ACC:[a-z0-9_]+]] = memref.load %[[T]][%[[P]], %[[L]]] : memref<2x4xf32>
// CHECK-NEXT:        %[[SUM:[a-z0-9_]+]] = arith.addf %[[ACC]], %[[PROD]] : f32
// CHECK-NEXT:        memref.store %[[SUM]], %[[T]][%[[P]], %[[L]]] : memref<2x4xf32>
// Clamp: max with 0, then min with 6.
// CHECK:             %[[ACC:[a-z0-9_]+]] = memref.load %[[T]]
// CHECK-NEXT:        %[[M1:[a-z0-9_]+]] = arith.maximumf %[[ACC]], %[[LO]] : f32
// CHECK-NEXT:        %[[M2:[a-z0-9_]+]] = arith.minimumf %[[M1]], %[[HI]] : f32
// CHECK-NEXT:        memref.store %[[M2]], %[[T]]
// Store: tile -> output.
// CHECK:         scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:      scf.for %[[L:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:        %[[V:[a-z0-9_]+]] = memref.load %[[T]][%{{.*}}, %[[L]]] : memref<2x4xf32>
// CHECK-NEXT:        memref.store %[[V]], %[[Y]][%{{.*}}, %{{.*}}, %{{.*}}, %[[L]]] : memref<1x2x4x4xf32>
// CHECK-NEXT:      }
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return

// Lane-wise ops: max pooling from -inf, a depthwise FMA, scale, leaky relu.
func.func @lanewise(%x: memref<1x1x4x4xf32>, %dw: memref<1x1x1x4xf32>, %y: memref<1x1x4x4xf32>) {
  %c0 = arith.constant 0 : index
  %f = arith.constant 0.25 : f32
  %t = kernel.tile : !kernel.tile<2x4xf32>
  kernel.fill %t {value = 0xff800000 : f32} : !kernel.tile<2x4xf32>
  kernel.max %t, %x[%c0, %c0, %c0, %c0] pixel_stride 2 : !kernel.tile<2x4xf32>, memref<1x1x4x4xf32>
  kernel.lane_fma %t, %x[%c0, %c0, %c0, %c0] pixel_stride 1, %dw[%c0, %c0, %c0, %c0] : !kernel.tile<2x4xf32>, memref<1x1x4x4xf32>, memref<1x1x1x4xf32>
  kernel.scale %t, %f : !kernel.tile<2x4xf32>
  kernel.leaky %t {alpha = 0.1 : f32} : !kernel.tile<2x4xf32>
  kernel.store %t, %y[%c0, %c0, %c0, %c0] pixel_stride 1 : !kernel.tile<2x4xf32>, memref<1x1x4x4xf32>
  func.return
}

// CHECK-LABEL: func.func @lanewise(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x1x4x4xf32>, %[[DW:[a-z0-9_]+]]: memref<1x1x1x4xf32>, %[[Y:[a-z0-9_]+]]: memref<1x1x4x4xf32>)
// CHECK-DAG:     %[[NEG_INF:[a-z0-9_]+]] = arith.constant 0xff800000 : f32
// CHECK-DAG:     %[[ALPHA:[a-z0-9_]+]] = arith.constant 1.000000e-01 : f32
// CHECK-DAG:     %[[ZERO:[a-z0-9_]+]] = arith.constant 0.000000e+00 : f32
// CHECK:         %[[T:[a-z0-9_]+]] = memref.alloca() : memref<2x4xf32>
// CHECK:             memref.store %[[NEG_INF]], %[[T]][%{{.*}}, %{{.*}}] : memref<2x4xf32>
// CHECK:             %[[XV:[a-z0-9_]+]] = memref.load %[[X]]
// CHECK-NEXT:        %[[ACC:[a-z0-9_]+]] = memref.load %[[T]]
// CHECK-NEXT:        %[[MAX:[a-z0-9_]+]] = arith.maximumf %[[ACC]], %[[XV]] : f32
// CHECK-NEXT:        memref.store %[[MAX]], %[[T]]
// Depthwise: input lane l of pixel p times weight lane l.
// CHECK:         scf.for %[[P:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:      scf.for %[[L:[a-z0-9_]+]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK-NEXT:        %[[XV:[a-z0-9_]+]] = memref.load %[[X]][%{{.*}}, %{{.*}}, %[[P]], %[[L]]] : memref<1x1x4x4xf32>
// CHECK-NEXT:        %[[WV:[a-z0-9_]+]] = memref.load %[[DW]][%{{.*}}, %{{.*}}, %{{.*}}, %[[L]]] : memref<1x1x1x4xf32>
// CHECK-NEXT:        %[[PROD:[a-z0-9_]+]] = arith.mulf %[[XV]], %[[WV]] : f32
// CHECK-NEXT:        %[[ACC:[a-z0-9_]+]] = memref.load %[[T]]
// CHECK-NEXT:        %[[SUM:[a-z0-9_]+]] = arith.addf %[[ACC]], %[[PROD]] : f32
// CHECK-NEXT:        memref.store %[[SUM]], %[[T]]
// CHECK:             %[[ACC:[a-z0-9_]+]] = memref.load %[[T]]
// CHECK-NEXT:        %[[SCALED:[a-z0-9_]+]] = arith.mulf %[[ACC]], %{{.*}} : f32
// CHECK-NEXT:        memref.store %[[SCALED]], %[[T]]
// Leaky: x >= 0 ? x : 0.1 * x.
// CHECK:             %[[ACC:[a-z0-9_]+]] = memref.load %[[T]]
// CHECK-NEXT:        %[[NEG:[a-z0-9_]+]] = arith.mulf %[[ACC]], %[[ALPHA]] : f32
// CHECK-NEXT:        %[[POS:[a-z0-9_]+]] = arith.cmpf oge, %[[ACC]], %[[ZERO]] : f32
// CHECK-NEXT:        %[[R:[a-z0-9_]+]] = arith.select %[[POS]], %[[ACC]], %[[NEG]] : f32
// CHECK-NEXT:        memref.store %[[R]], %[[T]]
// CHECK:             memref.store %{{.*}}, %[[Y]]
// CHECK:         func.return

// In the emitted code, read-only arguments are const, the tile is a local float array, the
// clamp uses the NaN-propagating helpers, and no intrinsics header is needed.
// C-NOT:       immintrin.h
// C:           static inline float small_maximumf(float a, float b) {
// C:           static inline float small_minimumf(float a, float b) {
// C:           void conv_tile(const float *restrict [[X:[a-z0-9_]+]], const float *restrict [[W:[a-z0-9_]+]], const float *restrict [[B:[a-z0-9_]+]], float *restrict [[Y:[a-z0-9_]+]]) {
// C-NEXT:        float [[T:[a-z0-9_]+]][8];
// C-NEXT:        for (ptrdiff_t [[P:[a-z0-9_]+]] = 0; [[P]] < 2; [[P]] += 1) {
// C-NEXT:          for (ptrdiff_t [[L:[a-z0-9_]+]] = 0; [[L]] < 4; [[L]] += 1) {
// C-NEXT:            const float [[V:[a-z0-9_]+]] = [[B]][[[L]]];
// C-NEXT:            [[T]][[[P]] * 4 + [[L]]] = [[V]];
// The input element x[0][1][2p][1] is at 16 + 8p + 1.
// C:                 const float [[XV:[a-z0-9_]+]] = [[X]][{{[a-z0-9_]+}} * 4 + 17];
// C-NEXT:            const float [[WV:[a-z0-9_]+]] = [[W]][{{[a-z0-9_]+}} + 4];
// C-NEXT:            const float [[PROD:[a-z0-9_]+]] = [[XV]] * [[WV]];
// C:                 small_maximumf({{.*}}, 0.0f);
// C-NEXT:            small_minimumf({{.*}}, 6.0f);
// C:                 [[Y]][{{.*}} + 16] = {{.*}};
// C:           void lanewise(const float *restrict {{[a-z0-9_]+}}, const float *restrict {{[a-z0-9_]+}}, float *restrict {{[a-z0-9_]+}}) {
// C-NEXT:        float [[T:[a-z0-9_]+]][8];
// C:                 [[T]][{{.*}}] = -INFINITY;
// C-NOT:       malloc
