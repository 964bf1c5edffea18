# What `cmake --install` puts where a Debian system expects it, and the
# .deb that `cpack` makes of it (deploy/package.sh builds it with the
# /usr prefix). Targets install themselves from their folders; this file
# adds the systemd units, the example settings, the documentation and the
# package's metadata and maintainer scripts.
include(GNUInstallDirs)
set(ULMA_DOCDIR ${CMAKE_INSTALL_DATADIR}/doc/ulma-clustertop)

install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/ulma-agent.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/ulma-collector.service
        DESTINATION lib/systemd/system) # not LIBDIR: units are not multiarch
install(FILES ${PROJECT_SOURCE_DIR}/deploy/etc/ulma-agent.default
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default RENAME ulma-agent)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/etc/ulma-collector.default
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default RENAME ulma-collector)
# the example configuration files, /etc/ulma/NAME.conf: each program's
# --print-config of its defaults, commented out (deploy/example-conf.sh)
set(ulma_confs)
foreach(pair "ulma-agent:agent" "ulma-collector:collector" "clustertop:clustertop")
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 prog)
  list(GET pair 1 name)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/etc/${name}.conf
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/etc
    COMMAND sh ${PROJECT_SOURCE_DIR}/deploy/example-conf.sh $<TARGET_FILE:${prog}> ${name}
            ${CMAKE_BINARY_DIR}/etc/${name}.conf
    DEPENDS ${prog} ${PROJECT_SOURCE_DIR}/deploy/example-conf.sh)
  list(APPEND ulma_confs ${CMAKE_BINARY_DIR}/etc/${name}.conf)
endforeach()
add_custom_target(ulma-example-conf ALL DEPENDS ${ulma_confs})
install(FILES ${ulma_confs} DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/ulma)

install(FILES ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${ULMA_DOCDIR})
foreach(part profile proto collector dashboard-tui node-agent)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${part}/README.md)
    install(FILES ${PROJECT_SOURCE_DIR}/${part}/README.md
            DESTINATION ${ULMA_DOCDIR} RENAME README.${part}.md)
  endif()
endforeach()
install(PROGRAMS ${PROJECT_SOURCE_DIR}/deploy/cluster.sh ${PROJECT_SOURCE_DIR}/deploy/netns-rsh
        DESTINATION ${CMAKE_INSTALL_DATADIR}/ulma-clustertop)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ulma-clustertop)
set(CPACK_PACKAGE_VENDOR "ULMA clustertop")
set(CPACK_PACKAGE_CONTACT "ULMA clustertop maintainers <maintainers@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "live, deterministic, cluster-wide profiler for Python programs under mpirun")
set(CPACK_PACKAGE_DESCRIPTION
    "Hooked Python ranks write cycle-stamped events into shared-memory rings; a node agent\n\
drains them into cProfile-exact tables; a collector merges every node into\n\
cluster-wide views; clustertop shows them live.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# the extension is built for the interpreter CMake found (Debian 12: 3.11)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "python3 (>= ${Python3_VERSION_MAJOR}.${Python3_VERSION_MINOR}), python3 (<< ${Python3_VERSION_MAJOR}.${Python3_VERSION_MINOR}.99), adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-mpi4py, openmpi-bin")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm ${PROJECT_SOURCE_DIR}/deploy/debian/postrm
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
