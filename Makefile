# ecntrace - find the hop whose ECMP hash includes the ECN bits.
#
#   make            build ./ecntrace
#   make check      install missing packages, run every test (unit, ASan+UBSan, lab)
#   make demo       the lab's broken network and its diagnosis
#   make fuzz       run the fuzz targets for FUZZSECS seconds each
#   make install PREFIX=/usr/local
#   make deb        the Debian package, in build/deb/ (DEBDIR=...)
#   make clean

PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man
COMPDIR  ?= $(PREFIX)/share/bash-completion/completions
DATADIR  ?= $(PREFIX)/share/ecntrace
DESTDIR  ?=

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
            -Wmissing-prototypes -Wformat=2
# cmocka's test functions all take a state they rarely use.
TESTWARN  = $(WARN) -Wno-unused-parameter
# src/ has one folder per layer (src/README); headers are included by name.
SRCDIRS  := src $(patsubst %/,%,$(sort $(wildcard src/*/)))
CPPFLAGS += -std=c11 -D_GNU_SOURCE $(addprefix -I,$(SRCDIRS))
LDLIBS   += -lpcap -lnftables -lcap -lpthread -lm

SAN       = -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined

SRC      := $(sort $(wildcard src/*.c src/*/*.c))
LIBSRC   := $(filter-out src/cmd/main.c,$(SRC))
HDR      := $(wildcard src/*.h src/*/*.h tests/unit/*.h)
OBJ      := $(SRC:%.c=build/%.o)
LIBOBJ   := $(LIBSRC:%.c=build/%.o)
ASANOBJ  := $(LIBSRC:%.c=build/asan/%.o)

UNIT     := $(sort $(wildcard tests/unit/test_*.c))
UNITBIN  := $(UNIT:tests/unit/%.c=build/tests/%)
ASANBIN  := $(UNIT:tests/unit/%.c=build/asan/tests/%)
FUZZSECS ?= 60

.PHONY: all deps check unit lab demo fuzz install uninstall deb clean
all: ecntrace

ecntrace: $(OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

build/%.o: %.c $(HDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c -o $@ $<

build/asan/%.o: %.c $(HDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(SAN) -c -o $@ $<

build/tests/%: tests/unit/%.c $(LIBOBJ) $(HDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(TESTWARN) -o $@ $< $(LIBOBJ) $(LDLIBS) -lcmocka

build/asan/tests/%: tests/unit/%.c $(ASANOBJ) $(HDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(TESTWARN) $(SAN) -o $@ $< $(ASANOBJ) $(LDLIBS) -lcmocka

build/asan/ecntrace: build/asan/src/cmd/main.o $(ASANOBJ)
	$(CC) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@sh scripts/deps.sh

# Unit tests run plain and under ASan+UBSan; lab tests need root and skip
# cleanly without it. tests/run.sh prints the closing "N passed, N failed".
check: deps
	@$(MAKE) --no-print-directory ecntrace build/asan/ecntrace $(UNITBIN) $(ASANBIN)
	@sh tests/run.sh $(UNITBIN) $(ASANBIN) tests/fuzz/run.sh \
		$(sort $(wildcard tests/lab/test_*.sh))

unit: ecntrace $(UNITBIN) $(ASANBIN)
	@sh tests/run.sh $(UNITBIN) $(ASANBIN)

lab: deps ecntrace
	@sh tests/run.sh $(sort $(wildcard tests/lab/test_*.sh))

demo: deps
	@$(MAKE) --no-print-directory ecntrace
	@sh lab/demo.sh

# libFuzzer needs clang; each target runs for FUZZSECS seconds (make check
# runs them for 10).
fuzz: deps
	@FUZZ_SECS=$(FUZZSECS) sh tests/run.sh tests/fuzz/run.sh

install: ecntrace
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPDIR)
	install -m 0755 ecntrace $(DESTDIR)$(BINDIR)/ecntrace
	install -m 0644 doc/ecntrace.1 $(DESTDIR)$(MANDIR)/man1/ecntrace.1
	install -m 0644 doc/ecntrace.bash-completion $(DESTDIR)$(COMPDIR)/ecntrace
	install -d $(DESTDIR)$(DATADIR)
	install -m 0644 doc/ecntrace-schema.json $(DESTDIR)$(DATADIR)/ecntrace-schema.json

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ecntrace $(DESTDIR)$(MANDIR)/man1/ecntrace.1 \
	      $(DESTDIR)$(COMPDIR)/ecntrace $(DESTDIR)$(DATADIR)/ecntrace-schema.json
	-rmdir $(DESTDIR)$(DATADIR) 2>/dev/null

# The Debian package (debian/). dpkg-buildpackage cleans the tree it builds
# in (make clean) and writes its results one directory up, so it runs on a
# copy of the tree in $(DEBDIR)/ecntrace-VERSION: the .deb (and its -dbgsym,
# .buildinfo and .changes) land in $(DEBDIR), nothing outside it changes.
DEBDIR   ?= build/deb
DEBVER    = $(shell dpkg-parsechangelog -S Version)
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
		{ echo "deb: needs dpkg-dev and debhelper (apt-get install dpkg-dev debhelper)" >&2; exit 1; }
	rm -rf $(DEBDIR)
	mkdir -p $(DEBDIR)/ecntrace-$(DEBVER)
	tar -cf - --anchored --exclude=./.git --exclude=./build --exclude=./ecntrace \
		--exclude=./debian/ecntrace --exclude=./debian/.debhelper . | \
		tar -xf - -C $(DEBDIR)/ecntrace-$(DEBVER)
	cd $(DEBDIR)/ecntrace-$(DEBVER) && dpkg-buildpackage -us -uc -b
	rm -rf $(DEBDIR)/ecntrace-$(DEBVER)
	@ls $(DEBDIR)/*.deb

clean:
	rm -rf build ecntrace
