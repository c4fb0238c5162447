// Debian's libmodest-dev (lexborisov/Modest): MyHTML, a WHATWG HTML5 parser (the html5lib
// tree-construction tests pass), and MyENCODING, the WHATWG encodings with the spec's prescan.
#include <myhtml/api.h>
#include <myencoding/encoding.h>
