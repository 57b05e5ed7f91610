/*
 * The option sets the native harness builds the core with.  Each line is
 * X(name, ZEE_VALIDATION, ZEE_JUMBO_MATCH, ZEE_BUDDY, ZEE_SHRINK, ZEE_CACHE);
 * build.sh reads these lines too, so this list is the single place to add
 * one.  Together they take every value of every option at least once (for
 * ZEE_CACHE: none, the default; 32; and 1, which keeps the cache full).
 * ZEE_CACHE is 0 wherever ZEE_BUDDY is 0: the core turns it off there.
 */
#define ZEE_NATIVE_CONFIGS(X)         \
  X(external, 1, 0, 1, 0, 0)          \
  X(dev, 2, 0, 1, 0, 0)               \
  X(unsafe, 0, 0, 1, 0, 0)            \
  X(fast, 1, 0, 0, 0, 0)              \
  X(chunkify, 1, 0, 1, 1, 0)          \
  X(exact, 1, 1, 1, 0, 0)             \
  X(first, 1, 2, 1, 0, 0)             \
  X(cache, 1, 0, 1, 0, 32)            \
  X(dev_cache1, 2, 0, 1, 0, 1)        \
  X(dev_fast_chunkify_exact, 2, 1, 0, 1, 0) \
  X(dev_chunkify_first_cache, 2, 2, 1, 1, 32) \
  X(unsafe_fast_first, 0, 2, 0, 1, 0)
