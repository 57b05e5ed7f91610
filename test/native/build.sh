#!/usr/bin/env bash
# Builds the native (host) test programs of zee_alloc with clang:
#   bash test/native/build.sh fuzz     -> build/native/fuzz/zee_fuzz     (libFuzzer + ASan + UBSan)
#   bash test/native/build.sh regress  -> build/native/regress/zee_regress (ASan + UBSan, no libFuzzer)
# src/zee_alloc.c is compiled once per line of test/native/configs.h, and each
# object's zee_* names get the config's prefix (objcopy), so one program holds
# every build.  Prints the program's path; rebuilds only when a source changed.
set -euo pipefail
kind="${1:-}"
case "$kind" in
  fuzz) san="-fsanitize=fuzzer-no-link,address,undefined"; link="-fsanitize=fuzzer,address,undefined"; main="" ;;
  regress) san="-fsanitize=address,undefined"; link="$san"; main="test/native/regress.c" ;;
  *) echo "usage: build.sh fuzz|regress" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/../.."
CC="${CC:-clang}"
command -v "$CC" >/dev/null || { echo "build.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
OBJCOPY="${OBJCOPY:-$(command -v llvm-objcopy-14 || command -v llvm-objcopy || command -v objcopy || true)}"
[ -n "$OBJCOPY" ] || { echo "build.sh: no objcopy (apt-get install binutils)" >&2; exit 1; }

# ZEE_CORE=path builds another copy of the core (to check that the harness
# catches a deliberately broken allocator, or another revision of the core)
# into build/native/<kind>-mutant; a zee_alloc.h next to it comes before src/.
# ZEE_NATIVE_OUT=dir builds into dir instead, so that runs at the same time
# (the mutant tests of two test runs) don't overwrite each other's program.
core="${ZEE_CORE:-src/zee_alloc.c}"
inc=(-I "$(dirname "$core")" -I src)
out="${ZEE_NATIVE_OUT:-build/native/$kind${ZEE_CORE:+-mutant}}"
bin="$out/zee_$kind"
mkdir -p "$out"
sources=("$core" "$(dirname "$core")"/*.h src/*.h test/native/*.c test/native/*.h test/native/build.sh)
# Why the stamp: switching ZEE_CORE to an older file must rebuild too.
stamp="$out/core-path"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$(realpath "$core")" ] &&
   [ -z "$(find "${sources[@]}" -newer "$bin" 2>/dev/null)" ]; then
  echo "$bin"
  exit 0
fi

cflags=(-g -O1 -fno-omit-frame-pointer $san -fno-sanitize-recover=all -std=gnu11 -Wall -Wextra)
names=(zee_malloc zee_free zee_calloc zee_realloc zee_memalign zee_usable_size zee_check zee_heap_info)
objs=()
# Lines "X(name, validation, threads)" of configs.h.
while read -r name v t; do
  o="$out/core_$name.o"
  "$CC" "${cflags[@]}" -Werror "${inc[@]}" -c "$core" -o "$o" -DZEE_VALIDATION="$v" -DZEE_THREADS="$t"
  renames=()
  for n in "${names[@]}"; do renames+=(--redefine-sym "$n=${name}_$n"); done
  "$OBJCOPY" "${renames[@]}" "$o"
  objs+=("$o")
done < <(sed -n 's/^ *X(\([a-z_0-9]*\), *\([0-9]\), *\([0-9]\)).*/\1 \2 \3/p' test/native/configs.h)
[ ${#objs[@]} -gt 0 ] || { echo "build.sh: no configs found in test/native/configs.h" >&2; exit 1; }

"$CC" "${cflags[@]}" "${inc[@]}" $link -o "$bin.tmp" test/native/harness.c test/native/page_source.c $main "${objs[@]}"
mv "$bin.tmp" "$bin"
realpath "$core" >"$stamp"
echo "$bin"
