// A JS shadow model of the heap: it tracks every live allocation, fills each
// with its own byte pattern, and checks alignment, overlap and contents.
// Used by the Jest suites, the soak run and the inspector stress test.

/** mulberry32: a small seeded PRNG, so every random run can be replayed. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  return next;
}

/** The seed of a random test: $ZEE_SEED if set, else a fresh one. */
export function seedFromEnv() {
  const s = process.env.ZEE_SEED;
  return s ? Number(s) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}

export class ShadowHeapError extends Error {}

/**
 * Tracks live blocks of one ZeeAlloc instance `z`.  `add` checks a new block
 * (non-null, aligned, a usable size of n .. n + 15 bytes, inside memory,
 * overlapping nothing live) and fills it;
 * `remove` checks the block's pattern and its address neighbours' before the
 * caller frees it; `verifyAll` checks every live byte.
 */
export class Shadow {
  constructor(z) {
    this.z = z;
    this.starts = []; // sorted payload addresses
    this.blocks = new Map(); // ptr -> { size, byte }
    this.nextByte = 1;
    this.liveBytes = 0;
    this.peakLiveBytes = 0;
  }

  get count() {
    return this.blocks.size;
  }

  _index(ptr) {
    let lo = 0,
      hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] < ptr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  _fail(msg) {
    throw new ShadowHeapError(msg);
  }

  /** Registers a new block of `size` bytes at `ptr` aligned to `align`. */
  add(ptr, size, align = 16) {
    if (!ptr) this._fail(`allocation of ${size} returned NULL`);
    if (ptr % 16 || ptr % align)
      this._fail(`0x${ptr.toString(16)} (size ${size}) is not ${Math.max(16, align)}-aligned`);
    const usable = this.z.usableSize(ptr);
    if (usable < size) this._fail(`usable size ${usable} < requested ${size} at 0x${ptr.toString(16)}`);
    // Every block is its request plus the 8-byte header, rounded up to 16
    // (docs/layout.md): more than 15 spare bytes would be a rounding bug.
    if (usable > size + 15) this._fail(`usable size ${usable} > requested ${size} + 15 at 0x${ptr.toString(16)}`);
    const end = ptr + Math.max(size, 1);
    if (end > this.z.memoryBytes) this._fail(`block 0x${ptr.toString(16)}+${size} runs past memory`);
    const i = this._index(ptr);
    const prev = this.starts[i - 1],
      next = this.starts[i];
    if (next === ptr) this._fail(`0x${ptr.toString(16)} returned twice (still live)`);
    if (prev !== undefined && prev + Math.max(this.blocks.get(prev).size, 1) > ptr)
      this._fail(`0x${ptr.toString(16)}+${size} overlaps live 0x${prev.toString(16)}+${this.blocks.get(prev).size}`);
    if (next !== undefined && end > next)
      this._fail(`0x${ptr.toString(16)}+${size} overlaps live 0x${next.toString(16)}`);
    const byte = this.nextByte;
    this.nextByte = (this.nextByte % 251) + 1;
    this.starts.splice(i, 0, ptr);
    this.blocks.set(ptr, { size, byte });
    this.z.HEAPU8.fill(byte, ptr, ptr + size);
    this.liveBytes += size;
    if (this.liveBytes > this.peakLiveBytes) this.peakLiveBytes = this.liveBytes;
  }

  /** Checks that the block at ptr still holds its pattern. */
  verify(ptr) {
    const b = this.blocks.get(ptr);
    if (!b) this._fail(`0x${ptr.toString(16)} is not live`);
    const u8 = this.z.HEAPU8;
    const words = b.size >>> 2;
    const w = (b.byte * 0x01010101) >>> 0;
    const u32 = this.z.HEAPU32;
    const base = ptr >>> 2;
    for (let k = 0; k < words; k++) {
      if (u32[base + k] !== w) this._bad(ptr, b, 4 * k);
    }
    for (let k = words * 4; k < b.size; k++) if (u8[ptr + k] !== b.byte) this._bad(ptr, b, k);
  }

  _bad(ptr, b, off) {
    this._fail(`live block 0x${ptr.toString(16)}+${b.size} was overwritten at +${off} (0x${(ptr + off).toString(16)})`);
  }

  /** Verifies the block and its address neighbours, then forgets it. */
  remove(ptr) {
    const i = this._index(ptr);
    if (this.starts[i] !== ptr) this._fail(`0x${ptr.toString(16)} is not live`);
    this.verify(ptr);
    if (i > 0) this.verify(this.starts[i - 1]);
    if (i + 1 < this.starts.length) this.verify(this.starts[i + 1]);
    this.liveBytes -= this.blocks.get(ptr).size;
    this.starts.splice(i, 1);
    this.blocks.delete(ptr);
  }

  /** After realloc: the first min(old,new) bytes moved with the block. */
  moved(oldPtr, newPtr, newSize) {
    const b = this.blocks.get(oldPtr);
    const keep = Math.min(b.size, newSize);
    const u8 = this.z.HEAPU8;
    for (let k = 0; k < keep; k++)
      if (u8[newPtr + k] !== b.byte)
        this._fail(`realloc 0x${oldPtr.toString(16)} -> 0x${newPtr.toString(16)} lost byte ${k}`);
    this.liveBytes -= b.size;
    this.starts.splice(this._index(oldPtr), 1);
    this.blocks.delete(oldPtr);
  }

  verifyAll() {
    for (const p of this.starts) this.verify(p);
  }

  /** A random live block's address, or 0. */
  pick(r) {
    return this.starts.length ? this.starts[Math.floor(r() * this.starts.length)] : 0;
  }
}
