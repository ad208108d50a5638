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

.PHONY: all check unit demo bench install clean deps guest
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

check: all $(UNITS)
	@sh scripts/deps.sh test
	@sh test/run.sh $(UNITS)

demo: all
	@sh scripts/deps.sh test
	@sh scripts/demo.sh

bench: all build/bench/splice-relay
	@sh scripts/deps.sh bench
	@rc=0; sh scripts/bench.sh || rc=1; sh scripts/bench-tunnel.sh || rc=1; exit $$rc

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
