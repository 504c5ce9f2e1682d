# The layers of the tree, lowest first, and the check that holds every #include to them.
#
#   cmake -DSOURCE_DIR=<tree> -P cmake/Layers.cmake        fails on each include that points up
#   cmake -DSELF_TEST_DIR=<scratch> -P cmake/Layers.cmake  shows on a made-up tree that it does
#
# A file may include files of its own layer and of the layers below it, never of one above:
# data and calls flow one way, from the programs down to the shared vocabulary. Each layer is
# one library (or two, for the API) that links only libraries below it.
#
#   programs     tools/, tests/                      anything
#   cluster      engine/cluster/                     cledger_cluster (PostgreSQL, libpq)
#   api          engine/api/                         cledger_server, cledger_json
#   engine       engine/*.cc|h, cledger/engine.h     cledger_engine
#   domain       engine/domain/                      cledger_domain
#   store        engine/store/, cledger/ledger.h,    cledger_store; it adapts the
#                cledger/world.h                     projections' Kv interface
#   events       events/                             cledger_events (FlatBuffers, hash chain)
#   projections  projections/                        cledger_projections: pure folds over Kv
#   types        the rest of engine/include/cledger/ cledger_api: types and inline functions
#   base         base/                               cledger_base: depends on nothing of ours
#
# A file belongs to the layer of the longest prefix below that matches its path. The public
# headers sit with the layer that defines what they declare, so a lower layer cannot use a
# function it does not link. `#include "cledger/x.h"` and `<cledger/x.h>` name
# engine/include/cledger/x.h; an include found nowhere in the tree is an error, unless it is
# listed here (events_generated.h is written by flatc into the build folder).
cmake_minimum_required(VERSION 3.25)

set(CLEDGER_LAYERS
  "base=base/"
  "types=engine/include/cledger/"
  "projections=projections/"
  "events=events/,events_generated.h,engine/include/cledger/proofs.h"
  "store=engine/store/,engine/include/cledger/ledger.h,engine/include/cledger/world.h"
  "domain=engine/domain/"
  "engine=engine/,engine/include/cledger/engine.h"
  "api=engine/api/,engine/include/cledger/json.h,engine/include/cledger/audit_export.h"
  "cluster=engine/cluster/"
  "programs=tools/,tests/")

# The index (0 = lowest) and name of the layer `path` belongs to; index -1 when none.
function(cledger_layer_of path out_index out_name)
  set(best_index -1)
  set(best_name "")
  set(best_length -1)
  set(index 0)
  foreach(layer IN LISTS CLEDGER_LAYERS)
    string(REPLACE "=" ";" parts "${layer}")
    list(GET parts 0 name)
    list(GET parts 1 prefixes)
    string(REPLACE "," ";" prefixes "${prefixes}")
    foreach(prefix IN LISTS prefixes)
      string(LENGTH "${prefix}" length)
      string(FIND "${path}" "${prefix}" at)
      if(at EQUAL 0 AND length GREATER best_length)
        set(best_index ${index})
        set(best_name ${name})
        set(best_length ${length})
      endif()
    endforeach()
    math(EXPR index "${index} + 1")
  endforeach()
  set(${out_index} ${best_index} PARENT_SCOPE)
  set(${out_name} "${best_name}" PARENT_SCOPE)
endfunction()

# The tree's path of what `file` (a path in the tree) includes as `included`; empty if none.
function(cledger_resolve root file included out_path)
  set(path "")
  get_filename_component(folder "${file}" DIRECTORY)
  if(included MATCHES "^cledger/")
    set(path "engine/include/${included}")
  elseif(EXISTS "${root}/${included}")
    set(path "${included}")
  elseif(NOT folder STREQUAL "" AND EXISTS "${root}/${folder}/${included}")
    set(path "${folder}/${included}")
  else()
    cledger_layer_of("${included}" index name)
    if(index GREATER_EQUAL 0)
      set(path "${included}")
    endif()
  endif()
  set(${out_path} "${path}" PARENT_SCOPE)
endfunction()

