#!/usr/bin/env node
// Soak: millions of random allocator calls on the wasm build, every one
// checked against the JS shadow model (test/helpers/shadow.mjs), with
// periodic whole-heap validation (zee_check() and js/inspect.mjs) and a
// report of ops/s and peak memory.
//
//   npm run soak [-- --ops N] [-- --variant default|dev|unsafe] [-- --seed S]
//        10,000,000 calls by default; prints progress every 1,000,000
//   npm run test:soak   (--ci) the short run: 1,000,000 calls on the
//        default build and 200,000 each on dev and unsafe, cut short at
//        35 s + 12 s + 12 s on a slow machine; fails on any finding
//
// The workload (also used by test/fault-injection.test.mjs) mixes malloc,
// calloc, realloc, aligned_alloc, posix_memalign, free and
// malloc_usable_size, with sizes in every frame class and slot size, around
// class boundaries, and blocks of many pages.  Every NULL must come with
// ENOMEM and be accounted for: the memory cap left no room for the growth
// the request needed.  After everything is freed, the heap must hold no
// block in use.
import { fileURLToPath } from 'node:url';
import { Shadow, rng } from './helpers/shadow.mjs';
import { fresh } from './helpers/instance.mjs';
import { snapshot } from '../js/inspect.mjs';
import { ENOMEM } from '../js/zee_alloc.mjs';
import { LAYOUT, STATE } from '../js/layout.mjs';

const PAGE = LAYOUT.PAGE_SIZE;

export class SoakError extends Error {}

/**
 * A size: mostly slots and blocks in small frames, some up to a page (slots
 * up to 1,032 bytes, frames up to 4 KiB, exact blocks above), some at
 * power-of-two boundaries, a few of many pages.
 */
function randomSize(r, maxLarge) {
  const x = r();
  if (x < 0.6) return r.int(0, 256);
  if (x < 0.85) return r.int(257, PAGE);
  if (x < 0.97) return Math.max(0, (16 << r.int(0, 12)) - 8 + r.int(-2, 1)); // 2^k - 8 +- 1
  return r.int(PAGE + 1, maxLarge);
}

const pow2AtLeast = (v) => 2 ** Math.ceil(Math.log2(Math.max(v, LAYOUT.MIN_FRAME)));

/**
 * What a request of n bytes aligned to `align` takes at the top of the heap
 * (docs/layout.md): [span, alignment].  A block of m = roundup(n + 8, 16)
 * bytes spans its power-of-two frame up to ROUND_MAX and m above; a slot
 * needs a slab, a power-of-two frame aligned to its size.
 */
function placement(n, align) {
  const m = Math.ceil((n + LAYOUT.META_SIZE) / LAYOUT.GRANULE) * LAYOUT.GRANULE;
  if (align <= LAYOUT.GRANULE && m <= LAYOUT.SLAB_MAX && (m & (m - 1)) !== 0) {
    const slab = Math.max(pow2AtLeast(m * LAYOUT.SLAB_SLOTS), LAYOUT.SLAB_MIN);
    return [slab, slab];
  }
  return [m > LAYOUT.ROUND_MAX ? m : pow2AtLeast(m), Math.max(align, LAYOUT.GRANULE)];
}

/**
 * Bytes of memory growth a request may need: an upper bound.  The heap grows
 * by the pages its top lacks for the span, placed at its alignment, 16 bytes
 * past any foreign memory: at most span + alignment + 16 bytes, rounded up
 * to a page, and a page for where the top's free run starts.
 */
function growthBound(n, align = 16) {
  const [span, at] = placement(n, align);
  return (Math.ceil((span + at + LAYOUT.GRANULE) / PAGE) + 1) * PAGE;
}

/** Has the heap had its first allocation?  It owns all the memory above __heap_base from then on. */
const heapStarted = (z) => z.HEAPU32[(z.stateAddress >>> 2) + STATE.heapStart] !== 0;

/**
 * Runs `ops` random calls on `z` and returns counters.  Options: seed,
 * maxLive (live blocks), maxLarge (the largest request of many pages), checkEvery
 * (zee_check() + neighbours), fullEvery (every live byte + js/inspect.mjs
 * validation), maxBytes (the memory cap, for NULL accounting), foreign
 * (chance per call that "someone else" grows memory; those pages must stay
 * untouched), deadline (a performance.now() time: stop early, after a full
 * check), onProgress(i, counters, inspectorSnapshot).
 */
