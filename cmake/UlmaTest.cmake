# ulma_add_test(NAME name SOURCES ... LABEL unit|integration|multinode|fault|fuzz
#               [TIMEOUT seconds] [LIBS ...] [ARGS ...])
# One executable and one CTest test per module. Exit code 77 means skipped.
function(ulma_add_test)
  cmake_parse_arguments(T "" "NAME;LABEL;TIMEOUT" "SOURCES;LIBS;ARGS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests) # check.h
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  set_tests_properties(${T_NAME} PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT}
                       SKIP_RETURN_CODE 77)
endfunction()

# ulma_one_mapping(target): a test whose writer and reader threads share one
# mapping of a segment (tests/one_mapping.h), for ThreadSanitizer.
function(ulma_one_mapping target)
  target_link_options(${target} PRIVATE -Wl,--wrap=mmap -Wl,--wrap=munmap)
endfunction()

# ulma_python_test(NAME name SCRIPT path LABEL label [PER_PYTHON] [TIMEOUT s]
#                  [ARGS ...] [ENV VAR=value ...])
# A test run by the target interpreter (${Python3_EXECUTABLE}) against the
# package staged in ${CMAKE_BINARY_DIR}/python. PER_PYTHON: one of the tests
# each supported interpreter must pass (hooks, objects, the cProfile
# corpus); it also carries the label ${ULMA_PY_LABEL} (py311, py312, py313,
# see cmake/UlmaPython.cmake). In an ASan build the
# sanitizer runtimes are preloaded (a sanitized extension in the stock
# interpreter needs them first) and leak checking is off for the
# interpreter's own allocations.
set(ULMA_PYTHON_TEST_ENV
    "PYTHONPATH=${CMAKE_BINARY_DIR}/python"
    "ULMA_BUILD_DIR=${CMAKE_BINARY_DIR}"
    "ULMA_TEST_PYTHON=${Python3_EXECUTABLE}"
    "OMPI_ALLOW_RUN_AS_ROOT=1"
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
if(ULMA_ASAN)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE _ulma_asan_lib OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libubsan.so
                  OUTPUT_VARIABLE _ulma_ubsan_lib OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND ULMA_PYTHON_TEST_ENV "LD_PRELOAD=${_ulma_asan_lib}:${_ulma_ubsan_lib}"
       "ASAN_OPTIONS=detect_leaks=0")
endif()

function(ulma_python_test)
  cmake_parse_arguments(T "PER_PYTHON" "NAME;SCRIPT;LABEL;TIMEOUT" "ARGS;ENV" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set(_labels ${T_LABEL})
  if(T_PER_PYTHON)
    list(APPEND _labels ${ULMA_PY_LABEL})
  endif()
  get_filename_component(_dir ${T_SCRIPT} DIRECTORY)
  add_test(NAME ${T_NAME} COMMAND ${Python3_EXECUTABLE} ${T_SCRIPT} ${T_ARGS}
           WORKING_DIRECTORY ${_dir})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${_labels}" TIMEOUT ${T_TIMEOUT}
                       ENVIRONMENT "${ULMA_PYTHON_TEST_ENV};${T_ENV}" SKIP_RETURN_CODE 77)
endfunction()

# The same environment for a test registered some other way.
function(ulma_python_test_env test)
  set_tests_properties(${test} PROPERTIES ENVIRONMENT "${ULMA_PYTHON_TEST_ENV}")
endfunction()
