# tse-cli's pure helpers (ICMP echo, JSON lines; the proxy environment is
# port/posix's tse_posix_proxy_from_env()) as
# a small library, shared by tse-cli and test/unit/test_cli_*.c.  Included
# from examples/cli/CMakeLists.txt and test/CMakeLists.txt; defined once.
if(NOT TARGET tse_cli_util)
  add_library(tse_cli_util STATIC
    ${CMAKE_CURRENT_LIST_DIR}/icmp_echo.c
    ${CMAKE_CURRENT_LIST_DIR}/json_out.c)
  target_include_directories(tse_cli_util PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_compile_options(tse_cli_util PRIVATE ${TSE_WARN})
  target_link_libraries(tse_cli_util PUBLIC m)
endif()
