# Run tse-mkcert twice (determinism) and, if openssl exists, verify that each
# certificate passes or fails for the intended reason.
cmake_minimum_required(VERSION 3.16)
file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})  # a/ and b/ are created by tse-mkcert
foreach(d a b)
  execute_process(COMMAND ${MKCERT} -o ${OUT}/${d} -n tscf.test -i 127.0.0.1
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "tse-mkcert failed: ${rc}")
  endif()
endforeach()
foreach(f ca.pem ca.key server.pem server.key server.pin wrong-name.pem expired.pem
          untrusted-ca.pem untrusted.pem client.pem client.key)
  if(NOT EXISTS ${OUT}/a/${f})
    message(FATAL_ERROR "missing ${f}")
  endif()
  file(READ ${OUT}/a/${f} x)
  file(READ ${OUT}/b/${f} y)
  if(NOT x STREQUAL y)
    message(FATAL_ERROR "${f} differs between two runs: not deterministic")
  endif()
endforeach()
if(OPENSSL)
  function(verify cert name expect_ok)
    execute_process(COMMAND ${OPENSSL} verify -CAfile ${OUT}/a/ca.pem
                            -verify_hostname ${name} -attime 1700000000 ${OUT}/a/${cert}
                    RESULT_VARIABLE vrc OUTPUT_VARIABLE vout ERROR_VARIABLE verr)
    if(${expect_ok} AND NOT vrc EQUAL 0)
      message(FATAL_ERROR "${cert} should verify for ${name}: ${vout}${verr}")
    endif()
    if(NOT ${expect_ok} AND vrc EQUAL 0)
      message(FATAL_ERROR "${cert} should NOT verify for ${name}")
    endif()
  endfunction()
  verify(server.pem tscf.test TRUE)
  verify(wrong-name.pem tscf.test FALSE)
  verify(expired.pem tscf.test FALSE)
  verify(untrusted.pem tscf.test FALSE)
  execute_process(COMMAND ${OPENSSL} verify -CAfile ${OUT}/a/ca.pem -verify_ip 127.0.0.1
                          -attime 1700000000 ${OUT}/a/server.pem
                  RESULT_VARIABLE vrc OUTPUT_QUIET ERROR_QUIET)
  if(NOT vrc EQUAL 0)
    message(FATAL_ERROR "server.pem should carry the IP SAN 127.0.0.1")
  endif()
  execute_process(COMMAND ${OPENSSL} verify -CAfile ${OUT}/a/ca.pem -purpose sslclient
                          -attime 1700000000 ${OUT}/a/client.pem
                  RESULT_VARIABLE vrc OUTPUT_QUIET ERROR_QUIET)
  if(NOT vrc EQUAL 0)
    message(FATAL_ERROR "client.pem should verify as a TLS client")
  endif()
else()
  message(STATUS "openssl not found: determinism checked, verification skipped")
endif()
