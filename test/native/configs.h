/*
 * The builds of the core that the native harness links together.  Each line
 * is X(name, ZEE_VALIDATION, ZEE_THREADS); build.sh reads these lines too,
 * so this list is the single place to add one.  Together they take every
 * value of both options: validation 0 (unsafe), 1 (external, the default)
 * and 2 (dev: internal asserts), threads 0 and 1.
 *
 * The threads build checks that every call lets go of its spinlock, also
 * when it reports a fault (the harness's fault handler unwinds, as the JS
 * wrapper's does): a call that doesn't hangs the next one, which libFuzzer's
 * -timeout and the regression runner's watchdog report.
 */
#define ZEE_NATIVE_CONFIGS(X)                                                                      \
  X(external, 1, 0)                                                                                \
  X(dev, 2, 0)                                                                                     \
  X(unsafe, 0, 0)                                                                                  \
  X(external_threads, 1, 1)
