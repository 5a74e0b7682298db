# What `cmake --install` and CPack ship (docs/packaging.md):
#
#   include/tse/*.h                the public API (+ tse/version.h generated,
#                                  tse/lwip_netif.h when lwIP is built)
#   include/tse_posix.h, include/tse_detect_posix.h   the POSIX port's API
#   include/tse_tun.h              the Linux TUN port's API
#   lib/libtse.so.<ABI>            core, SONAME libtse.so.${TSE_ABI_VERSION}
#   lib/libtse_posix.so.<ABI>      the POSIX port (needs libtse.so)
#   lib/libtse_linux.so.<ABI>      the Linux TUN port (needs libtse_posix.so)
#   lib/libtse.a, libtse_posix.a, libtse_linux.a   the same as static archives
#   lib/libtse_lwip.a              the lwIP netif (static only; NO_SYS=1 lwIP
#                                  sources only: the application compiles
#                                  its own lwIP with the same lwipopts.h)
#   lib/cmake/tse/                 find_package(tse CONFIG): tse::tse,
#                                  tse::posix, tse::linux, tse::tse_static,
#                                  tse::posix_static, tse::linux_static,
#                                  tse::lwip
#   lib/pkgconfig/tse.pc, tse-posix.pc, tse-linux.pc
#   share/doc/libtse/              sources.txt (the plain source list)
#   bin/tse-cli, bin/tscf-server   the example programs (TSE_BUILD_EXAMPLES)
#   share/man/man1/tse-cli.1, tscf-server.1   their man pages
#
# mbed TLS: when it is compiled here from source (TSE_DEPS=debian-src or
# custom with TSE_MBEDTLS_SOURCE_DIR), its objects are folded into
# libtse.so and libtse.a with every one of their symbols local: the package
# carries its own mbed TLS (configured by port/mbedtls/tse_mbedtls_config.h)
# and cannot clash with an mbed TLS the application links too.  With an
# installed mbed TLS (TSE_DEPS=system, or custom with TSE_MBEDTLS_ROOT) the
# libraries link it: libtse.so has it as DT_NEEDED, libtse.a's users link it
# (pkg-config Libs.private, the CMake target's link interface).
#
# Both libraries are built from the same objects (compiled once, PIC,
# -fvisibility=hidden: only TSE_API functions are exported).  The shared
# ones also use a version script (cmake/libtse.map, cmake/libtse_posix.map)
# and the static ones are partially linked into one object whose globals
# are only those of the version script (cmake/TseLocalize.cmake), so the
# internal tse_tls_*, tse_hc_*, tse_stun_* ... functions are not reachable
# in either.  .ci/check-exports compares both with the headers.
#
# The in-tree targets (tse, tse_posix, ...) that tests and examples link are
# unchanged: they keep the internal functions the tests need.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_pkg_out ${PROJECT_BINARY_DIR}/pkg)
set(_src ${PROJECT_SOURCE_DIR})

function(tse_pkg_common target)
  set_target_properties(${target} PROPERTIES
    C_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON
    ARCHIVE_OUTPUT_DIRECTORY ${_pkg_out}
    LIBRARY_OUTPUT_DIRECTORY ${_pkg_out})
endfunction()

# ---- core: objects, shared, static ----------------------------------------
add_library(tse_pkg_obj OBJECT ${TSE_LIB_SOURCES})
tse_pkg_common(tse_pkg_obj)
target_include_directories(tse_pkg_obj PRIVATE ${_src}/include ${PROJECT_BINARY_DIR}/include
                                               ${_src}/lib)
target_compile_options(tse_pkg_obj PRIVATE ${TSE_WARN})
target_link_libraries(tse_pkg_obj PRIVATE tse_dep_mbedtls)

