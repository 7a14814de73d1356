# The libraries isol8 links, as project targets (isol8_dep_*).
#
# Every `isol8 run` starts the CLI anew, and the dynamic loader's symbol lookups for some thirty
# shared libraries cost about 4 ms of CPU per start (perf: do_lookup_x and friends), a large part
# of a run's overhead. So the libraries Debian ships a static archive for are linked statically,
# fmt and spdlog are used header-only, and the binary is linked --as-needed: what stays shared is
# glibc and libnftables with its own dependencies (Debian has no static archive of them).
# `isol8 --version`: 4.47 ms of CPU before, 1.77 ms after.

find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
pkg_check_modules(LIBNL REQUIRED libnl-3.0 libnl-route-3.0)
pkg_check_modules(NFTABLES REQUIRED IMPORTED_TARGET GLOBAL libnftables)

# isol8_static_dependency(<target> ARCHIVES <lib>... [INCLUDE_DIRS <dir>...] [SHARED <lib>...]):
# an interface target linking lib<lib>.a in the order given, then the SHARED libraries.
function(isol8_static_dependency target)
  cmake_parse_arguments(arg "" "" "ARCHIVES;INCLUDE_DIRS;SHARED" ${ARGN})
  add_library(${target} INTERFACE)
  foreach(archive IN LISTS arg_ARCHIVES)
    string(MAKE_C_IDENTIFIER "ISOL8_STATIC_${archive}" variable)
    find_library(${variable} NAMES lib${archive}.a REQUIRED)
    target_link_libraries(${target} INTERFACE ${${variable}})
  endforeach()
  target_include_directories(${target} INTERFACE ${arg_INCLUDE_DIRS})
  target_link_libraries(${target} INTERFACE ${arg_SHARED})
endfunction()

isol8_static_dependency(isol8_dep_seccomp ARCHIVES seccomp)
isol8_static_dependency(isol8_dep_cap ARCHIVES cap)
isol8_static_dependency(isol8_dep_nl ARCHIVES nl-route-3 nl-3
  INCLUDE_DIRS ${LIBNL_INCLUDE_DIRS} SHARED Threads::Threads m)
# libarchive.a uses nettle for its digests and encryption: listed here so that nettle follows it
# in every link line, whatever else links isol8_dep_hash.
isol8_static_dependency(isol8_dep_archive ARCHIVES archive nettle xml2 icuuc icudata acl zstd lz4 lzma bz2 z
  SHARED ${CMAKE_DL_LIBS} m)
isol8_static_dependency(isol8_dep_hash ARCHIVES nettle)
# RE2 matches the filtered network's host patterns in time linear in the host name (a
# backtracking engine would let a sandboxed program stall the proxy with a crafted name).
isol8_static_dependency(isol8_dep_re2 ARCHIVES re2 SHARED Threads::Threads)
# TLS to an isol8 server (the remote client): OpenSSL, statically like the rest.
isol8_static_dependency(isol8_dep_ssl ARCHIVES ssl crypto SHARED ${CMAKE_DL_LIBS} Threads::Threads)
# The server's auth keys (--auth-db <path>).
isol8_static_dependency(isol8_dep_sqlite ARCHIVES sqlite3 SHARED ${CMAKE_DL_LIBS} Threads::Threads m)

# Only its header at build time: src/netfilter loads libnftables.so.1 when a filtered network
# first needs it (nftables_library.h), so that the other runs start without its six libraries.
add_library(isol8_dep_nftables INTERFACE)
target_include_directories(isol8_dep_nftables INTERFACE ${NFTABLES_INCLUDE_DIRS})

# spdlog::spdlog_header_only would still pull in the shared libfmt (and its FMT_SHARED).
add_library(isol8_dep_logging INTERFACE)
get_target_property(spdlog_includes spdlog::spdlog_header_only INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(isol8_dep_logging INTERFACE ${spdlog_includes})
target_compile_definitions(isol8_dep_logging INTERFACE SPDLOG_FMT_EXTERNAL)
target_link_libraries(isol8_dep_logging INTERFACE fmt::fmt-header-only Threads::Threads)

add_link_options(-Wl,--as-needed)
