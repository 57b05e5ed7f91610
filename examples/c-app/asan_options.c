/* ASan build only: let a failing malloc/calloc return NULL, as the C
 * standard says, instead of aborting the program (ASan's default). */
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
