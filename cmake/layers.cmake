# Each library sees only the headers of the libraries it links (cli -> core -> backends ->
# kernel concerns -> common), so that an include pointing upward fails to build. Sources include
# headers by their path under src/ ("backends/docker/client.h"); instead of the whole of src/ on
# every include path, each library publishes its own directory under that path through a
# directory of symbolic links in the build tree, on its PUBLIC include path. A library that links
# another PRIVATE gets its headers without passing them on.

# isol8_layer_headers(<target> <dir under src/> [FILES <header>...]): publishes src/<dir> (or only
# the listed headers of it) to <target>'s users.
function(isol8_layer_headers target dir)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "FILES")
  set(root ${CMAKE_BINARY_DIR}/layers/${target})
  if(arg_FILES)
    file(MAKE_DIRECTORY ${root}/${dir})
    foreach(header ${arg_FILES})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${dir}/${header} ${root}/${dir}/${header} SYMBOLIC)
    endforeach()
  else()
    get_filename_component(parent ${root}/${dir} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${dir} ${root}/${dir} SYMBOLIC)
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE ${root})
  else()
    target_include_directories(${target} PUBLIC ${root})
  endif()
endfunction()
