/*
 * Four pthreads run random malloc/free/realloc/calloc/aligned_alloc
 * operations on one zee_alloc heap at the same time.  Every block is filled
 * with a pattern derived from its owner thread, slot and generation, and
 * checked before it is resized or freed, so a block handed out twice, or a
 * frame merged while still in use, shows up as corrupted data.
 *
 *   node threads.cjs [threads] [ops per thread] [seed]   (default 4 100000 1)
 *
 * Prints one line per thread and a summary; exits with the number of errors.
 */
#include <emscripten/heap.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zee_alloc.h"

#define SLOTS 256
#define MAX_THREADS 16

typedef struct worker {
  int id;
  long ops;
  uint32_t seed;
  long errors, mallocs, frees, reallocs, peak_bytes;
  uint64_t bytes_checked;
} worker;

/* xorshift32: each thread has its own stream, so runs are reproducible. */
static uint32_t next_rand(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

/* The byte expected at offset i of a block: owner, slot and generation. */
static unsigned char pattern(int id, int slot, uint32_t gen, size_t i) {
  return (unsigned char)(id * 61 + slot * 7 + gen * 13 + i * 31 + (i >> 8));
}

static void fill(unsigned char *p, size_t n, int id, int slot, uint32_t gen) {
  for (size_t i = 0; i < n; i++)
    p[i] = pattern(id, slot, gen, i);
}

/* Counts the bytes of [p, p+n) that differ from the block's pattern. */
static long verify(const unsigned char *p, size_t n, int id, int slot, uint32_t gen) {
  long bad = 0;
  for (size_t i = 0; i < n; i++)
    bad += p[i] != pattern(id, slot, gen, i);
  return bad;
}

/* Mostly small sizes, some medium, a few large (multi-page) ones. */
static size_t random_size(uint32_t *s) {
  uint32_t r = next_rand(s);
  switch (r % 16) {
  case 15:
    return 32768 + r % 150000; /* large */
  case 13:
  case 14:
    return 1024 + r % 16384;
  default:
    return 1 + r % 300;
  }
}

static void *run(void *arg) {
  worker *w = arg;
  unsigned char *blocks[SLOTS] = {0};
  size_t sizes[SLOTS] = {0};
  uint32_t gens[SLOTS] = {0};
  uint32_t s = w->seed;
  long live_bytes = 0;
  for (long op = 0; op < w->ops; op++) {
    int slot = next_rand(&s) % SLOTS;
    unsigned char *p = blocks[slot];
    if (p) {
      long bad = verify(p, sizes[slot], w->id, slot, gens[slot]);
      w->bytes_checked += sizes[slot];
      if (bad) {
        if (w->errors < 5)
          printf("thread %d: block %p (slot %d, %zu bytes) has %ld corrupted bytes\n", w->id,
                 (void *)p, slot, sizes[slot], bad);
        w->errors++;
      }
    }
    uint32_t kind = next_rand(&s) % 8;
    if (p && kind < 3) {
      free(p);
      live_bytes -= sizes[slot];
      blocks[slot] = NULL;
      w->frees++;
    } else if (p && kind < 5) {
      /* realloc keeps the common prefix; refill with the next generation. */
      size_t n = random_size(&s), keep = n < sizes[slot] ? n : sizes[slot];
      unsigned char *q = realloc(p, n);
      if (!q) {
        w->errors++;
        continue;
      }
      if (verify(q, keep, w->id, slot, gens[slot])) {
        if (w->errors < 5)
          printf("thread %d: realloc lost data (slot %d)\n", w->id, slot);
        w->errors++;
      }
      live_bytes += (long)n - (long)sizes[slot];
      fill(q, n, w->id, slot, ++gens[slot]);
      blocks[slot] = q;
      sizes[slot] = n;
      w->reallocs++;
    } else {
      if (p) {
        free(p);
        live_bytes -= sizes[slot];
        w->frees++;
      }
      size_t n = random_size(&s);
      uint32_t how = next_rand(&s) % 4;
      unsigned char *q;
      if (how == 0) {
        q = calloc(1, n);
        for (size_t i = 0; q && i < n; i++)
          if (q[i]) {
            if (w->errors < 5)
              printf("thread %d: calloc block not zeroed\n", w->id);
            w->errors++;
            break;
          }
      } else if (how == 1) {
        size_t align = (size_t)16 << (next_rand(&s) % 9); /* 16 .. 4096 */
        q = aligned_alloc(align, n);
        if (q && ((uintptr_t)q & (align - 1))) {
          if (w->errors < 5)
            printf("thread %d: misaligned block %p (align %zu)\n", w->id, (void *)q, align);
          w->errors++;
        }
      } else {
        q = malloc(n);
      }
      if (!q) {
        w->errors++;
        blocks[slot] = NULL;
        continue;
      }
      fill(q, n, w->id, slot, ++gens[slot]);
      blocks[slot] = q;
      sizes[slot] = n;
      live_bytes += n;
      w->mallocs++;
    }
    if (live_bytes > w->peak_bytes)
      w->peak_bytes = live_bytes;
  }
  for (int slot = 0; slot < SLOTS; slot++)
    if (blocks[slot]) {
      w->errors += verify(blocks[slot], sizes[slot], w->id, slot, gens[slot]) != 0;
      free(blocks[slot]);
    }
  return NULL;
}

int main(int argc, char **argv) {
  int nthreads = argc > 1 ? atoi(argv[1]) : 4;
  long ops = argc > 2 ? atol(argv[2]) : 100000;
  uint32_t seed = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 1;
  if (nthreads < 1 || nthreads > MAX_THREADS || ops < 1 || !seed) {
    fprintf(stderr, "usage: threads [1..%d threads] [ops >= 1] [seed != 0]\n", MAX_THREADS);
    return 2;
  }
  size_t memory_before = emscripten_get_heap_size();
  printf("threads: %d pthreads x %ld ops, seed %u, memory %zu bytes\n", nthreads, ops, seed,
         memory_before);
  worker w[MAX_THREADS];
  pthread_t tid[MAX_THREADS];
  for (int i = 0; i < nthreads; i++) {
    w[i] = (worker){.id = i + 1, .ops = ops, .seed = seed * 2654435761u + (uint32_t)i * 40503u + 1};
    if (pthread_create(&tid[i], NULL, run, &w[i])) {
      printf("threads: pthread_create failed\n");
      return 1;
    }
  }
  long errors = 0, total_ops = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(tid[i], NULL);
    printf("thread %d: %ld ops (%ld malloc, %ld realloc, %ld free), %llu bytes checked, peak %ld "
           "live bytes, %ld errors\n",
           w[i].id, w[i].ops, w[i].mallocs, w[i].reallocs, w[i].frees,
           (unsigned long long)w[i].bytes_checked, w[i].peak_bytes, w[i].errors);
    errors += w[i].errors;
    total_ops += w[i].ops;
  }
  int check = zee_check();
  /* The threads grew the memory (through emscripten_resize_heap, from workers). */
  printf("threads: %ld ops, %ld errors, zee_check %d, memory %zu -> %zu bytes\n", total_ops, errors,
         check, memory_before, emscripten_get_heap_size());
  return (int)(errors + (check != 0));
}
