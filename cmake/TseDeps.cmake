# Dependencies: defines the INTERFACE targets
#   tse_dep_mbedtls  mbed TLS (ssl, x509, crypto) with its include dirs
#   tse_dep_lwip     lwIP (when available)
# according to TSE_DEPS (see the top-level CMakeLists.txt).
# (Minimal first version: "system" only.  debian-src and custom follow.)

add_library(tse_dep_mbedtls INTERFACE)

if(TSE_DEPS STREQUAL "system")
  find_path(TSE_MBEDTLS_INCLUDE mbedtls/ssl.h REQUIRED)
  find_library(TSE_MBEDTLS_LIB mbedtls REQUIRED)
  find_library(TSE_MBEDX509_LIB mbedx509 REQUIRED)
  find_library(TSE_MBEDCRYPTO_LIB mbedcrypto REQUIRED)
  target_include_directories(tse_dep_mbedtls INTERFACE ${TSE_MBEDTLS_INCLUDE})
  target_link_libraries(tse_dep_mbedtls INTERFACE
    ${TSE_MBEDTLS_LIB} ${TSE_MBEDX509_LIB} ${TSE_MBEDCRYPTO_LIB})
else()
  message(FATAL_ERROR "TSE_DEPS=${TSE_DEPS} not implemented yet")
endif()
