# procreap — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all lib header header-check demo test test-rust test-c test-go test-python test-platforms deps bench go wheel clean
.PHONY: cli install uninstall test-install

all: lib header-check

REL     := target/release
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))

# Release static + shared library: target/release/libprocreap.{a,so}, and
# libprocreap.so.$(MAJOR), the SONAME (build.rs) programs linked against it load.
lib:
	$(CARGO) build --release --lib
	ln -sf libprocreap.so $(REL)/libprocreap.so.$(MAJOR)

# The operator CLI: target/release/examples/procreap.
cli:
	$(CARGO) build --release --example procreap

# ---------------------------------------------------------------- install
# make install [PREFIX=/usr/local] [DESTDIR=]   and   make uninstall (same vars)
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
DATAROOTDIR ?= $(PREFIX)/share
MANDIR      ?= $(DATAROOTDIR)/man
BASHCOMPDIR ?= $(DATAROOTDIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATAROOTDIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATAROOTDIR)/fish/vendor_completions.d
STRIP       ?= strip
D := $(DESTDIR)

# What rustc says a program linking libprocreap.a needs (cached; a target dir
# of its own, so the release build's fingerprints stay untouched). -lgcc_s is
# dropped: the compiler driver adds the unwinder itself (libgcc_s as needed,
# libgcc_eh with -static, where an explicit -lgcc_s cannot be found).
$(REL)/native-static-libs: Cargo.toml Cargo.lock
	@mkdir -p $(REL)
	CARGO_TARGET_DIR=target/native-libs $(CARGO) rustc --quiet --release --lib --crate-type staticlib -- --print native-static-libs 2>&1 | \
	  sed -n 's/^note: native-static-libs: //p' | tail -n 1 | \
	  tr ' ' '\n' | grep -vx -e '-lgcc_s' -e '' | tr '\n' ' ' | sed 's/ $$//' > $@.tmp
	@test -s $@.tmp || { echo "rustc reported no native-static-libs" >&2; rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

install: lib cli $(REL)/native-static-libs
	@[ "$$(uname -s)" = Linux ] || { echo "make install: Linux only for now" >&2; exit 1; }
	install -d $(D)$(BINDIR) $(D)$(LIBDIR)/pkgconfig $(D)$(INCLUDEDIR) $(D)$(MANDIR)/man1 \
	  $(D)$(BASHCOMPDIR) $(D)$(ZSHCOMPDIR) $(D)$(FISHCOMPDIR)
	install -m 644 include/procreap.h $(D)$(INCLUDEDIR)/procreap.h
	install -m 644 $(REL)/libprocreap.a $(D)$(LIBDIR)/libprocreap.a
	$(STRIP) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd $(D)$(LIBDIR)/libprocreap.a
	install -m 755 $(REL)/libprocreap.so $(D)$(LIBDIR)/libprocreap.so.$(VERSION)
	ln -sf libprocreap.so.$(VERSION) $(D)$(LIBDIR)/libprocreap.so.$(MAJOR)
	ln -sf libprocreap.so.$(MAJOR) $(D)$(LIBDIR)/libprocreap.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@VERSION@|$(VERSION)|' -e "s|@LIBS_PRIVATE@|$$(cat $(REL)/native-static-libs)|" \
	  procreap.pc.in > $(D)$(LIBDIR)/pkgconfig/procreap.pc
	chmod 644 $(D)$(LIBDIR)/pkgconfig/procreap.pc
	install -m 755 $(REL)/examples/procreap $(D)$(BINDIR)/procreap
	$(REL)/examples/procreap man > $(D)$(MANDIR)/man1/procreap.1
	$(REL)/examples/procreap completions bash > $(D)$(BASHCOMPDIR)/procreap
	$(REL)/examples/procreap completions zsh > $(D)$(ZSHCOMPDIR)/_procreap
	$(REL)/examples/procreap completions fish > $(D)$(FISHCOMPDIR)/procreap.fish
	chmod 644 $(D)$(MANDIR)/man1/procreap.1 $(D)$(BASHCOMPDIR)/procreap $(D)$(ZSHCOMPDIR)/_procreap $(D)$(FISHCOMPDIR)/procreap.fish
	@echo "installed procreap $(VERSION) under $(D)$(PREFIX)"

uninstall:
	rm -f $(D)$(INCLUDEDIR)/procreap.h $(D)$(LIBDIR)/libprocreap.a \
	  $(D)$(LIBDIR)/libprocreap.so.$(VERSION) $(D)$(LIBDIR)/libprocreap.so.$(MAJOR) $(D)$(LIBDIR)/libprocreap.so \
	  $(D)$(LIBDIR)/pkgconfig/procreap.pc $(D)$(BINDIR)/procreap $(D)$(MANDIR)/man1/procreap.1 \
	  $(D)$(BASHCOMPDIR)/procreap $(D)$(ZSHCOMPDIR)/_procreap $(D)$(FISHCOMPDIR)/procreap.fish

# Rewrites include/procreap.h from the Rust sources (cbindgen pinned in Cargo.lock).
header:
	PROCREAP_WRITE_HEADER=1 $(CARGO) test --quiet --release --test header

header-check:
	$(CARGO) test --quiet --release --test header

# The demo needs only Rust (no tmux: its zombie scan says why it is empty).
demo:
	@command -v $(CARGO) >/dev/null 2>&1 || { echo "make demo: cargo (Rust) is missing; install it with rustup (https://rustup.rs)" >&2; exit 1; }
	$(CARGO) run --quiet --release --example procreap -- demo

# Everything `make test` needs that may be missing on a fresh machine.
deps:
	@scripts/ensure-deps.sh

# Every suite runs even when an earlier one fails, so one run shows all
# failures; the exit status is non-zero if any failed.
SUITES := test-rust test-platforms test-c test-install test-go test-python
test: deps
	@failed=""; \
	for s in $(SUITES); do \
	  $(MAKE) --no-print-directory $$s || failed="$$failed $$s"; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: every suite passed"

test-rust: deps
	$(CARGO) build --release --lib --examples
	$(CARGO) clippy --release --all-targets --quiet -- -D warnings
	$(CARGO) fmt --check
	$(CARGO) test --release --no-fail-fast

test-c: lib
	$(MAKE) -C tests/c

# make install into a temp prefix; C programs built from outside the checkout
# through pkg-config (shared and --static); SONAME; the installed CLI.
test-install: deps
	scripts/test-install.sh

# Builds the release archive and places it, with the header, inside the Go
# module (bindings/go/lib/<goos>_<goarch>/, never committed), with the
# generated file that tells the cgo build it is there.
go: lib
	bindings/go/place-archive.sh

test-go: lib
	scripts/test-go.sh

test-python: lib
	scripts/test-python.sh

# The Python package as an sdist (carrying the crate) and a platform wheel
# built from it (bundling the library): target/wheels/procreap-<ver>-*.whl.
wheel:
	scripts/test-python.sh --wheel

# macOS (portable backend) and Windows ("unsupported") must keep compiling.
test-platforms:
	scripts/check-platforms.sh

bench: deps
	scripts/bench.sh

clean:
	$(CARGO) clean
