/*
 * Single-thread FMA peak of this CPU, the yardstick of `small-ir bench`.
 *
 * Independent FMA chains, acc[i] = acc[i] * a + b, enough of them to cover
 * FMA latency x throughput (4-5 cycles x 2 pipes on current x86 cores), all
 * in registers. The ISA is chosen by the compiler flags:
 *
 *   gcc -O2 -mavx512f -mfma peakflops.c   ->  24 zmm chains, 16 lanes
 *   gcc -O2 -mavx2 -mfma peakflops.c      ->  12 ymm chains,  8 lanes
 *
 * Usage: peakflops [TRIALS]. Each trial runs about 50 ms; the best trial is
 * reported, as one line:
 *
 *   isa=avx2 lanes=8 chains=12 gflops=123.45
 *
 * One FMA counts 2 flops per lane.
 */
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__) && defined(__FMA__)
#define ISA "avx512"
#define LANES 16
#define CHAINS 24
typedef __m512 vec;
#define SET1(x) _mm512_set1_ps(x)
#define FMA(acc, a, b) _mm512_fmadd_ps(acc, a, b)
#define ADD(x, y) _mm512_add_ps(x, y)
#define STORE(p, v) _mm512_storeu_ps(p, v)
#elif defined(__AVX2__) && defined(__FMA__)
#define ISA "avx2"
#define LANES 8
#define CHAINS 12
typedef __m256 vec;
#define SET1(x) _mm256_set1_ps(x)
#define FMA(acc, a, b) _mm256_fmadd_ps(acc, a, b)
#define ADD(x, y) _mm256_add_ps(x, y)
#define STORE(p, v) _mm256_storeu_ps(p, v)
#else
#error "build with -mavx512f -mfma or -mavx2 -mfma"
#endif

/* One statement per chain, written out so that every accumulator is its own register
 * (the chains plus `a` and `b` fit the 16 ymm or 32 zmm registers: no spills). */
#define CHAINS_12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#if CHAINS == 24
#define EACH_CHAIN(X) CHAINS_12(X) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)
#else
#define EACH_CHAIN(X) CHAINS_12(X)
#endif

#define DECLARE(i) vec acc##i = SET1(1.0f + (float)(i) * 1e-3f);
#define STEP(i) acc##i = FMA(acc##i, a, b);
#define SUM(i) total = ADD(total, acc##i);

static volatile float sink;

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Runs `iterations` x CHAINS FMAs; returns the elapsed ns. */
static double run(long iterations) {
  const vec a = SET1(0.999999f), b = SET1(1e-6f); /* converges to 1: no overflow, no denormals */
  EACH_CHAIN(DECLARE)
  double start = now_ns();
  for (long i = 0; i < iterations; i++) {
    EACH_CHAIN(STEP)
  }
  double elapsed = now_ns() - start;
  vec total = SET1(0.0f);
  EACH_CHAIN(SUM)
  float lanes[LANES];
  STORE(lanes, total);
  sink = lanes[0];
  return elapsed;
}

int main(int argc, char **argv) {
  int trials = argc > 1 ? atoi(argv[1]) : 5;
  if (trials < 1) {
    fprintf(stderr, "usage: peakflops [TRIALS >= 1]\n");
    return 2;
  }
  long iterations = 1000;
  while (run(iterations) < 50e6 && iterations < (1L << 40)) iterations *= 2; /* warm-up and calibration */
  double best = 0.0;
  for (int trial = 0; trial < trials; trial++) {
    double flops = 2.0 * LANES * CHAINS * (double)iterations;
    double gflops = flops / run(iterations);
    if (gflops > best) best = gflops;
  }
  printf("isa=%s lanes=%d chains=%d gflops=%.2f\n", ISA, LANES, CHAINS, best);
  return 0;
}
