# SPDX-License-Identifier: MIT
# cmake/install.cmake: what `cmake --install` puts under the prefix: the header, the library
# (shared, and static when built for it), mlpcl.pc, the CMake package (find_package(mlpcl) gives
# mlpcl::mlpcl), the command with its man page and bash completion, and the docs. Every file
# that names a path finds the prefix from where it lies, so `cmake --install build --prefix DIR`
# works for any DIR.
include(CMakePackageConfigHelpers)

install(FILES ${PROJECT_SOURCE_DIR}/include/mlpcl.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ${mlpcl_installed} EXPORT mlpclTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS mlpcl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# pkg-config: the prefix relative to the .pc file's own folder (${pcfiledir}).
set(pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH pc_to_prefix ${CMAKE_INSTALL_PREFIX}/${pc_dir} ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
    set(pc_${d} "${CMAKE_INSTALL_${d}}")
  else()
    set(pc_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
# MPI, for static links: its pkg-config module where it has one (Open MPI's mpi-c, MPICH's
# mpich), else the libraries CMake found.
set(pc_requires_mpi "")
set(pc_libs_mpi "")
if(MLPCL_MPI)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    foreach(module mpi-c ompi-c mpich)
      if(NOT pc_requires_mpi)
        pkg_check_modules(mlpcl_pc_mpi QUIET ${module})
        if(mlpcl_pc_mpi_FOUND)
          set(pc_requires_mpi " ${module}")
        endif()
      endif()
    endforeach()
  endif()
  if(NOT pc_requires_mpi)
    foreach(lib IN LISTS MPI_C_LIBRARIES)
      string(APPEND pc_libs_mpi " ${lib}")
    endforeach()
  endif()
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/mlpcl.pc.in ${PROJECT_BINARY_DIR}/mlpcl.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mlpcl.pc DESTINATION ${pc_dir})

# The CMake package. A static libmlpcl brings its dependencies' imported targets along.
set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/mlpcl)
if(libmlpcl IN_LIST mlpcl_installed)
  set(MLPCL_CONFIG_STATIC ON)
else()
  set(MLPCL_CONFIG_STATIC OFF)
endif()
install(EXPORT mlpclTargets NAMESPACE mlpcl:: DESTINATION ${cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mlpclConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mlpclConfig.cmake INSTALL_DESTINATION ${cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mlpclConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mlpclConfig.cmake ${PROJECT_BINARY_DIR}/mlpclConfigVersion.cmake
  DESTINATION ${cmake_dir})

# The man page, from the command's own help text (`mlpcl --help` and each command's --help), so
# the two never disagree; where help2man is installed (tools/setup-debian installs it).
find_program(HELP2MAN_EXECUTABLE help2man)
if(HELP2MAN_EXECUTABLE AND NOT CMAKE_CROSSCOMPILING)
  set(man ${PROJECT_BINARY_DIR}/mlpcl.1)
  add_custom_command(OUTPUT ${man}
    COMMAND ${CMAKE_COMMAND} -DMLPCL=$<TARGET_FILE:mlpcl> -DHELP2MAN=${HELP2MAN_EXECUTABLE}
            -DOUT=${man} -P ${PROJECT_SOURCE_DIR}/cmake/man.cmake
    DEPENDS mlpcl ${PROJECT_SOURCE_DIR}/cmake/man.cmake
    COMMENT "Writing the man page mlpcl.1 from mlpcl --help")
  add_custom_target(man ALL DEPENDS ${man})
  install(FILES ${man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found: the man page is not built")
endif()

# Bash completion, where bash-completion loads it from when `mlpcl` is first completed.
install(FILES ${PROJECT_SOURCE_DIR}/tools/completion/mlpcl.bash
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME mlpcl)

# The docs: the README, the license, and docs/ (the pages and the figures they show).
file(GLOB mlpcl_docs ${PROJECT_SOURCE_DIR}/docs/*.md ${PROJECT_SOURCE_DIR}/docs/*.png)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE ${mlpcl_docs}
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
