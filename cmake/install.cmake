# What `cmake --install` puts under the prefix: the engine library with its public headers,
# a CMake package (find_package(streamgate CONFIG)) and a pkg-config file; the server program
# when it is built. Relocatable: nothing below records the prefix itself.
include(CMakePackageConfigHelpers)

set(sg_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/streamgate)

install(TARGETS streamgate_engine EXPORT streamgate_targets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT engine NAMELINK_COMPONENT engine)
install(DIRECTORY include/streamgate DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT engine)
install(EXPORT streamgate_targets NAMESPACE streamgate:: FILE streamgate-targets.cmake
        DESTINATION ${sg_cmake_dir} COMPONENT engine)

configure_package_config_file(cmake/streamgate-config.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/streamgate-config.cmake
                              INSTALL_DESTINATION ${sg_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/streamgate-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
# CAF 0.17 ships no CMake package: the engine's users find it with our module.
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/streamgate-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/streamgate-config-version.cmake cmake/FindCAF.cmake
        DESTINATION ${sg_cmake_dir} COMPONENT engine)

# The .pc file finds the prefix from its own place, however deep the library folder is.
file(RELATIVE_PATH sg_pc_to_prefix /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(cmake/streamgate.pc.in ${CMAKE_CURRENT_BINARY_DIR}/streamgate.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/streamgate.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT engine)

if(SG_BUILD_SERVER)
  install(TARGETS streamgate RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
endif()
