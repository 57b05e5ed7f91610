/*
 * Shared by the real-program drivers in bench/programs: a 64-bit FNV-1a
 * hash of the program's results, the failure line, and the one-line JSON
 * result that bench/run.mjs reads.
 *
 * A driver's checksum covers only what the program computed (query
 * results, interpreter output), never an address, so every allocator must
 * print the same one.  Any failure prints {"error": ...} and exits 1.
 */
#ifndef BENCH_PROGRAM_H
#define BENCH_PROGRAM_H

#include <emscripten.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Linker-defined: the first byte after static data and the stack, where
 * the allocator's heap begins. */
extern unsigned char __heap_base;

static uint64_t result_hash = 0xcbf29ce484222325ull; /* FNV-1a offset basis */

/* Folds n bytes into the result hash. */
static void hash_bytes(const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    result_hash ^= p[i];
    result_hash *= 0x100000001b3ull;
  }
}

/* Folds a string and a separator, so "ab","c" and "a","bc" differ. */
static void hash_text(const char *s) {
  hash_bytes(s, strlen(s));
  hash_bytes("", 1);
}

/* Writes s as a JSON string body (quotes, backslashes, control bytes escaped). */
static void json_text(const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
}

/* Prints why the run failed and stops with status 1. */
static void fail(const char *what, const char *detail) {
  printf("{\"error\":\"");
  json_text(what);
  if (detail) {
    printf(": ");
    json_text(detail);
  }
  printf("\"}\n");
  fflush(stdout);
  exit(1);
}

/* The scale argument (argv[1]), a positive integer. */
static long program_scale(int argc, char **argv) {
  char *end;
  long s = argc > 1 ? strtol(argv[1], &end, 10) : 0;
  if (argc < 2 || *end || s <= 0 || s > 100000)
    fail("usage: <program> SCALE (an integer 1..100000)", argc > 1 ? argv[1] : "missing");
  return s;
}

/* The result line.  mem = final wasm memory size; heap_base = where the
 * heap begins, so mem - heap_base is the heap's peak footprint (memory only
 * grows).  work and peak_live describe the run and must match across
 * allocators. */
static void report(const char *name, double ms, uint64_t work, uint64_t peak_live) {
  printf(
      "{\"program\":\"%s\",\"ms\":%.3f,\"checksum\":\"%016llx\",\"work\":%llu,\"peak_live\":%llu,"
      "\"mem\":%lu,\"heap_base\":%lu}\n",
      name, ms, (unsigned long long)result_hash, (unsigned long long)work,
      (unsigned long long)peak_live, (unsigned long)__builtin_wasm_memory_size(0) * 65536ul,
      (unsigned long)(uintptr_t)&__heap_base);
  fflush(stdout);
}

#endif
