# cmake -DLIB=libx.a -DKEEP=keep.txt -DLD=ld -DOBJCOPY=objcopy -DAR=ar -P TseLocalize.cmake
#
# Rewrites the static archive LIB as one partially linked object (ld -r)
# whose global symbols are only those listed in KEEP (objcopy
# --keep-global-symbols): what the library uses internally, its own
# internal functions and a folded-in mbed TLS, becomes local and cannot
# collide with the application's symbols.  Undefined references stay.
foreach(v LIB KEEP LD OBJCOPY AR)
  if(NOT ${v})
    message(FATAL_ERROR "TseLocalize: ${v} not set")
  endif()
endforeach()
get_filename_component(_name ${LIB} NAME_WE)
set(_obj ${LIB}.merge/${_name}.o)
file(REMOVE_RECURSE ${LIB}.merge)
file(MAKE_DIRECTORY ${LIB}.merge)
execute_process(COMMAND ${LD} -r -o ${_obj} --whole-archive ${LIB} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "TseLocalize: ld -r ${LIB} failed")
endif()
execute_process(COMMAND ${OBJCOPY} --keep-global-symbols=${KEEP} ${_obj} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "TseLocalize: objcopy ${_obj} failed")
endif()
file(REMOVE ${LIB})
execute_process(COMMAND ${AR} rcs ${LIB} ${_obj} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "TseLocalize: ar ${LIB} failed")
endif()
file(REMOVE_RECURSE ${LIB}.merge)