export function workload(z, o) {
  const {
    seed,
    ops,
    maxLive = 300,
    maxLarge = 512 << 10,
    deadline = Infinity,
    checkEvery = 1000,
    fullEvery = 100000,
    maxBytes = 65536 * PAGE,
    foreign = 0,
    onProgress,
  } = o;
  const r = rng(seed);
  const sh = new Shadow(z);
  const c = {
    ops: 0,
    malloc: 0,
    calloc: 0,
    realloc: 0,
    aligned: 0,
    posix: 0,
    free: 0,
    usable: 0,
    nulls: 0,
    foreignPages: 0,
    peakMemory: z.memoryBytes,
    peakLive: 0,
    peakBlocks: 0,
    validations: 0,
  };
  const foreignRanges = [];
  const fail = (i, msg) => {
    throw new SoakError(`${msg} (call ${i}, seed ${seed})`);
  };
  // Why: a NULL is only fine if the cap left no room for the growth needed.
  const nullOk = (i, what, n, align) => {
    c.nulls++;
    if (z.errno !== ENOMEM) fail(i, `${what}(${n}) = NULL with errno ${z.errno}, not ENOMEM`);
    if (z.memoryBytes + growthBound(n, align) <= maxBytes)
      fail(
        i,
        `${what}(${n}, align ${align}) = NULL with ${maxBytes - z.memoryBytes} bytes of memory still free to grow`,
      );
  };
  const release = (p) => {
    sh.remove(p);
    z.free(p);
    c.free++;
  };

  for (let i = 1; i <= ops; i++) {
    const x = r();
    z.errno = 0;
    // The chance to free grows with the live count: it hovers near 40% of maxLive.
    if (sh.count >= maxLive || r() < sh.count / maxLive) {
      release(sh.pick(r));
    } else if (x < 0.4) {
      const n = randomSize(r, maxLarge);
      const p = z.malloc(n);
      c.malloc++;
      if (p) {
        const u = z.usableSize(p);
        if (u < n || u > n + 15) fail(i, `malloc(${n}): usable size ${u}, not within [n, n + 15]`);
        sh.add(p, n);
      } else nullOk(i, 'malloc', n, 16);
    } else if (x < 0.5) {
      const k = r.int(1, 8),
        n = Math.floor(randomSize(r, maxLarge) / k);
      const p = z.calloc(k, n);
      c.calloc++;
      if (p) {
        const u8 = z.HEAPU8;
        for (let j = 0; j < k * n; j += 1 + (j >> 6)) if (u8[p + j]) fail(i, `calloc(${k}, ${n}) not zeroed at +${j}`);
        sh.add(p, k * n);
      } else nullOk(i, 'calloc', k * n, 16);
    } else if (x < 0.75 && sh.count) {
      const p = sh.pick(r);
      const old = sh.blocks.get(p).size;
      const n = r() < 0.5 ? Math.floor(old * (0.25 + 1.5 * r())) : randomSize(r, maxLarge);
      c.realloc++;
      if (n === 0) {
        sh.remove(p); // realloc(p, 0) frees p and returns NULL
        const q = z.realloc(p, 0);
        if (q) fail(i, `realloc(p, 0) returned 0x${q.toString(16)}`);
      } else {
        sh.verify(p);
        const q = z.realloc(p, n);
        if (q) {
          sh.moved(p, q, n);
          sh.add(q, n);
        } else {
          nullOk(i, 'realloc', n, 16);
          sh.verify(p);
        }
      }
    } else if (x < 0.88) {
      const align = 2 ** r.int(0, r() < 0.9 ? 12 : 20),
        n = randomSize(r, maxLarge);
      const posix = r() < 0.3 && align >= 4;
      let p;
      if (posix) {
        const res = z.posixMemalign(align, n);
        c.posix++;
        if (res.error && res.error !== ENOMEM) fail(i, `posix_memalign(${align}, ${n}) = ${res.error}`);
        p = res.ptr;
        if (!p) z.errno = ENOMEM;
      } else {
        p = z.alignedAlloc(align, n);
        c.aligned++;
      }
      if (p) sh.add(p, n, align);
      else nullOk(i, posix ? 'posix_memalign' : 'aligned_alloc', n, align);
    } else if (x < 0.97 && sh.count) {
      const p = sh.pick(r);
      const u = z.usableSize(p);
      c.usable++;
      if (u < sh.blocks.get(p).size) fail(i, `usable size ${u} < ${sh.blocks.get(p).size}`);
    }
    // Why after the first allocation: before it, the heap would take the
    // foreign pages for its own when it starts.
    if (foreign && r() < foreign && heapStarted(z)) {
      // someone else grows the memory: the heap becomes non-contiguous
      const pages = r.int(1, 3);
      if (z.memoryBytes + pages * PAGE <= maxBytes) {
        const start = z.memoryBytes;
        z.memory.grow(pages);
        z.HEAPU8.fill(0xee, start, start + pages * PAGE);
        foreignRanges.push([start, start + pages * PAGE]);
        c.foreignPages += pages;
      }
    }
    if (z.memoryBytes > c.peakMemory) c.peakMemory = z.memoryBytes;
    if (sh.liveBytes > c.peakLive) c.peakLive = sh.liveBytes;
    if (sh.count > c.peakBlocks) c.peakBlocks = sh.count;
    if (i % checkEvery === 0) {
      const k = z.check();
      if (k) fail(i, `zee_check() = ${k}`);
    }
    const last = i === ops || (i % 1000 === 0 && performance.now() > deadline);
    if (i % fullEvery === 0 || last) {
      sh.verifyAll();
      const u8 = z.HEAPU8;
      for (const [s, e] of foreignRanges)
        for (let a = s; a < e; a++) if (u8[a] !== 0xee) fail(i, `foreign page byte 0x${a.toString(16)} was written`);
      const snap = snapshot(z);
      c.validations++;
      if (snap.violations.length) fail(i, `inspector: ${snap.violations[0].rule}: ${snap.violations[0].message}`);
      if (snap.totals.usedBlocks !== sh.count)
        fail(i, `inspector counts ${snap.totals.usedBlocks} blocks in use, the shadow ${sh.count}`);
      if (snap.totals.usedBytes < sh.liveBytes)
        fail(i, `inspector: ${snap.totals.usedBytes} bytes in use < ${sh.liveBytes} live`);
      onProgress?.(i, c, snap);
    }
    c.ops = i;
    if (last) break;
  }
  // drain: everything back, heap sound, nothing left in use
  for (const p of [...sh.starts]) release(p);
  const k = z.check();
  if (k) fail(ops, `zee_check() = ${k} after freeing everything`);
  const snap = snapshot(z);
  if (snap.violations.length)
    fail(ops, `inspector after freeing everything: ${snap.violations[0].rule}: ${snap.violations[0].message}`);
  if (snap.totals.usedBlocks || snap.totals.usedBytes)
    fail(
      ops,
      `after freeing everything, the inspector counts ${snap.totals.usedBlocks} blocks of ${snap.totals.usedBytes} bytes in use`,
    );
  return c;
}

