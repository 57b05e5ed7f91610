// A C++17 program whose operator new ends in zee_alloc (-sMALLOC=none).
//
// Each step checks its own result and prints "<step>: ok ..." or
// "<step>: FAIL ..."; the exit status is the number of failures.  The Jest
// test (test/emscripten.test.mjs) checks every line.
#include <malloc.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "zee_alloc.h"

static int failures;

// One result line; a failed check counts towards the exit status.
__attribute__((format(printf, 3, 4))) static void check(const char *step, bool ok, const char *fmt,
                                                        ...) {
  if (!ok)
    failures++;
  std::printf("%s: %s ", step, ok ? "ok" : "FAIL");
  va_list args;
  va_start(args, fmt);
  std::vprintf(fmt, args);
  va_end(args);
  std::printf("\n");
}

// Stores here make the optimizer keep allocations it could otherwise elide.
static void *volatile sink;

// True if p lies in memory that zee_alloc owns.
static bool in_zee_heap(const void *p) {
  const zee_heap_info_t *h = zee_heap_info();
  auto a = reinterpret_cast<std::uintptr_t>(p);
  return a >= h->heap_start && a < h->heap_end;
}

// Bytes in use according to the allocator's running totals (mallinfo() is O(1)).
static long in_use() { return mallinfo().uordblks; }

struct alignas(64) CacheLine {
  std::uint32_t words[16];
};
struct alignas(4096) Page {
  unsigned char bytes[4096];
};
struct alignas(65536) WasmPage {
  unsigned char bytes[100];
};

// Counts live instances, so the exception step can prove nothing leaked.
struct Tracked {
  static int live;
  std::string name;
  explicit Tracked(std::string n) : name(std::move(n)) { live++; }
  Tracked(const Tracked &o) : name(o.name) { live++; }
  Tracked(Tracked &&o) noexcept : name(std::move(o.name)) { live++; }
  ~Tracked() { live--; }
};
int Tracked::live = 0;

static void step_vector() {
  std::vector<std::uint64_t> v;
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 200000; i++) {
    v.push_back(i * i);
    sum += i * i;
  }
  std::uint64_t again = 0;
  for (auto x : v)
    again += x;
  check("vector", again == sum && in_zee_heap(v.data()) && v.capacity() >= v.size(),
        "200000 elements, sum=%llu, capacity=%zu", (unsigned long long)sum, v.capacity());
}

static void step_string_map() {
  std::map<std::string, int> counts;
  const char *words[] = {"buddy", "frame", "jumbo", "span", "page"};
  for (int i = 0; i < 50000; i++) {
    std::string key = std::string(words[i % 5]) + "-" + std::to_string(i % 1000);
    counts[key] += 1;
  }
  bool ok = counts.size() == 1000;
  for (auto &kv : counts)
    ok &= kv.second == 50;
  std::string longest;
  for (auto &kv : counts)
    if (kv.first.size() > longest.size())
      longest = kv.first;
  std::string big(100000, 'z');
  big += longest;
  ok &= big.size() == 100000 + longest.size() && in_zee_heap(big.data());
  check("string-map", ok, "%zu keys x 50, longest '%s'", counts.size(), longest.c_str());
}

static void step_new_delete() {
  long before = in_use();
  int *one = new int(42);
  int *many = new int[1000]();
  bool zero = true;
  for (int i = 0; i < 1000; i++)
    zero &= many[i] == 0;
  auto owned = std::make_unique<std::vector<int>>(5000, 7);
  bool ok = *one == 42 && zero && owned->at(4999) == 7 && in_zee_heap(one) && in_zee_heap(many);
  long during = in_use();
  delete one;
  delete[] many;
  owned.reset();
  long after = in_use();
  check("new-delete", ok && during > before && after == before, "in use %ld -> %ld -> %ld bytes",
        before, during, after);
}

static void step_aligned_new() {
  bool ok = true;
  std::vector<CacheLine *> lines;
  for (int i = 0; i < 100; i++)
    lines.push_back(new CacheLine());
  for (auto *l : lines)
    ok &= reinterpret_cast<std::uintptr_t>(l) % 64 == 0;
  Page *pages = new Page[3];
  ok &= reinterpret_cast<std::uintptr_t>(pages) % 4096 == 0;
  pages[2].bytes[4095] = 1;
  WasmPage *wp = new WasmPage();
  ok &= reinterpret_cast<std::uintptr_t>(wp) % 65536 == 0 && in_zee_heap(wp);
  auto *arr = new CacheLine[7];
  ok &= reinterpret_cast<std::uintptr_t>(arr) % 64 == 0;
  for (auto *l : lines)
    delete l;
  delete[] pages;
  delete wp;
  delete[] arr;
  check("aligned-new", ok,
        "100 x alignas(64), new alignas(4096)[3], alignas(65536), new alignas(64)[7]");
}

static void step_exceptions() {
  long before = in_use();
  int caught = 0;
  for (int round = 0; round < 100; round++) {
    try {
      std::vector<Tracked> v;
      v.emplace_back("first");
      v.emplace_back(std::string(1000, 'x'));
      throw std::runtime_error("round " + std::to_string(round));
    } catch (const std::runtime_error &e) {
      caught += std::string(e.what()) == "round " + std::to_string(round);
    }
  }
  // 3 GiB is past -sMAXIMUM_MEMORY (2 GiB): zee_alloc returns NULL, so
  // operator new throws std::bad_alloc and the nothrow form returns null.
  volatile std::size_t huge = std::size_t(3) << 30;
  bool bad_alloc = false;
  try {
    sink = ::operator new(huge);
    ::operator delete(sink);
  } catch (const std::bad_alloc &) {
    bad_alloc = true;
  }
  char *nothrow = new (std::nothrow) char[huge];
  sink = nothrow;
  delete[] nothrow;
  long after = in_use();
  check("exceptions",
        caught == 100 && Tracked::live == 0 && bad_alloc && !nothrow && after == before,
        "%d/100 caught, %d live, bad_alloc %s, nothrow new %s, in use %ld -> %ld", caught,
        Tracked::live, bad_alloc ? "thrown" : "missing", nothrow ? "non-null" : "null", before,
        after);
}

int main() {
  std::printf("cpp-app on zee_alloc\n");
  step_vector();
  step_string_map();
  step_new_delete();
  step_aligned_new();
  step_exceptions();
  int c = zee_check();
  check("zee_check", c == 0, "%d", c);
  std::printf("cpp-app: %d failures\n", failures);
  return failures;
}
