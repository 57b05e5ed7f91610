// A seeded random workload over every entry point, checked by the Shadow model.
import { Shadow, rng } from './shadow.mjs';

/** A size from 1 B to maxSize: mostly small, some medium, a few large. */
function randomSize(r, maxSize) {
  const x = r();
  if (x < 0.75) return r.int(1, 256);
  if (x < 0.95) return r.int(257, 32768);
  return r.int(32769, maxSize);
}

/**
 * Runs `ops` random operations on `z`.  Every allocation is checked (aligned,
 * in memory, overlapping nothing live) and filled with its own pattern; every
 * free checks the block and its address neighbours; every `fullEvery`
 * operations all live blocks and zee_check() are verified.  `onOp(i)` runs
 * after each operation (e.g. an inspector's validate()).
 */
export function runRandom(z, { seed, ops, maxSize = 1 << 20, maxLive = 400, fullEvery = 5000, onOp } = {}) {
  const r = rng(seed);
  const sh = new Shadow(z);
  const counts = { malloc: 0, calloc: 0, realloc: 0, aligned: 0, posix: 0, memalign: 0, free: 0, usable: 0, nulls: 0 };
  const release = (p) => {
    sh.remove(p);
    z.free(p);
    counts.free++;
  };
  for (let i = 1; i <= ops; i++) {
    const x = r();
    if (sh.count >= maxLive || (x < 0.42 && sh.count)) {
      release(sh.pick(r));
    } else if (x < 0.62) {
      const n = randomSize(r, maxSize);
      const p = z.malloc(n);
      counts.malloc++;
      if (p) sh.add(p, n);
      else counts.nulls++;
    } else if (x < 0.7) {
      const n = randomSize(r, Math.min(maxSize, 1 << 17));
      const k = r.int(1, 4);
      const p = z.calloc(k, n);
      counts.calloc++;
      if (p) {
        const u8 = z.HEAPU8;
        for (let j = 0; j < k * n; j += 61)
          if (u8[p + j] !== 0)
            throw new Error(`calloc(${k}, ${n}) = 0x${p.toString(16)} not zeroed at +${j} (seed ${seed})`);
        sh.add(p, k * n);
      } else counts.nulls++;
    } else if (x < 0.86 && sh.count) {
      const p = sh.pick(r);
      const old = sh.blocks.get(p).size;
      const n = r() < 0.5 ? Math.max(1, Math.floor(old * (0.3 + r()))) : randomSize(r, maxSize);
      sh.verify(p);
      const q = z.realloc(p, n);
      counts.realloc++;
      if (q) {
        sh.moved(p, q, n);
        sh.add(q, n);
      } else counts.nulls++;
    } else if (x < 0.93) {
      const align = 2 ** (r() < 0.9 ? r.int(4, 15) : r.int(16, 20));
      const n = randomSize(r, maxSize);
      const kind = r.int(0, 2);
      let p;
      if (kind === 0) {
        p = z.alignedAlloc(align, n);
        counts.aligned++;
      } else if (kind === 1) {
        const res = z.posixMemalign(align, n);
        p = res.ptr;
        counts.posix++;
      } else {
        p = z.memalign(align, n);
        counts.memalign++;
      }
      if (p) sh.add(p, n, align);
      else counts.nulls++;
    } else if (sh.count) {
      const p = sh.pick(r);
      if (z.usableSize(p) < sh.blocks.get(p).size)
        throw new Error(`usable size shrank at 0x${p.toString(16)} (seed ${seed})`);
      counts.usable++;
    }
    if (onOp) onOp(i);
    if (i % fullEvery === 0) {
      sh.verifyAll();
      const c = z.check();
      if (c) throw new Error(`zee_check() = ${c} after op ${i} (seed ${seed})`);
    }
  }
  sh.verifyAll();
  const c = z.check();
  if (c) throw new Error(`zee_check() = ${c} at the end (seed ${seed})`);
  for (const p of [...sh.starts]) release(p);
  return { counts, peakLiveBytes: sh.peakLiveBytes, memoryBytes: z.memoryBytes };
}
