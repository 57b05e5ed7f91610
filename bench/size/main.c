/*
 * The code-size module: an empty program whose exports (set on the emcc
 * command line by bench/run.mjs) keep the measured allocator functions alive.
 */
int main(void) { return 0; }
