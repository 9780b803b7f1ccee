# SPDX-License-Identifier: MIT
# cmake/man.cmake: writes the man page OUT with help2man (HELP2MAN) from the command MLPCL:
# `mlpcl --help` gives the synopsis and description, and each command listed there adds its own
# `mlpcl COMMAND --help` as a subsection of COMMANDS, verbatim.
cmake_minimum_required(VERSION 3.16) # policies of the project's own version (CMP0054: quoted if() arguments)
execute_process(COMMAND ${MLPCL} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${MLPCL} --help failed (${rc})")
endif()
# The commands: the two-space-indented words under "commands:", up to the next blank line.
string(REGEX MATCH "\ncommands:\n([^\n]+\n)+" block "${help}")
string(REGEX MATCHALL "\n  [a-z]+ " words "${block}")
set(include "[COMMANDS]\n")
foreach(w IN LISTS words)
  string(STRIP "${w}" cmd)
  if(cmd STREQUAL "help")
    continue()
  endif()
  execute_process(COMMAND ${MLPCL} ${cmd} --help OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${MLPCL} ${cmd} --help failed (${rc})")
  endif()
  # roff: backslashes written as \e, and no line may start with a control character.
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  string(APPEND include ".SS ${cmd}\n.nf\n${text}.fi\n")
endforeach()
file(WRITE ${OUT}.h2m "${include}")
execute_process(COMMAND ${HELP2MAN} --no-info --section=1 --include=${OUT}.h2m
                        "--name=train multilayer perceptrons by backpropagation on OpenCL devices"
                        --output=${OUT} ${MLPCL}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc})")
endif()
