/*
 * Real program: the Lua 5.2.4 interpreter, from the C sources that the
 * lua.vm.js npm package ships (Emscripten's own Lua port); bench/run.mjs
 * fetches them at bench time.
 *
 *   lua.js SCALE
 *
 * Runs bench/programs/lua_workload.lua (binary-trees, then a text phase)
 * with the scale as its argument.  bench/run.mjs embeds the script as the
 * byte array lua_workload[] in the generated header lua_workload.h.  Every
 * table, string and closure goes through realloc and free, by the same
 * allocator function as luaL_newstate's, plus a count of the bytes Lua holds.
 * The checksum hashes the script's output.
 */
#include "program.h"
#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"
#include "lua_workload.h"

static uint64_t live, peak_live;

/* lauxlib's l_alloc, counting live bytes (osize is a type tag when ptr is NULL). */
static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    live -= old;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p) {
    live = live - old + nsize; /* in 64 bits: nsize - old can be negative */
    if (live > peak_live)
      peak_live = live;
  }
  return p;
}

static int panic(lua_State *L) {
  fail("unprotected Lua error", lua_tostring(L, -1));
  return 0;
}

int main(int argc, char **argv) {
  long scale = program_scale(argc, argv);
  double t0 = emscripten_get_now();
  lua_State *L = lua_newstate(counting_alloc, NULL);
  if (!L)
    fail("lua_newstate failed (out of memory)", 0);
  lua_atpanic(L, panic);
  luaL_openlibs(L);
  if (luaL_loadbuffer(L, (const char *)lua_workload, sizeof lua_workload, "=lua_workload.lua") !=
      LUA_OK)
    fail("cannot load the script", lua_tostring(L, -1));
  lua_pushinteger(L, scale);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    fail("the script failed", lua_tostring(L, -1));
  size_t len;
  const char *out = lua_tolstring(L, -1, &len);
  if (!out || !len)
    fail("the script returned no output", 0);
  hash_bytes(out, len);
  uint64_t lines = 0;
  for (size_t i = 0; i < len; i++)
    lines += out[i] == '\n';
  lua_close(L);
  if (live != 0)
    fail("Lua still holds memory after lua_close", 0);
  report("lua", emscripten_get_now() - t0, lines, peak_live);
  return 0;
}
