vcpkg_from_github(
    OUT_SOURCE_PATH SOURCE_PATH
    REPO cshm/cshm
    REF "v${VERSION}"
    SHA512 0
    HEAD_REF main
)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DCSHM_BUILD_TESTS=OFF
        -DCSHM_BUILD_TOOLS=OFF
        -DCSHM_BUILD_BENCH=OFF
        -DCSHM_BUILD_FUZZERS=OFF
        -DCSHM_BUILD_DOCS=OFF
        -DCSHM_WERROR=OFF
)

vcpkg_cmake_install()
vcpkg_copy_pdbs()
vcpkg_cmake_config_fixup(CONFIG_PATH lib/cmake/cshm)
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE
    "${CURRENT_PACKAGES_DIR}/debug/include"
    "${CURRENT_PACKAGES_DIR}/debug/share"
)

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
