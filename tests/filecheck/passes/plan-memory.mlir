// RUN: small-opt %s -p plan-memory | filecheck %s
// RUN: small-opt %s -p 'plan-memory{alignment=16}' | filecheck %s --check-prefix=ALIGN16
// RUN: small-opt %s -p plan-memory | filecheck %s --check-prefix=NOALLOC

// plan-memory places every memref.alloc of a function in one static arena by
// liveness (first fit, largest first, 64-byte aligned by default). Here:
//   %a  588 bytes, live from its alloc to @step          -> offset 0
//   %b  300 bytes, overlaps %a and %c (used in the loop) -> offset 640
//   %c  200 bytes, allocated after %a's last use          -> offset 0 again
// The arena holds 640 + 300 = 940 bytes, rounded up to 960.

func.func private @produce(memref<1x3x7x7xf32>, memref<1x3x7x7xf32>)
func.func private @step(memref<1x3x7x7xf32>, memref<1x3x5x5xf32>)
func.func private @row(memref<1x3x5x5xf32>, memref<1x2x5x5xf32>, index)
func.func private @finish(memref<1x2x5x5xf32>, memref<1x2x5x5xf32>)

func.func @net(%x: memref<1x3x7x7xf32>, %y: memref<1x2x5x5xf32>) {
  %a = memref.alloc() : memref<1x3x7x7xf32>
  func.call @produce(%x, %a) : (memref<1x3x7x7xf32>, memref<1x3x7x7xf32>) -> ()
  %b = memref.alloc() : memref<1x3x5x5xf32>
  func.call @step(%a, %b) : (memref<1x3x7x7xf32>, memref<1x3x5x5xf32>) -> ()
  %c = memref.alloc() : memref<1x2x5x5xf32>
  %lo = arith.constant 0 : index
  %hi = arith.constant 5 : index
  %one = arith.constant 1 : index
  scf.for %i = %lo to %hi step %one {
    func.call @row(%b, %c, %i) : (memref<1x3x5x5xf32>, memref<1x2x5x5xf32>, index) -> ()
  }
  func.call @finish(%c, %y) : (memref<1x2x5x5xf32>, memref<1x2x5x5xf32>) -> ()
  func.return
}

// A function without buffers gets no arena, and records 0 bytes.
func.func @no_buffers(%x: memref<4xf32>) {
  func.return
}

// No buffer is left on the heap.
// NOALLOC-NOT: memref.alloc

// CHECK:       "memref.global"() <{sym_name = "net_arena", type = memref<960xi8>, initial_value, sym_visibility = "private", alignment = 64 : i64}> : () -> ()
// CHECK-NEXT:  func.func @net(
// CHECK-SAME:      %[[X:[a-z0-9_]+]]: memref<1x3x7x7xf32>, %[[Y:[a-z0-9_]+]]: memref<1x2x5x5xf32>) attributes {small.arena_bytes = 960 : i64} {
// CHECK-NEXT:    %[[ARENA_A:[a-z0-9_]+]] = memref.get_global @net_arena : memref<960xi8>
// CHECK-NEXT:    %[[OFF_A:[a-z0-9_]+]] = arith.constant 0 : index
// CHECK-NEXT:    %[[A:[a-z0-9_]+]] = memref.view %[[ARENA_A]][%[[OFF_A]]][] : memref<960xi8> to memref<1x3x7x7xf32>
// CHECK-NEXT:    func.call @produce(%[[X]], %[[A]])
// CHECK-NEXT:    %[[ARENA_B:[a-z0-9_]+]] = memref.get_global @net_arena : memref<960xi8>
// CHECK-NEXT:    %[[OFF_B:[a-z0-9_]+]] = arith.constant 640 : index
// CHECK-NEXT:    %[[B:[a-z0-9_]+]] = memref.view %[[ARENA_B]][%[[OFF_B]]][] : memref<960xi8> to memref<1x3x5x5xf32>
// CHECK-NEXT:    func.call @step(%[[A]], %[[B]])
// CHECK-NEXT:    %[[ARENA_C:[a-z0-9_]+]] = memref.get_global @net_arena : memref<960xi8>
// CHECK-NEXT:    %[[OFF_C:[a-z0-9_]+]] = arith.constant 0 : index
// CHECK-NEXT:    %[[C:[a-z0-9_]+]] = memref.view %[[ARENA_C]][%[[OFF_C]]][] : memref<960xi8> to memref<1x2x5x5xf32>
// CHECK:         scf.for
// CHECK-NEXT:      func.call @row(%[[B]], %[[C]], %{{.*}})
// CHECK-NEXT:    }
// CHECK-NEXT:    func.call @finish(%[[C]], %[[Y]])
// CHECK-NEXT:    func.return
// CHECK-NOT:   "memref.global"
// CHECK:       func.func @no_buffers(%{{.*}}: memref<4xf32>) attributes {small.arena_bytes = 0 : i64} {
// CHECK-NEXT:    func.return

// With 16-byte alignment, %b starts at 592 (588 rounded up to 16) and the
// arena is 892 bytes rounded up to 896.
// ALIGN16:       "memref.global"() <{sym_name = "net_arena", type = memref<896xi8>, {{.*}}alignment = 16 : i64}>
// ALIGN16:       func.func @net({{.*}}attributes {small.arena_bytes = 896 : i64}
// ALIGN16:         arith.constant 0 : index
// ALIGN16-NEXT:    memref.view {{.*}} to memref<1x3x7x7xf32>
// ALIGN16:         arith.constant 592 : index
// ALIGN16-NEXT:    memref.view {{.*}} to memref<1x3x5x5xf32>
// ALIGN16:         arith.constant 0 : index
// ALIGN16-NEXT:    memref.view {{.*}} to memref<1x2x5x5xf32>
