/* Workload: a producer/consumer queue.  Messages (16-512 B) are produced
 * and consumed in FIFO order (short-lived, about 1,000 in flight); a table
 * of 4,000 long-lived objects (64 B-2 KiB) has one entry replaced every
 * 16 steps. */
#include "common.h"

#define QCAP 2048
#define LONG 4000

static void *q[QCAP];
static size_t qlen[QCAP];
static uint32_t qid[QCAP];
static void *lp[LONG];
static size_t llen[LONG];
static uint32_t lid[LONG];

int main(int argc, char **argv) {
  long scale = scale_arg(argc, argv, 10);
  uint32_t next_id = 0, head = 0, tail = 0; /* queue: [head, tail) mod QCAP */
  double t0 = emscripten_get_now();
  for (int i = 0; i < LONG; i++)
    lp[i] = take(llen[i] = rnd_range(64, 2048), lid[i] = next_id++);
  for (long step = 0, n = scale * 40000; step < n; step++) {
    uint32_t depth = tail - head;
    /* Produce 0-3 messages, more when the queue is short. */
    uint32_t produce = depth < 800 ? 3 : depth > 1200 ? 0 : rnd() % 4;
    for (uint32_t k = 0; k < produce; k++, tail++) {
      uint32_t s = tail % QCAP;
      q[s] = take(qlen[s] = rnd_range(16, 512), qid[s] = next_id++);
    }
    /* Consume 0-3 messages, oldest first. */
    uint32_t consume = rnd() % 4;
    for (uint32_t k = 0; k < consume && head != tail; k++, head++) {
      uint32_t s = head % QCAP;
      give(q[s], qlen[s], qid[s]);
    }
    if (!(step & 15)) {
      uint32_t i = rnd() % LONG;
      give(lp[i], llen[i], lid[i]);
      lp[i] = take(llen[i] = rnd_range(64, 2048), lid[i] = next_id++);
    }
  }
  for (; head != tail; head++)
    give(q[head % QCAP], qlen[head % QCAP], qid[head % QCAP]);
  for (int i = 0; i < LONG; i++)
    give(lp[i], llen[i], lid[i]);
  report("queue", emscripten_get_now() - t0);
  return 0;
}
