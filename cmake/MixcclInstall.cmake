# Install rules: headers, libmixccl, a CMake package (find_package(mixccl) -> mixccl::mixccl) and mixccl.pc.
include(CMakePackageConfigHelpers)

install(TARGETS mixccl EXPORT mixcclTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/mixccl.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT mixcclTargets NAMESPACE mixccl:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mixccl)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mixcclConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/mixcclConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mixccl)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mixcclConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mixcclConfig.cmake ${PROJECT_BINARY_DIR}/mixcclConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mixccl)

# From <prefix>/<libdir>/pkgconfig back up to <prefix>: one ".." per component of libdir, plus one for pkgconfig.
set(MIXCCL_PC_UP "..")
string(REPLACE "/" ";" libdir_parts "${CMAKE_INSTALL_LIBDIR}")
foreach(part ${libdir_parts})
  string(APPEND MIXCCL_PC_UP "/..")
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/mixccl.pc.in ${PROJECT_BINARY_DIR}/mixccl.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mixccl.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
