# CMake toolchain file: Cortex-M4 bare metal with Debian's gcc-arm-none-eabi
# (12.2) and newlib (libnewlib-arm-none-eabi), for examples/cortex-m/.
#
#   cmake -S examples/cortex-m -B build/cortex-m -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/toolchain-arm-none-eabi.cmake
#
# Knobs (cache variables):
#   TSE_ARM_FLOAT_ABI   soft (default) or hard (then -mfpu=fpv4-sp-d16);
#                       nothing in libtse, mbed TLS or lwIP uses floating
#                       point, so soft costs nothing and runs on an M4 without
#                       the FPU enabled.
#   TSE_ARM_CPU         cortex-m4 (default)
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(TSE_ARM_PREFIX "arm-none-eabi-" CACHE STRING "Cross tool prefix")
set(TSE_ARM_CPU "cortex-m4" CACHE STRING "-mcpu=")
set(TSE_ARM_FLOAT_ABI "soft" CACHE STRING "soft or hard")

find_program(CMAKE_C_COMPILER ${TSE_ARM_PREFIX}gcc REQUIRED)
find_program(CMAKE_ASM_COMPILER ${TSE_ARM_PREFIX}gcc)
find_program(CMAKE_OBJCOPY ${TSE_ARM_PREFIX}objcopy)
find_program(CMAKE_SIZE ${TSE_ARM_PREFIX}size)
set(CMAKE_AR ${TSE_ARM_PREFIX}ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${TSE_ARM_PREFIX}ranlib CACHE FILEPATH "")

# No host executables can run: try_compile builds a static library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(_tse_arch "-mthumb -mcpu=${TSE_ARM_CPU}")
if(TSE_ARM_FLOAT_ABI STREQUAL "hard")
  string(APPEND _tse_arch " -mfloat-abi=hard -mfpu=fpv4-sp-d16")
else()
  string(APPEND _tse_arch " -mfloat-abi=soft")
endif()
set(CMAKE_C_FLAGS_INIT "${_tse_arch} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${_tse_arch}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_tse_arch} -Wl,--gc-sections --specs=nano.specs")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