set(_iface_inc
  $<BUILD_INTERFACE:${_src}/include>
  $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

# The mbed TLS the static archive's users must link (none when folded in).
set(TSE_PKG_MBEDTLS_LINK "")
set(TSE_PC_LIBS_PRIVATE "")
set(TSE_PKG_MBEDTLS_BUNDLED OFF)
if(TARGET tse_ext_mbedtls)
  set(TSE_PKG_MBEDTLS_BUNDLED ON)
  set(_mbedtls_objs $<TARGET_OBJECTS:tse_ext_mbedtls>)
else()
  set(_mbedtls_objs "")
  get_target_property(_l tse_dep_mbedtls INTERFACE_LINK_LIBRARIES)
  foreach(f ${_l})
    list(APPEND TSE_PKG_MBEDTLS_LINK ${f})
    get_filename_component(_n ${f} NAME_WE)
    string(REGEX REPLACE "^lib" "" _n "${_n}")
    get_filename_component(_d ${f} DIRECTORY)
    if(_d MATCHES "^/usr/lib" OR _d STREQUAL "/lib")
      string(APPEND TSE_PC_LIBS_PRIVATE " -l${_n}")
    else()
      string(APPEND TSE_PC_LIBS_PRIVATE " -L${_d} -l${_n}")
    endif()
  endforeach()
  string(STRIP "${TSE_PC_LIBS_PRIVATE}" TSE_PC_LIBS_PRIVATE)
endif()

# Linker flags of the shared libraries: the version script, and every
# symbol resolved at link time (not with the sanitizers, whose runtime is
# the executable's).
function(tse_pkg_shared_flags target map)
  target_link_options(${target} PRIVATE "LINKER:--version-script=${map}")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${map})
  if(NOT TSE_SANITIZE)
    target_link_options(${target} PRIVATE "LINKER:--no-undefined")
  endif()
endfunction()

add_library(tse_shared SHARED $<TARGET_OBJECTS:tse_pkg_obj> ${_mbedtls_objs})
tse_pkg_common(tse_shared)
set_target_properties(tse_shared PROPERTIES
  OUTPUT_NAME tse EXPORT_NAME tse
  VERSION ${PROJECT_VERSION} SOVERSION ${TSE_ABI_VERSION})
target_include_directories(tse_shared INTERFACE ${_iface_inc})
if(NOT TARGET tse_ext_mbedtls)
  target_link_libraries(tse_shared PRIVATE tse_dep_mbedtls)
endif()
tse_pkg_shared_flags(tse_shared ${_src}/cmake/libtse.map)

# The keep lists of the static archives: the names in the version scripts.
function(tse_pkg_keep_list map out)
  file(STRINGS ${map} _lines REGEX "^ +tse_[a-z0-9_]+;")
  set(_k "")
  foreach(l ${_lines})
    string(REGEX REPLACE "^ +(tse_[a-z0-9_]+);.*" "\\1" l "${l}")
    string(APPEND _k "${l}\n")
  endforeach()
  file(WRITE ${out} "${_k}")
  set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${map})
endfunction()

# A static archive made of one partially linked object whose only globals
# are those of @map (cmake/TseLocalize.cmake after each build).
function(tse_pkg_static target output_name export_name map)
  tse_pkg_common(${target})
  set_target_properties(${target} PROPERTIES OUTPUT_NAME ${output_name} EXPORT_NAME ${export_name})
  set(_keep ${_pkg_out}/${output_name}.keep)
  tse_pkg_keep_list(${map} ${_keep})
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DLIB=$<TARGET_FILE:${target}> -DKEEP=${_keep}
            -DLD=${CMAKE_LINKER} -DOBJCOPY=${CMAKE_OBJCOPY} -DAR=${CMAKE_AR}
            -P ${_src}/cmake/TseLocalize.cmake
    VERBATIM)
endfunction()

add_library(tse_static STATIC $<TARGET_OBJECTS:tse_pkg_obj> ${_mbedtls_objs})
tse_pkg_static(tse_static tse tse_static ${_src}/cmake/libtse.map)
target_include_directories(tse_static INTERFACE ${_iface_inc})
if(TSE_PKG_MBEDTLS_LINK)
  target_link_libraries(tse_static INTERFACE ${TSE_PKG_MBEDTLS_LINK})