# Every problem in the tree at `root`, one message each, into `out_problems`.
function(cledger_check_layers root out_problems)
  set(problems "")
  file(GLOB_RECURSE files RELATIVE "${root}" "${root}/*.h" "${root}/*.cc" "${root}/*.hpp"
       "${root}/*.cpp")
  foreach(file IN LISTS files)
    # Build folders (build*, or any folder CMake configured) and hidden ones are not the
    # tree's sources.
    if(file MATCHES "^(build[^/]*|\\.[^/]*)/")
      continue()
    endif()
    string(REGEX REPLACE "/.*" "" top "${file}")
    if(NOT top STREQUAL file AND EXISTS "${root}/${top}/CMakeCache.txt")
      continue()
    endif()
    cledger_layer_of("${file}" file_index file_layer)
    if(file_index LESS 0)
      list(APPEND problems "${file}: in no layer; give its folder one in cmake/Layers.cmake")
      continue()
    endif()
    file(STRINGS "${root}/${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
    foreach(line IN LISTS lines)
      if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
        set(included "${CMAKE_MATCH_1}")
      elseif(line MATCHES "#[ \t]*include[ \t]*<(cledger/[^>]+)>")
        set(included "${CMAKE_MATCH_1}")
      else()
        continue()
      endif()
      # A file of the tree in no layer is named once, as a file.
      cledger_resolve("${root}" "${file}" "${included}" path)
      cledger_layer_of("${path}" path_index path_layer)
      if(path STREQUAL "")
        list(APPEND problems "${file}: includes \"${included}\", which is not in the tree")
      elseif(path_index GREATER file_index)
        list(APPEND problems
             "${file} (layer ${file_layer}) includes ${path} (layer ${path_layer}, higher)")
      endif()
    endforeach()
  endforeach()
  set(${out_problems} "${problems}" PARENT_SCOPE)
endfunction()

# A made-up tree with two includes that point up, one through a public header, and includes
# that are allowed: the check must name exactly the two.
function(cledger_self_test dir)
  file(REMOVE_RECURSE "${dir}")
  file(WRITE "${dir}/engine/store/keys.h" "#pragma once\n")
  file(WRITE "${dir}/engine/include/cledger/engine.h" "#pragma once\n")
  file(WRITE "${dir}/engine/include/cledger/events.h" "#pragma once\n")
  file(WRITE "${dir}/projections/kv.h" "#pragma once\n#include \"cledger/events.h\"\n")
  file(WRITE "${dir}/projections/links.cc" "#include \"engine/store/keys.h\"\n")
  file(WRITE "${dir}/events/codec.h" "#pragma once\n#include <cledger/engine.h>\n")
  file(WRITE "${dir}/engine/store/kv_adapters.h" "#include \"projections/kv.h\"\n")
  file(WRITE "${dir}/tools/main.cc" "#include \"engine/store/keys.h\"\n")
  cledger_check_layers("${dir}" problems)
  set(expected
      "events/codec.h (layer events) includes engine/include/cledger/engine.h (layer engine, higher)"
      "projections/links.cc (layer projections) includes engine/store/keys.h (layer store, higher)")
  list(SORT problems)
  if(NOT problems STREQUAL expected)
    message(FATAL_ERROR "the layer check found:\n  ${problems}\nbut should have found:\n  ${expected}")
  endif()
  message(STATUS "the layer check names both includes that point up, and nothing else")
endfunction()

if(DEFINED SELF_TEST_DIR)
  cledger_self_test("${SELF_TEST_DIR}")
elseif(DEFINED SOURCE_DIR)
  cledger_check_layers("${SOURCE_DIR}" problems)
  if(problems)
    string(REPLACE ";" "\n  " listed "${problems}")
    message(FATAL_ERROR "includes that break the layers (cmake/Layers.cmake):\n  ${listed}")
  endif()
  message(STATUS "every #include names a file of its own layer or a lower one")
else()
  message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=<tree> | -DSELF_TEST_DIR=<scratch> -P Layers.cmake")
endif()
