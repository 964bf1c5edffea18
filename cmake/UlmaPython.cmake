# The interpreter the hooks are built for and the Python tests run.
#
# ULMA_PYTHON: full path of a CPython 3.11, 3.12 or 3.13 interpreter with its
# development headers (default /usr/bin/python3). FindPython3 is given that
# executable alone, so it asks that interpreter's sysconfig for its include
# directory and extension suffix; a python3 found first on PATH (a pyenv
# shim, say) is never used. Python3_EXECUTABLE is derived from ULMA_PYTHON
# at every configure, so a build directory cannot drift to another one.
#
# Sets, besides FindPython3's variables:
#   ULMA_PY_LABEL  py<major><minor> (py311, py312, py313): the CTest label
#                  of the tests that run this interpreter (hooks, objects,
#                  the agent's cProfile corpus); `ctest -L py312` in a build
#                  directory made for 3.12 runs them.
#   ULMA_PY_DEFAULT  ON when ULMA_PYTHON is /usr/bin/python3.
set(ULMA_PYTHON "/usr/bin/python3" CACHE FILEPATH
    "Python interpreter (full path) the hooks are built for and the tests run")
if(NOT IS_ABSOLUTE "${ULMA_PYTHON}" OR NOT EXISTS "${ULMA_PYTHON}")
  message(FATAL_ERROR "ULMA_PYTHON must be the full path of an interpreter, got '${ULMA_PYTHON}'")
endif()
# Resolve symlinks only to compare; the path itself is what runs (pyenv's
# bin/python3 is a symlink to python3.X, both fine).
set(Python3_EXECUTABLE "${ULMA_PYTHON}" CACHE FILEPATH "Derived from ULMA_PYTHON" FORCE)
set(Python3_FIND_STRATEGY LOCATION)
set(Python3_FIND_VIRTUALENV STANDARD)
find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module)
if(NOT Python3_EXECUTABLE STREQUAL ULMA_PYTHON)
  message(FATAL_ERROR "FindPython3 picked ${Python3_EXECUTABLE}, not ULMA_PYTHON=${ULMA_PYTHON}")
endif()
set(_ulma_pyver "${Python3_VERSION_MAJOR}.${Python3_VERSION_MINOR}")
if(NOT _ulma_pyver VERSION_GREATER_EQUAL 3.11 OR _ulma_pyver VERSION_GREATER 3.13)
  message(FATAL_ERROR "ulma's hooks support CPython 3.11 to 3.13; ${ULMA_PYTHON} is ${Python3_VERSION}")
endif()
set(ULMA_PY_LABEL "py${Python3_VERSION_MAJOR}${Python3_VERSION_MINOR}")
if(ULMA_PYTHON STREQUAL "/usr/bin/python3")
  set(ULMA_PY_DEFAULT ON)
else()
  set(ULMA_PY_DEFAULT OFF)
endif()
message(STATUS "ulma: hooks built for ${ULMA_PYTHON} (CPython ${Python3_VERSION}, "
               "headers ${Python3_INCLUDE_DIRS}, tests labelled ${ULMA_PY_LABEL})")
