# Dependencies: defines the INTERFACE targets
#   tse_dep_mbedtls     mbed TLS (ssl, x509, crypto) with its include dirs
#   tse_dep_lwip_nosys  lwIP built with NO_SYS=1 (raw API; the user provides
#                       sys_now()), with port/lwip/lwipopts.h
#   tse_dep_lwip_sys    lwIP built with NO_SYS=0 (tcpip thread, netconn,
#                       sockets; pthread sys_arch)
#   tse_dep_lwip        = tse_dep_lwip_nosys when there is one, otherwise
#                       tse_dep_lwip_sys (TSE_DEPS=system)
# and the variables TSE_MBEDTLS_FROM_SOURCE, TSE_LWIP_FROM_SOURCE (ON/OFF),
# according to TSE_DEPS (see the top-level CMakeLists.txt and README.md
# "Building against your own mbed TLS and lwIP"):
#
#   debian-src  mbed TLS 3.6.6 and lwIP 2.2.1 from Debian 13 (trixie) source
#               packages, unpacked under TSE_DEPS_CACHE by .ci/fetch-deps
#               (run here if they are missing) and compiled below as static
#               libraries with the project's own configuration headers
#               port/mbedtls/tse_mbedtls_config.h and port/lwip/lwipopts.h.
#   system      the installed packages (Debian bookworm: libmbedtls-dev 2.28,
#               liblwip-dev 2.1.3, which is NO_SYS=0 only and built with
#               Debian's own lwipopts.h).
#   custom      -DTSE_MBEDTLS_SOURCE_DIR=<mbed TLS 3.6 tree> (compiled like
#               debian-src) or -DTSE_MBEDTLS_ROOT=<installed prefix>;
#               -DTSE_LWIP_SOURCE_DIR=<lwIP 2.2 tree> (compiled like
#               debian-src; without it there is no lwIP).
#
# mbed TLS's and lwIP's own build systems are not used: the vendor way is to
# compile their .c files into one's own build, which is what happens here.
# Their sources are compiled without the project's warning flags.

option(TSE_OPTIMIZE_DEPS
  "Compile mbed TLS and lwIP from source with -O2 even in unoptimized (no build type, Debug) builds: handshakes at -O0 with sanitizers are too slow for the many-tunnel tests"
  ON)
option(TSE_MBEDTLS_CLIENT_ONLY
  "Compile mbed TLS from source with only what the library needs (no TLS server, no certificate writing, no file I/O); the tests and examples need the full set"
  OFF)

set(TSE_DEBIAN_MBEDTLS_VERSION "3.6.6-0.1~deb13u1")
set(TSE_DEBIAN_LWIP_VERSION "2.2.1+dfsg1-1+deb13u1")
if(DEFINED ENV{TSE_DEPS_CACHE} AND NOT "$ENV{TSE_DEPS_CACHE}" STREQUAL "")
  set(_tse_cache_default "$ENV{TSE_DEPS_CACHE}")
elseif(DEFINED ENV{HOME} AND NOT "$ENV{HOME}" STREQUAL "")
  set(_tse_cache_default "$ENV{HOME}/.cache/libtse-deps")
else()
  set(_tse_cache_default "/tmp/.cache/libtse-deps") # as .ci/fetch-deps
endif()
set(TSE_DEPS_CACHE "${_tse_cache_default}" CACHE PATH
  "Where .ci/fetch-deps keeps the Debian source packages (TSE_DEPS=debian-src)")

set(TSE_MBEDTLS_SOURCE_DIR "" CACHE PATH "TSE_DEPS=custom: mbed TLS 3.6 source tree")
set(TSE_MBEDTLS_ROOT "" CACHE PATH "TSE_DEPS=custom: installed mbed TLS prefix")
set(TSE_LWIP_SOURCE_DIR "" CACHE PATH "TSE_DEPS=custom: lwIP 2.2 source tree")

set(_tse_port_dir ${CMAKE_CURRENT_LIST_DIR}/../port)
get_filename_component(_tse_port_dir ${_tse_port_dir} ABSOLUTE)