const MB = (b) => (b / 1048576).toFixed(1) + ' MiB';

async function soak(variant, ops, seed, log, seconds = Infinity) {
  const z = await fresh(variant);
  const t0 = performance.now();
  const c = workload(z, {
    seed,
    ops,
    deadline: t0 + seconds * 1000,
    fullEvery: Math.min(1000000, Math.max(10000, Math.floor(ops / 10))),
    onProgress: (i, c, snap) => {
      const rate = i / ((performance.now() - t0) / 1000);
      log(
        `  ${variant}: ${i.toLocaleString('en-US')} calls, ${Math.round(rate).toLocaleString('en-US')} calls/s, ` +
          `memory ${MB(z.memoryBytes)}, ${snap.totals.usedBlocks} blocks (${MB(snap.totals.usedBytes)}) in use, ` +
          `fragmentation ${(snap.totals.fragmentation * 100).toFixed(1)}%`,
      );
    },
  });
  const secs = (performance.now() - t0) / 1000;
  log(
    `soak ${variant} (seed ${seed}): ${c.ops.toLocaleString('en-US')} calls in ${secs.toFixed(1)} s = ` +
      `${Math.round(c.ops / secs).toLocaleString('en-US')} calls/s; peak memory ${MB(c.peakMemory)} for a peak of ` +
      `${MB(c.peakLive)} live in up to ${c.peakBlocks} blocks; ${c.nulls} NULLs; ${c.validations} full validations; ` +
      `process max RSS ${MB(process.resourceUsage().maxRSS * 1024)}; no finding`,
  );
  return c;
}

async function main(argv) {
  const arg = (name, dflt) => {
    const i = argv.indexOf(name);
    if (i < 0) return dflt;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new SoakError(`${name} needs a value`);
    return v;
  };
  for (const a of argv)
    if (a.startsWith('--') && !['--ci', '--ops', '--variant', '--seed'].includes(a))
      throw new SoakError(`unknown option ${a} (use --ci, --ops N, --variant NAME, --seed S)`);
  const seed = Number(arg('--seed', process.env.ZEE_SEED ?? (Math.random() * 2 ** 32) >>> 0)) >>> 0;
  const log = (s) => console.log(s);
  if (argv.includes('--ci')) {
    // bounded by time too, so a slow machine still finishes within ~50 s
    await soak('default', 1000000, seed, log, 35);
    await soak('dev', 200000, seed + 1, log, 12);
    await soak('unsafe', 200000, seed + 2, log, 12);
    return;
  }
  const ops = Number(arg('--ops', 10000000));
  if (!Number.isInteger(ops) || ops < 1) throw new SoakError(`--ops must be a positive integer, not ${arg('--ops')}`);
  await soak(arg('--variant', 'default'), ops, seed, log);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`soak: FAILED: ${e.message}`);
    process.exit(1);
  });
}