endif()
set(_pkg_targets tse_shared tse_static)

# ---- the POSIX port ---------------------------------------------------------
if(TARGET tse_posix)
  find_package(Threads REQUIRED)
  file(GLOB _posix_src ${_src}/port/posix/*.c)
  add_library(tse_posix_obj OBJECT ${_posix_src})
  tse_pkg_common(tse_posix_obj)
  target_include_directories(tse_posix_obj PRIVATE ${_src}/include ${PROJECT_BINARY_DIR}/include
                                                   ${_src}/port/posix)
  target_compile_options(tse_posix_obj PRIVATE ${TSE_WARN})
  set(_posix_inc
    $<BUILD_INTERFACE:${_src}/port/posix>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

  add_library(tse_posix_shared SHARED $<TARGET_OBJECTS:tse_posix_obj>)
  tse_pkg_common(tse_posix_shared)
  set_target_properties(tse_posix_shared PROPERTIES
    OUTPUT_NAME tse_posix EXPORT_NAME posix
    VERSION ${PROJECT_VERSION} SOVERSION ${TSE_ABI_VERSION})
  target_include_directories(tse_posix_shared INTERFACE ${_posix_inc})
  target_link_libraries(tse_posix_shared PUBLIC tse_shared PRIVATE Threads::Threads)
  tse_pkg_shared_flags(tse_posix_shared ${_src}/cmake/libtse_posix.map)

  add_library(tse_posix_static STATIC $<TARGET_OBJECTS:tse_posix_obj>)
  tse_pkg_static(tse_posix_static tse_posix posix_static ${_src}/cmake/libtse_posix.map)
  target_include_directories(tse_posix_static INTERFACE ${_posix_inc})
  target_link_libraries(tse_posix_static INTERFACE tse_static Threads::Threads)
  list(APPEND _pkg_targets tse_posix_shared tse_posix_static)
endif()

# ---- the Linux TUN port (port/linux) ----------------------------------------
if(TARGET tse_linux AND TARGET tse_posix_shared)
  file(GLOB _linux_src ${_src}/port/linux/*.c)
  add_library(tse_linux_obj OBJECT ${_linux_src})
  tse_pkg_common(tse_linux_obj)
  target_include_directories(tse_linux_obj PRIVATE ${_src}/include ${PROJECT_BINARY_DIR}/include
                                                   ${_src}/port/posix ${_src}/port/linux)
  target_compile_options(tse_linux_obj PRIVATE ${TSE_WARN})
  set(_linux_inc
    $<BUILD_INTERFACE:${_src}/port/linux>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

  add_library(tse_linux_shared SHARED $<TARGET_OBJECTS:tse_linux_obj>)
  tse_pkg_common(tse_linux_shared)
  set_target_properties(tse_linux_shared PROPERTIES
    OUTPUT_NAME tse_linux EXPORT_NAME linux
    VERSION ${PROJECT_VERSION} SOVERSION ${TSE_ABI_VERSION})
  target_include_directories(tse_linux_shared INTERFACE ${_linux_inc})
  target_link_libraries(tse_linux_shared PUBLIC tse_posix_shared)
  tse_pkg_shared_flags(tse_linux_shared ${_src}/cmake/libtse_linux.map)

  add_library(tse_linux_static STATIC $<TARGET_OBJECTS:tse_linux_obj>)
  tse_pkg_static(tse_linux_static tse_linux linux_static ${_src}/cmake/libtse_linux.map)
  target_include_directories(tse_linux_static INTERFACE ${_linux_inc})
  target_link_libraries(tse_linux_static INTERFACE tse_posix_static)
  list(APPEND _pkg_targets tse_linux_shared tse_linux_static)
endif()

# ---- the lwIP netif (static only, NO_SYS=1 lwIP from source) ---------------
set(TSE_PKG_HAS_LWIP OFF)
if(TARGET tse_lwip_nosys)
  add_library(tse_lwip_static STATIC ${_src}/port/lwip/tse_netif.c)
  tse_pkg_static(tse_lwip_static tse_lwip lwip ${_src}/cmake/libtse_lwip.map)
  target_compile_options(tse_lwip_static PRIVATE ${TSE_WARN})
  target_include_directories(tse_lwip_static PRIVATE
    ${_src}/include ${PROJECT_BINARY_DIR}/include
    $<TARGET_PROPERTY:tse_lwip_nosys,INTERFACE_INCLUDE_DIRECTORIES>)
  target_compile_definitions(tse_lwip_static PRIVATE
    $<TARGET_PROPERTY:tse_lwip_nosys,INTERFACE_COMPILE_DEFINITIONS> _DEFAULT_SOURCE)
  # The application brings lwIP (its headers, its lwipopts.h with NO_SYS=1,
  # its library): only libtse comes with the target.
  target_include_directories(tse_lwip_static INTERFACE ${_iface_inc})
  target_link_libraries(tse_lwip_static INTERFACE tse_static)
  list(APPEND _pkg_targets tse_lwip_static)
  set(TSE_PKG_HAS_LWIP ON)
endif()

# ---- install ----------------------------------------------------------------
install(TARGETS ${_pkg_targets} EXPORT tseTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Unspecified)
set(_hdrs cm.h config.h detect.h error.h export.h framing.h outq.h port.h rfc4571.h stream.h tse.h
          turn.h)
list(TRANSFORM _hdrs PREPEND ${_src}/include/tse/)
list(APPEND _hdrs ${PROJECT_BINARY_DIR}/include/tse/version.h)
if(TSE_PKG_HAS_LWIP)
  list(APPEND _hdrs ${_src}/include/tse/lwip_netif.h)
endif()
install(FILES ${_hdrs} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tse)
if(TARGET tse_posix)
  find_package(Threads REQUIRED)
  install(FILES ${_src}/port/posix/tse_posix.h ${_src}/port/posix/tse_detect_posix.h
                ${_src}/port/posix/tse_posix_stream.h
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
set(_pcs tse tse-posix)
if(TARGET tse_linux_shared)
  install(FILES ${_src}/port/linux/tse_tun.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  list(APPEND _pcs tse-linux)
endif()

set(_cmakedir ${CMAKE_INSTALL_LIBDIR}/cmake/tse)
install(EXPORT tseTargets NAMESPACE tse:: DESTINATION ${_cmakedir})
configure_package_config_file(${_src}/cmake/tseConfig.cmake.in
  ${_pkg_out}/tseConfig.cmake INSTALL_DESTINATION ${_cmakedir})
write_basic_package_version_file(${_pkg_out}/tseConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${_pkg_out}/tseConfig.cmake ${_pkg_out}/tseConfigVersion.cmake
        DESTINATION ${_cmakedir})

# pkg-config: relocatable (prefix from the .pc file's own directory)
file(RELATIVE_PATH TSE_PC_PREFIX_REL
  /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" TSE_PC_PREFIX_REL "${TSE_PC_PREFIX_REL}")
foreach(pc ${_pcs})
  configure_file(${_src}/cmake/${pc}.pc.in ${_pkg_out}/${pc}.pc @ONLY)
  install(FILES ${_pkg_out}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

install(FILES ${_src}/cmake/sources.txt ${_src}/docs/packaging.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The example programs and their man pages (docs/man/, checked by the
# man_* tests), when examples are built.
foreach(_prog tse-cli tscf-server)
  if(TARGET ${_prog})
    install(TARGETS ${_prog} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    install(FILES ${_src}/docs/man/${_prog}.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  endif()
endforeach()

# ---- CPack: one .deb with everything (libraries, headers, package files) ----
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME libtse-dev)
set(CPACK_PACKAGE_VENDOR libtse)
set(CPACK_PACKAGE_CONTACT "libtse maintainers <libtse@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "libtse: TSE tunnel client library (3GPP TR 33.830 Annex A), shared, static and development files")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON) # shlibs + ldconfig triggers
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/cpack)
include(CPack)
