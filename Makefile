# mig: static, dependency-free live migration of QEMU guests.
# Every lib/*/*.c goes into one archive; every cmd/*.c is a binary; every
# test/unit/*_test.c is a unit test linked against the archive.

CC       = musl-gcc
CFLAGS   = -std=c11 -D_GNU_SOURCE -Os -g -Wall -Wextra -Wshadow -Wno-unused-parameter \
           -Werror=implicit-function-declaration -ffunction-sections -fdata-sections \
           -Ilib -Ibuild/include
LDFLAGS  = -static -Wl,--gc-sections
BEARSSL  = /usr/lib/x86_64-linux-gnu/libbearssl.a
PREFIX  ?= /usr/local
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man/man1
MAN5DIR  = $(PREFIX)/share/man/man5

LIB_SRC  := $(wildcard lib/*/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=build/obj/%.o)
# BearSSL's .a was built against glibc with fortify; the shims are linked
# as an object (not from the archive) so they precede libbearssl.a.
SHIM_OBJ := build/obj/lib/compat/fortify.o
ARCH_OBJ := $(filter-out $(SHIM_OBJ),$(LIB_OBJ))
CMDS     := $(patsubst cmd/%.c,build/bin/%,$(wildcard cmd/*.c))
UNITS    := $(patsubst test/unit/%.c,build/test/%,$(wildcard test/unit/*_test.c))
MANS     := $(wildcard doc/*.1)
MANS5    := $(wildcard doc/*.5)
GUEST    := build/guest/guest.elf

# Fuzz targets (see the fuzzing rules at the end).
FUZZ_SRC     := $(wildcard test/fuzz/*_fuzz.c)
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -O1 -g -Ilib -Ibuild/include \
               -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# The musl shims would shadow glibc's own checked functions.
FUZZ_LIBSRC  := $(filter-out lib/compat/%,$(LIB_SRC))
FUZZ_BINS    := $(FUZZ_SRC:test/fuzz/%.c=build/fuzz/bin/%)
REPLAYS      := $(FUZZ_SRC:test/fuzz/%.c=build/test/fuzz/%)
SAN_REPLAYS  := $(FUZZ_SRC:test/fuzz/%.c=build/san/bin/%)
SAN_CFLAGS   = -std=c11 -D_GNU_SOURCE -O1 -g -Ilib -Ibuild/include \
               -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer

.PHONY: all check check-long unit demo bench install clean deps guest
# Objects are intermediate files of pattern rules: keep them between runs.
.SECONDARY:
all: $(CMDS) $(GUEST)

build/include/.stamp:
	@sh scripts/deps.sh build
	@mkdir -p build/include
	@for h in /usr/include/bearssl*; do ln -sfn $$h build/include/; done
	@touch $@

build/obj/%.o: %.c build/include/.stamp $(wildcard lib/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/libmig.a: $(ARCH_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

build/bin/%: build/obj/cmd/%.o build/libmig.a $(SHIM_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< build/libmig.a $(SHIM_OBJ) $(BEARSSL)

build/test/%: build/obj/test/unit/%.o build/libmig.a $(SHIM_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< build/libmig.a $(SHIM_OBJ) $(BEARSSL)

# The test guest: a 32-bit multiboot kernel, freestanding, no libc.
$(GUEST): test/guest/guest.S test/guest/guest.ld
	@mkdir -p $(dir $@)
	gcc -m32 -nostdlib -ffreestanding -fno-pie -no-pie -Wl,--build-id=none \
	    -Wl,--no-warn-rwx-segments \
	    -T test/guest/guest.ld -o $@ test/guest/guest.S

guest: $(GUEST)

unit: $(UNITS)

check: all $(UNITS) $(REPLAYS) $(SAN_REPLAYS)
	@sh scripts/deps.sh test
	@sh test/run.sh $(UNITS) $(REPLAYS)

# check plus the slow variants (test/long): the fault matrix's whole cross
# product.
check-long: all $(UNITS) $(REPLAYS) $(SAN_REPLAYS)
	@sh scripts/deps.sh test
	@LONG=1 TEST_TIMEOUT=1800 sh test/run.sh $(UNITS) $(REPLAYS)

demo: all
	@sh scripts/deps.sh test
	@sh scripts/demo.sh

bench: all build/bench/splice-relay
	@sh scripts/deps.sh bench
	@rc=0; sh scripts/bench.sh || rc=1; sh scripts/bench-tunnel.sh || rc=1; \
	    sh scripts/bench-managed.sh || rc=1; exit $$rc

install: $(CMDS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(MAN5DIR)
	for b in $(CMDS); do install -m 0755 -s $$b $(DESTDIR)$(BINDIR)/; done
	for m in $(MANS); do install -m 0644 $$m $(DESTDIR)$(MANDIR)/; done
	for m in $(MANS5); do install -m 0644 $$m $(DESTDIR)$(MAN5DIR)/; done

clean:
	rm -rf build

# The plain relay benchmark's floor (scripts/splice-relay.c).
build/bench/splice-relay: scripts/splice-relay.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

# ---- fuzzing (test/fuzz/NAME_fuzz.c, each with test/fuzz/corpus/NAME/) ----
# Every target defines LLVMFuzzerTestOneInput using lib/ code only.  `make
# fuzz` links each with libFuzzer (clang, ASan, UBSan) against lib/ built
# for glibc in build/fuzz/ and runs it FUZZ_SECONDS with its corpus; new
# inputs go to build/fuzz/new/NAME, never into the committed corpus.
# `make check` replays each corpus through the target built twice: with
# the normal toolchain and test/fuzz/replay.c, and with gcc's ASan and
# UBSan (glibc) in build/san/.

.PHONY: fuzz fuzz-build replay
build/fuzz/obj/%.o: %.c build/include/.stamp $(wildcard lib/*/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

build/fuzz/libmig.a: $(FUZZ_LIBSRC:%.c=build/fuzz/obj/%.o)
	rm -f $@ && ar rcs $@ $^

build/fuzz/bin/%: build/fuzz/obj/test/fuzz/%.o build/fuzz/libmig.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $< build/fuzz/libmig.a $(BEARSSL)

build/test/fuzz/%: build/obj/test/fuzz/%.o build/obj/test/fuzz/replay.o build/libmig.a $(SHIM_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< build/obj/test/fuzz/replay.o build/libmig.a $(SHIM_OBJ) $(BEARSSL)

build/san/obj/%.o: %.c build/include/.stamp $(wildcard lib/*/*.h)
	@mkdir -p $(dir $@)
	gcc $(SAN_CFLAGS) -c $< -o $@

build/san/libmig.a: $(FUZZ_LIBSRC:%.c=build/san/obj/%.o)
	rm -f $@ && ar rcs $@ $^

build/san/bin/%: build/san/obj/test/fuzz/%.o build/san/obj/test/fuzz/replay.o build/san/libmig.a
	@mkdir -p $(dir $@)
	gcc -fsanitize=address,undefined -o $@ $^ $(BEARSSL)

fuzz-build:
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh test/fuzz/fuzz.sh $(FUZZ_BINS)

# The corpus replay alone (make check runs it too).
replay: $(REPLAYS) $(SAN_REPLAYS)
	@TESTS=none sh test/run.sh $(REPLAYS)
