/* The one include of procreap.h for this package's cgo files: a checkout
   without `make go` gets a message that says so, not a bare "No such file". */
#include <stdlib.h>
#if defined(__has_include)
#if !__has_include("procreap.h")
#error "procreap.h is missing: run `make go` in the procreap checkout (it places the header and libprocreap.a in bindings/go/lib), or build with -tags procreap_system after `make install`"
#endif
#endif
#include "procreap.h"
