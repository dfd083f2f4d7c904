# install.cmake — what `cmake --install` puts where, in two components:
#   runtime: bin/duct, the man page, the README;
#   dev:     include/duct/uplink.h, the part libraries (static archives) the
#            uplink needs, a CMake package (find_package(duct) gives
#            duct::uplink) and a pkg-config file (duct.pc).
# scripts/package.sh turns the two into duct and duct-dev .debs.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS duct RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(FILES doc/duct.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
install(FILES packaging/duct.socket packaging/duct.service
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT runtime)

# The parts in link order (each depends only on those after it).
set(DUCT_PARTS uplink mux export mount wire proto base)
set(part_targets)
foreach(p ${DUCT_PARTS})
  # duct::uplink, duct::mux, ... in the installed package
  set_target_properties(duct_${p} PROPERTIES EXPORT_NAME ${p})
  list(APPEND part_targets duct_${p})
endforeach()
install(TARGETS ${part_targets} EXPORT ductTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(FILES include/duct/uplink.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/duct COMPONENT dev)

set(DUCT_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/duct)
install(EXPORT ductTargets NAMESPACE duct:: DESTINATION ${DUCT_CMAKEDIR} COMPONENT dev)
configure_package_config_file(cmake/ductConfig.cmake.in ${CMAKE_BINARY_DIR}/ductConfig.cmake
                              INSTALL_DESTINATION ${DUCT_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ductConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ductConfig.cmake ${CMAKE_BINARY_DIR}/ductConfigVersion.cmake
        DESTINATION ${DUCT_CMAKEDIR} COMPONENT dev)

# pkg-config: static archives only, so every library is in Libs (not
# Libs.private) and fuse3 in Requires.
set(DUCT_PC_LIBS)
foreach(p ${DUCT_PARTS})
  string(APPEND DUCT_PC_LIBS " -lduct_${p}")
endforeach()
# relocatable: the prefix is found from the .pc file's own place
file(RELATIVE_PATH DUCT_PC_UP ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" DUCT_PC_UP "${DUCT_PC_UP}")
configure_file(cmake/duct.pc.in ${CMAKE_BINARY_DIR}/duct.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/duct.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
