# ulma_protoc_c(TARGET_VAR file.proto [IMPORT_DIR dir])
# C sources generated from a .proto file by protoc-c at build time (never
# committed): sets <TARGET_VAR>_SRCS to the .pb-c.c file and
# <TARGET_VAR>_DIR to the directory holding the .pb-c.h header.
find_program(PROTOC_C protoc-c REQUIRED)
function(ulma_protoc_c var proto)
  cmake_parse_arguments(P "" "IMPORT_DIR" "" ${ARGN})
  get_filename_component(_abs ${proto} ABSOLUTE)
  get_filename_component(_name ${proto} NAME_WE)
  get_filename_component(_dir ${_abs} DIRECTORY)
  if(NOT P_IMPORT_DIR)
    set(P_IMPORT_DIR ${_dir})
  endif()
  file(RELATIVE_PATH _rel ${P_IMPORT_DIR} ${_abs})
  get_filename_component(_reldir ${_rel} DIRECTORY)
  set(_out ${CMAKE_CURRENT_BINARY_DIR}/pb)
  set(_c ${_out}/${_reldir}/${_name}.pb-c.c)
  set(_h ${_out}/${_reldir}/${_name}.pb-c.h)
  add_custom_command(
    OUTPUT ${_c} ${_h}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_out}
    COMMAND ${PROTOC_C} --c_out=${_out} --proto_path=${P_IMPORT_DIR} ${_abs}
    DEPENDS ${_abs}
    COMMENT "protoc-c ${_rel}"
    VERBATIM)
  set(${var}_SRCS ${_c} PARENT_SCOPE)
  set(${var}_DIR ${_out}/${_reldir} PARENT_SCOPE)
endfunction()