add_library(tse_dep_mbedtls INTERFACE)
set(TSE_MBEDTLS_FROM_SOURCE OFF)
set(TSE_LWIP_FROM_SOURCE OFF)

# Flags for third-party code compiled here: no project warnings, and -O2
# unless the build type already optimizes.
function(tse_third_party target)
  set_target_properties(${target} PROPERTIES C_EXTENSIONS ON)
  if(TSE_OPTIMIZE_DEPS AND (NOT CMAKE_BUILD_TYPE OR CMAKE_BUILD_TYPE STREQUAL "Debug"))
    target_compile_options(${target} PRIVATE -O2)
  endif()
endfunction()

# ---------------------------------------------------------------------------
# mbed TLS from a source tree, with port/mbedtls/tse_mbedtls_config.h
# ---------------------------------------------------------------------------
function(tse_mbedtls_from_source dir)
  if(NOT EXISTS ${dir}/library/ssl_tls13_client.c OR NOT EXISTS ${dir}/include/mbedtls/build_info.h)
    message(FATAL_ERROR "${dir} is not an mbed TLS 3.x source tree (no library/ssl_tls13_client.c)")
  endif()
  file(STRINGS ${dir}/include/mbedtls/build_info.h _v REGEX "define MBEDTLS_VERSION_STRING ")
  string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" _v "${_v}")
  if(NOT _v MATCHES "^3\\.6\\.")
    message(WARNING "mbed TLS ${_v} in ${dir}: port/mbedtls/tse_mbedtls_config.h is written for 3.6")
  endif()
  # What the configuration enables (the others compile to nothing anyway).
  set(_files
    aes aesni asn1parse asn1write base64 bignum bignum_core chacha20 chachapoly
    cipher cipher_wrap constant_time ctr_drbg debug ecdh ecdsa ecp ecp_curves
    entropy entropy_poll error gcm hkdf hmac_drbg md md5 mps_reader oid pem pk pk_ecc
    pk_wrap pkparse pkwrite platform platform_util poly1305
    psa_crypto psa_crypto_aead psa_crypto_cipher psa_crypto_client
    psa_crypto_driver_wrappers_no_static psa_crypto_ecp psa_crypto_hash
    psa_crypto_mac psa_crypto_random psa_crypto_rsa psa_crypto_slot_management
    psa_util rsa rsa_alt_helpers sha1 sha256 sha512
    ssl_ciphersuites ssl_client ssl_debug_helpers_generated ssl_msg ssl_ticket
    ssl_tls ssl_tls12_client ssl_tls12_server ssl_tls13_client
    ssl_tls13_generic ssl_tls13_keys ssl_tls13_server
    version version_features x509 x509_create x509_crt x509write
    x509write_crt x509write_csr)
  set(_srcs)
  foreach(f ${_files})
    if(EXISTS ${dir}/library/${f}.c)
      list(APPEND _srcs ${dir}/library/${f}.c)
    endif()
  endforeach()
  add_library(tse_ext_mbedtls STATIC ${_srcs})
  tse_third_party(tse_ext_mbedtls)
  # PIC: folded into libtse.so (cmake/TsePackage.cmake)
  set_target_properties(tse_ext_mbedtls PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_include_directories(tse_ext_mbedtls PRIVATE ${dir}/library)
  target_include_directories(tse_ext_mbedtls SYSTEM PUBLIC ${dir}/include)
  target_include_directories(tse_ext_mbedtls PUBLIC ${_tse_port_dir}/mbedtls)
  target_compile_definitions(tse_ext_mbedtls PUBLIC
    "MBEDTLS_CONFIG_FILE=\"tse_mbedtls_config.h\"")
  if(NOT TSE_MBEDTLS_CLIENT_ONLY)
    target_compile_definitions(tse_ext_mbedtls PUBLIC TSE_MBEDTLS_FULL)
  endif()
  target_link_libraries(tse_dep_mbedtls INTERFACE tse_ext_mbedtls)
  set(TSE_MBEDTLS_VERSION ${_v} PARENT_SCOPE)
  message(STATUS "libtse: mbed TLS ${_v} from source ${dir}"
                 " (TSE_MBEDTLS_CLIENT_ONLY=${TSE_MBEDTLS_CLIENT_ONLY})")
endfunction()

# ---------------------------------------------------------------------------
# lwIP from a source tree, twice, with port/lwip/lwipopts.h
# ---------------------------------------------------------------------------
function(tse_lwip_from_source dir)
  if(NOT EXISTS ${dir}/src/core/init.c OR NOT EXISTS ${dir}/src/include/lwip/init.h)
    message(FATAL_ERROR "${dir} is not an lwIP source tree (no src/core/init.c)")
  endif()
  file(GLOB _core ${dir}/src/core/*.c ${dir}/src/core/ipv4/*.c ${dir}/src/core/ipv6/*.c)
  set(_core ${_core} ${dir}/src/netif/ethernet.c)
  file(GLOB _api ${dir}/src/api/*.c)

  add_library(tse_lwip_nosys STATIC ${_core})
  target_compile_definitions(tse_lwip_nosys PUBLIC NO_SYS=1)
  target_include_directories(tse_lwip_nosys PUBLIC ${_tse_port_dir}/lwip)
  target_include_directories(tse_lwip_nosys SYSTEM PUBLIC ${dir}/src/include)
  tse_third_party(tse_lwip_nosys)
  add_library(tse_dep_lwip_nosys INTERFACE)
  target_link_libraries(tse_dep_lwip_nosys INTERFACE tse_lwip_nosys)
  # The same with LWIP_DNS=1 (port/lwip/lwipopts.h keeps it off with
  # NO_SYS=1): for the tests of name resolution over the raw API.
  add_library(tse_lwip_nosys_dns STATIC ${_core})
  target_compile_definitions(tse_lwip_nosys_dns PUBLIC NO_SYS=1 LWIP_DNS=1)
  target_include_directories(tse_lwip_nosys_dns PUBLIC ${_tse_port_dir}/lwip)
  target_include_directories(tse_lwip_nosys_dns SYSTEM PUBLIC ${dir}/src/include)
  tse_third_party(tse_lwip_nosys_dns)
  add_library(tse_dep_lwip_nosys_dns INTERFACE)
  target_link_libraries(tse_dep_lwip_nosys_dns INTERFACE tse_lwip_nosys_dns)

  # NO_SYS=0 needs a sys_arch: lwIP's unix port (pthreads) from the same tree.
  set(_sys_arch ${dir}/contrib/ports/unix/port/sys_arch.c)
  if(EXISTS ${_sys_arch})
    find_package(Threads REQUIRED)
    add_library(tse_lwip_sys STATIC ${_core} ${_api} ${_sys_arch})
    target_compile_definitions(tse_lwip_sys PUBLIC NO_SYS=0)
    # port/lwip first: its arch/cc.h wins over the unix port's.
    target_include_directories(tse_lwip_sys PUBLIC ${_tse_port_dir}/lwip)
    target_include_directories(tse_lwip_sys SYSTEM PUBLIC
      ${dir}/src/include ${dir}/contrib/ports/unix/port/include)
    tse_third_party(tse_lwip_sys)
    target_link_libraries(tse_lwip_sys PUBLIC Threads::Threads)
    add_library(tse_dep_lwip_sys INTERFACE)
    target_link_libraries(tse_dep_lwip_sys INTERFACE tse_lwip_sys)
  else()
    message(STATUS "libtse: ${_sys_arch} not found: no NO_SYS=0 lwIP (tse_dep_lwip_sys)")
  endif()

  add_library(tse_dep_lwip INTERFACE)
  target_link_libraries(tse_dep_lwip INTERFACE tse_dep_lwip_nosys)
  tse_lwip_header_version(${dir}/src/include _v)
  set(TSE_LWIP_VERSION ${_v} PARENT_SCOPE)
  message(STATUS "libtse: lwIP ${_v} from source ${dir}")
endfunction()

# "2.2.1" from <include>/lwip/init.h
function(tse_lwip_header_version include out)
  file(STRINGS ${include}/lwip/init.h _v REGEX "define LWIP_VERSION_(MAJOR|MINOR|REVISION) ")
  string(REGEX REPLACE "[^0-9]+([0-9]+)[^0-9]+([0-9]+)[^0-9]+([0-9]+).*" "\\1.\\2.\\3" _v "${_v}")
  set(${out} ${_v} PARENT_SCOPE)
endfunction()

# ---------------------------------------------------------------------------
if(TSE_DEPS STREQUAL "debian-src")
  set(_mbedtls_dir ${TSE_DEPS_CACHE}/src/mbedtls-3.6.6)
  set(_lwip_dir ${TSE_DEPS_CACHE}/src/lwip-2.2.1+dfsg1)
  set(_stamp ${TSE_DEPS_CACHE}/src/.tse-fetched)
  set(_want "mbedtls=${TSE_DEBIAN_MBEDTLS_VERSION} lwip=${TSE_DEBIAN_LWIP_VERSION}")
  set(_have "")
  if(EXISTS ${_stamp})
    file(READ ${_stamp} _have)
    string(STRIP "${_have}" _have)
  endif()
  if(NOT _have STREQUAL _want OR NOT EXISTS ${_mbedtls_dir} OR NOT EXISTS ${_lwip_dir})
    message(STATUS "libtse: fetching ${_want} into ${TSE_DEPS_CACHE} (.ci/fetch-deps)")
    execute_process(
      COMMAND ${CMAKE_COMMAND} -E env TSE_DEPS_CACHE=${TSE_DEPS_CACHE}
              bash ${CMAKE_CURRENT_LIST_DIR}/../.ci/fetch-deps
      RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR
        "libtse: could not fetch the Debian source packages (.ci/fetch-deps failed).\n"
        "Run `bash .ci/install-deps` (needs dpkg-dev and access to the Debian archive), "
        "or configure with -DTSE_DEPS=system or -DTSE_DEPS=custom.")
    endif()
  endif()
  tse_mbedtls_from_source(${_mbedtls_dir})
  tse_lwip_from_source(${_lwip_dir})
  set(TSE_MBEDTLS_FROM_SOURCE ON)
  set(TSE_LWIP_FROM_SOURCE ON)

elseif(TSE_DEPS STREQUAL "system")
  find_path(TSE_MBEDTLS_INCLUDE mbedtls/ssl.h REQUIRED)
  find_library(TSE_MBEDTLS_LIB mbedtls REQUIRED)
  find_library(TSE_MBEDX509_LIB mbedx509 REQUIRED)
  find_library(TSE_MBEDCRYPTO_LIB mbedcrypto REQUIRED)
  target_include_directories(tse_dep_mbedtls INTERFACE ${TSE_MBEDTLS_INCLUDE})
  target_link_libraries(tse_dep_mbedtls INTERFACE
    ${TSE_MBEDTLS_LIB} ${TSE_MBEDX509_LIB} ${TSE_MBEDCRYPTO_LIB})

  # liblwip-dev: headers (and Debian's lwipopts.h, NO_SYS=0) in
  # /usr/include/lwip, one shared library with the unix port's sys_arch.
  find_path(TSE_LWIP_INCLUDE lwipopts.h PATH_SUFFIXES lwip)
  find_library(TSE_LWIP_LIB lwip)
  if(TSE_LWIP_INCLUDE AND TSE_LWIP_LIB)
    find_package(Threads REQUIRED)
    add_library(tse_dep_lwip_sys INTERFACE)
    target_include_directories(tse_dep_lwip_sys SYSTEM INTERFACE ${TSE_LWIP_INCLUDE})
    target_link_libraries(tse_dep_lwip_sys INTERFACE ${TSE_LWIP_LIB} Threads::Threads)
    add_library(tse_dep_lwip INTERFACE)
    target_link_libraries(tse_dep_lwip INTERFACE tse_dep_lwip_sys)
    tse_lwip_header_version(${TSE_LWIP_INCLUDE} TSE_LWIP_VERSION)
    message(STATUS "libtse: system lwIP ${TSE_LWIP_VERSION} ${TSE_LWIP_LIB} (NO_SYS=0, Debian's lwipopts.h)")
  else()
    message(STATUS "libtse: no system lwIP (liblwip-dev): lwIP targets not defined")
  endif()

elseif(TSE_DEPS STREQUAL "custom")
  if(TSE_MBEDTLS_SOURCE_DIR)
    tse_mbedtls_from_source(${TSE_MBEDTLS_SOURCE_DIR})
    set(TSE_MBEDTLS_FROM_SOURCE ON)
  elseif(TSE_MBEDTLS_ROOT)
    find_path(TSE_MBEDTLS_INCLUDE mbedtls/ssl.h PATHS ${TSE_MBEDTLS_ROOT}/include
              NO_DEFAULT_PATH REQUIRED)
    foreach(l mbedtls mbedx509 mbedcrypto)
      find_library(TSE_${l}_LIB ${l}
                   PATHS ${TSE_MBEDTLS_ROOT}/lib/${CMAKE_LIBRARY_ARCHITECTURE}
                         ${TSE_MBEDTLS_ROOT}/lib ${TSE_MBEDTLS_ROOT}/lib64
                   NO_DEFAULT_PATH REQUIRED)
    endforeach()
    target_include_directories(tse_dep_mbedtls INTERFACE ${TSE_MBEDTLS_INCLUDE})
    target_link_libraries(tse_dep_mbedtls INTERFACE
      ${TSE_mbedtls_LIB} ${TSE_mbedx509_LIB} ${TSE_mbedcrypto_LIB})
    message(STATUS "libtse: installed mbed TLS in ${TSE_MBEDTLS_ROOT}")
  else()
    message(FATAL_ERROR "TSE_DEPS=custom needs -DTSE_MBEDTLS_SOURCE_DIR=<mbed TLS 3.6 tree> "
                        "or -DTSE_MBEDTLS_ROOT=<installed prefix>")
  endif()
  if(TSE_LWIP_SOURCE_DIR)
    tse_lwip_from_source(${TSE_LWIP_SOURCE_DIR})
    set(TSE_LWIP_FROM_SOURCE ON)
  else()
    message(STATUS "libtse: no TSE_LWIP_SOURCE_DIR: lwIP targets not defined")
  endif()

else()
  message(FATAL_ERROR "TSE_DEPS=${TSE_DEPS}: use debian-src, system or custom")
endif()

if(TSE_MBEDTLS_FROM_SOURCE AND TSE_MBEDTLS_CLIENT_ONLY AND (TSE_BUILD_TESTS OR TSE_BUILD_EXAMPLES))
  message(FATAL_ERROR
    "TSE_MBEDTLS_CLIENT_ONLY=ON compiles mbed TLS without the TLS server and the "
    "certificate writing the tests and examples use: add -DTSE_BUILD_TESTS=OFF "
    "-DTSE_BUILD_EXAMPLES=OFF (the library itself needs only the client side).")
endif()

# test/unit/test_deps_{mbedtls,lwip}.c check the dependency builds; they are created by
# test/CMakeLists.txt after this file runs, so link it at the end of the
# top-level directory.
function(tse_deps_link_tests)
  if(TARGET test_deps_mbedtls AND TSE_MBEDTLS_VERSION)
    target_compile_definitions(test_deps_mbedtls PRIVATE
      "TSE_TEST_MBEDTLS_VERSION=\"${TSE_MBEDTLS_VERSION}\"")
  endif()
  if(TARGET test_deps_lwip)
    if(TARGET tse_dep_lwip)
      target_link_libraries(test_deps_lwip PRIVATE tse_dep_lwip)
      target_compile_definitions(test_deps_lwip PRIVATE
        "TSE_TEST_LWIP_VERSION=\"${TSE_LWIP_VERSION}\"")
    else()
      target_compile_definitions(test_deps_lwip PRIVATE TSE_TEST_NO_LWIP)
    endif()
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL tse_deps_link_tests)
