# Included by the top-level CMakeLists.txt (host build): the ctest test that
# cross-builds examples/cortex-m into <build>/cortex-m and runs the image
# under QEMU mps2-an386 against tscf-server and sipp in a network namespace
# (run_qemu_e2e.sh; root; skipped with 77 without qemu-system-arm,
# arm-none-eabi-gcc, sipp or namespaces).  The cross project is its own
# CMake project; nothing of it is built by the host build itself.
if(TARGET tscf-server AND NOT CMAKE_CROSSCOMPILING)
  add_test(NAME e2e_mcu_qemu_sip
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run_qemu_e2e.sh ${PROJECT_SOURCE_DIR}
                   ${CMAKE_BINARY_DIR}/cortex-m $<TARGET_FILE:tscf-server>
                   ${PROJECT_SOURCE_DIR}/test/e2e/gen_certs.sh)
  # the first run cross-compiles mbed TLS and lwIP (minutes on 2 loaded cores)
  set_tests_properties(e2e_mcu_qemu_sip PROPERTIES TIMEOUT 900 LABELS "e2e;netns;mcu"
                       SKIP_RETURN_CODE 77 RESOURCE_LOCK cortex_m_build)
  # the device trusts another CA: the handshake must fail with
  # TSE_ERR_TLS_CERT_UNTRUSTED and the device exit 2
  add_test(NAME e2e_mcu_qemu_bad_ca
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run_qemu_e2e.sh ${PROJECT_SOURCE_DIR}
                   ${CMAKE_BINARY_DIR}/cortex-m $<TARGET_FILE:tscf-server>
                   ${PROJECT_SOURCE_DIR}/test/e2e/gen_certs.sh bad-ca)
  set_tests_properties(e2e_mcu_qemu_bad_ca PROPERTIES TIMEOUT 900 LABELS "e2e;netns;mcu"
                       SKIP_RETURN_CODE 77 RESOURCE_LOCK cortex_m_build)
endif()
