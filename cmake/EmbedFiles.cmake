# Writes OUTPUT, a C++ file defining cledger::api::ConsoleFiles(): every file of FILES (absolute
# paths) as {name, bytes}, so the console is part of the binary and is served with no file
# beside it. Run at build time: cmake -DOUTPUT=… -DFILES="a|b" -P EmbedFiles.cmake
string(REPLACE "|" ";" FILES "${FILES}")
set(arrays "")
set(table "")
set(index 0)
foreach(path IN LISTS FILES)
  get_filename_component(name ${path} NAME)
  file(READ ${path} hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "const unsigned char kFile${index}[] = {${bytes}0};\n")
  string(APPEND table "      {\"${name}\", {reinterpret_cast<const char*>(kFile${index}), ${size}}},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE ${OUTPUT}.tmp "// Generated from engine/api/console by cmake/EmbedFiles.cmake: do not edit.
#include \"engine/api/console.h\"

namespace cledger::api {
namespace {
${arrays}}  // namespace

const std::vector<ConsoleFile>& ConsoleFiles() {
  static const std::vector<ConsoleFile> files = {
${table}  };
  return files;
}

}  // namespace cledger::api
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
