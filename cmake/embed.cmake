# Turn a text file into a C source defining fxp__holidays_default[].
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from data/holidays.txt; do not edit */\n"
  "#include <stddef.h>\n"
  "const char fxp__holidays_default[] = {${body} 0x00};\n"
  "const size_t fxp__holidays_default_len = sizeof(fxp__holidays_default) - 1;\n")
