# zee_alloc as the malloc of an Emscripten app.
#
#   include(path/to/zee_alloc/emscripten.cmake)
#   add_executable(app main.c)
#   zee_alloc_link(app)                       # options from the cache (below)
#   zee_alloc_link(app VALIDATION dev THREADS ON)   # or per target
#
# Configure with Emscripten's wrapper:
#   emcmake cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
#   cmake --build build
# (with Debian's Emscripten 3.1.6 on Node >= 18 also pass
#  -DCMAKE_CROSSCOMPILING_EMULATOR=/usr/bin/node; see docs/emscripten.md.)
#
# zee_alloc_link(<target> [VALIDATION unsafe|external|dev]
#                         [THREADS ON|OFF] [BUILTIN_ONLY])
#   Compiles src/*.c into <target> (with -fno-builtin, so the optimizer never
#   turns the allocator's own loops into calls to malloc/memset) and links
#   the target with -sMALLOC=none.  Each option defaults to the cache
#   variable ZEE_ALLOC_<OPTION>.  The numeric values of the C macro
#   (0, 1, 2) are accepted too (docs/options.md).
#   THREADS ON builds the allocator with its lock and with -pthread, and adds
#   -pthread to the target's compile and link options (other libraries the
#   target links need -pthread too).  The reverse mistake, a target built
#   with -pthread and THREADS OFF, would link and race: at the end of the
#   directory (CMake >= 3.19) zee_alloc_link checks the target's options and
#   CMAKE_<LANG>_FLAGS for -pthread and stops the configure.
#   BUILTIN_ONLY is for -fsanitize=address builds: ASan brings its own malloc
#   (and mallinfo, memalign, ...), so zee_alloc defines only the names ASan
#   lacks, emscripten_builtin_* and __libc_*; ASan's
#   allocator then takes its memory from zee_alloc.  -sMALLOC=none is still
#   added: it keeps Emscripten's dlmalloc (which defines the same names) out.
#
# Every -s flag is written as one token ("-sMALLOC=none"): CMake de-duplicates
# repeated bare "-s" words in option lists, which would break "-s A -s B".

include_guard(GLOBAL)

if(NOT EMSCRIPTEN)
  message(FATAL_ERROR
    "zee_alloc/emscripten.cmake needs the Emscripten toolchain: configure with "
    "`emcmake cmake ...` (or -DCMAKE_TOOLCHAIN_FILE=<emscripten>/cmake/Modules/Platform/Emscripten.cmake).")
endif()

set(ZEE_ALLOC_ROOT "${CMAKE_CURRENT_LIST_DIR}" CACHE INTERNAL "zee_alloc source tree")

set(ZEE_ALLOC_VALIDATION "external" CACHE STRING "zee_alloc validation: unsafe, external or dev")
set_property(CACHE ZEE_ALLOC_VALIDATION PROPERTY STRINGS unsafe external dev)
option(ZEE_ALLOC_THREADS "zee_alloc: lock every entry point (for -pthread apps)" OFF)

# Maps an option's name or number to the C macro's value; bad input stops the configure.
function(_zee_alloc_choice out option value)
  set(names ${ARGN})
  list(FIND names "${value}" index)
  if(index EQUAL -1)
    list(LENGTH names count)
    math(EXPR last "${count} - 1")
    if(value MATCHES "^[0-9]+$" AND value LESS_EQUAL last)
      set(index ${value})
    else()
      string(REPLACE ";" ", " choices "${names}")
      message(FATAL_ERROR "zee_alloc_link: ${option} is '${value}'; expected one of: ${choices} (or 0..${last})")
    endif()
  endif()
  set(${out} ${index} PARENT_SCOPE)
endfunction()

# Stops the configure if `target` ended up built with -pthread but zee_alloc without its lock.
function(_zee_alloc_check_threads target threads)
  get_target_property(compile ${target} COMPILE_OPTIONS)
  get_target_property(link ${target} LINK_OPTIONS)
  set(flags "${compile};${link};${CMAKE_C_FLAGS};${CMAKE_CXX_FLAGS};${CMAKE_EXE_LINKER_FLAGS}")
  string(REPLACE " " ";" flags "${flags}")
  foreach(flag IN LISTS flags)
    if(flag MATCHES "^(-pthread|-sUSE_PTHREADS(=1)?|-sSHARED_MEMORY(=1)?)$" AND NOT threads)
      message(FATAL_ERROR "zee_alloc_link(${target}): the target is built with ${flag} but "
        "zee_alloc without its lock; pass THREADS ON (or -DZEE_ALLOC_THREADS=ON)")
    endif()
  endforeach()
endfunction()

function(zee_alloc_link target)
  cmake_parse_arguments(ZEE "BUILTIN_ONLY" "VALIDATION;THREADS" "" ${ARGN})
  if(ZEE_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "zee_alloc_link(${target}): unknown arguments: ${ZEE_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "zee_alloc_link: '${target}' is not a target (call it after add_executable)")
  endif()
  foreach(opt VALIDATION THREADS)
    if(NOT DEFINED ZEE_${opt})
      set(ZEE_${opt} "${ZEE_ALLOC_${opt}}")
    endif()
  endforeach()
  _zee_alloc_choice(validation VALIDATION "${ZEE_VALIDATION}" unsafe external dev)
  if(ZEE_THREADS)
    set(threads 1)
  else()
    set(threads 0)
  endif()
  if(ZEE_BUILTIN_ONLY)
    set(builtin 1)
  else()
    set(builtin 0)
  endif()

  # One object library per configuration, shared by the targets that use it.
  set(lib "zee_alloc_v${validation}t${threads}o${builtin}")
  if(NOT TARGET ${lib})
    file(GLOB sources CONFIGURE_DEPENDS "${ZEE_ALLOC_ROOT}/src/*.c")
    add_library(${lib} OBJECT ${sources})
    set_target_properties(${lib} PROPERTIES LINKER_LANGUAGE C)
    target_include_directories(${lib} PUBLIC "${ZEE_ALLOC_ROOT}/src")
    target_compile_definitions(${lib} PRIVATE
      ZEE_VALIDATION=${validation} ZEE_THREADS=${threads} ZEE_BUILTIN_ONLY=${builtin})
    target_compile_options(${lib} PRIVATE -fno-builtin)
    if(threads)
      target_compile_options(${lib} PRIVATE -pthread)
    endif()
  endif()

  target_link_libraries(${target} PRIVATE ${lib})
  target_link_options(${target} PRIVATE "-sMALLOC=none")
  if(threads)
    target_compile_options(${target} PRIVATE -pthread)
    target_link_options(${target} PRIVATE -pthread)
  elseif(NOT CMAKE_VERSION VERSION_LESS 3.19)
    # (EVAL bakes the values in: a deferred call's arguments are expanded late.)
    cmake_language(EVAL CODE "cmake_language(DEFER CALL _zee_alloc_check_threads [[${target}]] ${threads})")
  endif()
endfunction()
