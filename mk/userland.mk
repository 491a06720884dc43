# SPDX-License-Identifier: GPL-2.0
#
# Included by the top Makefile: the stat tool, the examples, installation
# and packaging.
#
#   make tools          tools/gcarena-stat
#   make examples       examples/tree, examples/server (in-tree library)
#   make install        module, library, headers, gcarena.pc, tool, manual
#                       pages; DESTDIR= and PREFIX= (default /usr/local)
#   make uninstall      the same files removed (same DESTDIR/PREFIX)
#   make install-check  install into a temporary DESTDIR, check the layout,
#                       build an example with pkg-config against it
#   make dkms-check     dkms add/build/remove of a temporary copy of the
#                       module's sources for the installed 6.1 kernel
#
# Installed layout (PREFIX=/usr/local):
#   /lib/modules/KVER/updates/gcarena.ko   (always under /lib, not PREFIX)
#   PREFIX/lib/libgcarena.a, libgcarena.so.1.0, .so.1 and .so symlinks
#   PREFIX/lib/pkgconfig/gcarena.pc        Libs: -lgcarena -lpthread
#   PREFIX/include/gcarena.h               the library's header, which
#   PREFIX/include/linux/gcarena.h         includes the ABI header as
#                                          <linux/gcarena.h>: the same
#                                          spelling as in the tree
#                                          (-Iuapi), found in the default
#                                          include path for /usr/local
#                                          and /usr, and by pkg-config's
#                                          -I${includedir} elsewhere
#   PREFIX/bin/gcarena-stat
#   PREFIX/share/man/man1, man3, man7
# No udev rule: the module creates /dev/gcarena with mode 0666
# (devtmpfs), and udev changes a node's mode only when a rule says so.

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

GCA_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' dkms.conf 2>/dev/null)

INSTALL ?= install
INSTALL_CHECK_DIR := $(BUILD)/install-check

.PHONY: tools examples install uninstall install-check dkms-check \
	install-check-run dkms-check-run

tools:
	$(Q)$(MAKE) -C tools

examples: lib
	$(Q)$(MAKE) -C examples

# The module's kernel version: the vermagic it was built with.
define gca_kver_sh
kver=$$(modinfo -F vermagic kmod/gcarena.ko 2>/dev/null | awk '{ print $$1 }'); \
if [ -z "$$kver" ]; then \
	echo "install: cannot read the version of kmod/gcarena.ko" >&2; exit 1; \
fi
endef

install: module lib tools
	$(Q)$(gca_kver_sh); \
	d="$(DESTDIR)"; \
	$(INSTALL) -d "$$d/lib/modules/$$kver/updates" "$$d$(LIBDIR)" \
		"$$d$(PKGCONFIGDIR)" "$$d$(INCLUDEDIR)/linux" "$$d$(BINDIR)" \
		"$$d$(MANDIR)/man1" "$$d$(MANDIR)/man3" "$$d$(MANDIR)/man7"; \
	$(INSTALL) -m 644 kmod/gcarena.ko "$$d/lib/modules/$$kver/updates/"; \
	$(INSTALL) -m 644 userlib/libgcarena.a "$$d$(LIBDIR)/"; \
	$(INSTALL) -m 755 userlib/libgcarena.so.1.0 "$$d$(LIBDIR)/"; \
	ln -sf libgcarena.so.1.0 "$$d$(LIBDIR)/libgcarena.so.1"; \
	ln -sf libgcarena.so.1 "$$d$(LIBDIR)/libgcarena.so"; \
	$(INSTALL) -m 644 userlib/gcarena.h "$$d$(INCLUDEDIR)/gcarena.h"; \
	$(INSTALL) -m 644 uapi/linux/gcarena.h "$$d$(INCLUDEDIR)/linux/gcarena.h"; \
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(GCA_VERSION)|' \
		userlib/gcarena.pc.in > "$$d$(PKGCONFIGDIR)/gcarena.pc"; \
	chmod 644 "$$d$(PKGCONFIGDIR)/gcarena.pc"; \
	$(INSTALL) -m 755 tools/gcarena-stat "$$d$(BINDIR)/"; \
	for m in man/*.[137]; do \
		s=$${m##*.}; \
		$(INSTALL) -m 644 "$$m" "$$d$(MANDIR)/man$$s/"; \
	done; \
	if [ -z "$$d" ]; then \
		depmod -a "$$kver" || true; \
		ldconfig || true; \
	fi; \
	echo "install: gcarena $(GCA_VERSION) for $$kver into $${d:-/}"

uninstall:
	$(Q)d="$(DESTDIR)"; \
	rm -f "$$d"/lib/modules/*/updates/gcarena.ko \
	      "$$d$(LIBDIR)"/libgcarena.a "$$d$(LIBDIR)"/libgcarena.so* \
	      "$$d$(PKGCONFIGDIR)/gcarena.pc" "$$d$(INCLUDEDIR)/gcarena.h" \
	      "$$d$(INCLUDEDIR)/linux/gcarena.h" "$$d$(BINDIR)/gcarena-stat"; \
	for m in man/*.[137]; do \
		s=$${m##*.}; rm -f "$$d$(MANDIR)/man$$s/$${m##*/}"; \
	done

# install-check: `make install DESTDIR=...` (default PREFIX), every file
# where it belongs, the manual pages format cleanly, and an example
# builds against the installed copy with pkg-config, statically and
# dynamically (PKG_CONFIG_SYSROOT_DIR maps the .pc file's paths into
# DESTDIR), with no include path into the source tree.
install-check: module lib tools
	$(Q)mkdir -p $(LOGDIR)
	$(Q)$(MAKE) --no-print-directory install-check-run 2>&1 | tee $(LOGDIR)/install-check.log

install-check-run:
	$(Q)scripts/deps.sh pkgconf groff-base
	$(Q)rm -rf $(INSTALL_CHECK_DIR); mkdir -p $(INSTALL_CHECK_DIR)
	$(Q)d=$(CURDIR)/$(INSTALL_CHECK_DIR)/root; p=/usr/local; \
	result() { echo "gca-result: $$*"; }; \
	if $(MAKE) --no-print-directory install DESTDIR=$$d > $(INSTALL_CHECK_DIR)/install.log 2>&1; then \
		result pass install-destdir; \
	else \
		cat $(INSTALL_CHECK_DIR)/install.log; result fail install-destdir; exit 0; \
	fi; \
	missing=; \
	for f in lib/modules/*/updates/gcarena.ko $$p/lib/libgcarena.a \
		 $$p/lib/libgcarena.so.1.0 $$p/lib/libgcarena.so.1 \
		 $$p/lib/libgcarena.so $$p/lib/pkgconfig/gcarena.pc \
		 $$p/include/gcarena.h $$p/include/linux/gcarena.h \
		 $$p/bin/gcarena-stat $$p/share/man/man7/gcarena.7 \
		 $$p/share/man/man1/gcarena-stat.1 \
		 $$p/share/man/man3/gca_open.3 $$p/share/man/man3/gca_close.3 \
		 $$p/share/man/man3/gca_wait_cycle.3 \
		 $$p/share/man/man3/gca_memmove.3 \
		 $$p/share/man/man3/gca_enter_blocking.3 \
		 $$p/share/man/man3/gca_leave_blocking.3 \
		 $$p/share/man/man3/gca_set_debug.3 \
		 $$p/share/man/man3/gca_pool_get.3 \
		 $$p/share/man/man3/gca_write_heap_profile.3; do \
		ls -d $$d/$$f > /dev/null 2>&1 || missing="$$missing $$f"; \
	done; \
	if [ -z "$$missing" ] && \
	   [ "$$(readlink $$d$$p/lib/libgcarena.so.1)" = libgcarena.so.1.0 ] && \
	   [ "$$(readlink $$d$$p/lib/libgcarena.so)" = libgcarena.so.1 ]; then \
		result pass install-layout; \
	else \
		(cd $$d && find . | sort); \
		result fail install-layout "(missing:$$missing)"; \
	fi; \
	soname=$$(readelf -d $$d$$p/lib/libgcarena.so.1.0 | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p'); \
	if [ "$$soname" = libgcarena.so.1 ]; then result pass install-soname; \
	else result fail install-soname "($$soname)"; fi; \
	bad=0; \
	for m in $$d$$p/share/man/man*/*; do \
		if grep -q '^\.so ' "$$m"; then \
			t=$$d$$p/share/man/$$(sed -n 's/^\.so //p' "$$m"); \
			[ -f "$$t" ] || { echo "$$m: .so target $$t missing"; bad=1; }; \
			continue; \
		fi; \
		w=$$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$$m" 2>&1); \
		if [ -n "$$w" ]; then echo "$$m: $$w"; bad=1; fi; \
	done; \
	if [ $$bad -eq 0 ]; then result pass install-manpages; \
	else result fail install-manpages; fi; \
	export PKG_CONFIG_PATH=$$d$$p/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$$d; \
	flags=$$(pkg-config --cflags --libs gcarena) && \
	echo "pkg-config --cflags --libs gcarena: $$flags" && \
	case " $$flags " in *" -lgcarena -lpthread "*) true ;; *) false ;; esac && \
	result pass install-pkgconfig || result fail install-pkgconfig "($$flags)"; \
	for how in dynamic static; do \
		out=$(CURDIR)/$(INSTALL_CHECK_DIR)/tree-$$how; \
		static=; [ $$how = static ] && static=-static; \
		if cc -O2 -Wall -o $$out examples/tree.c $$static \
			$$(pkg-config --cflags --libs gcarena) \
			> $(INSTALL_CHECK_DIR)/cc-$$how.log 2>&1; then \
			if [ $$how = dynamic ]; then \
				ldd_out=$$(LD_LIBRARY_PATH=$$d$$p/lib ldd $$out); \
				echo "$$ldd_out" | grep -q "libgcarena.so.1 => $$d$$p/lib/libgcarena.so.1" \
					|| { echo "$$ldd_out"; false; }; \
			fi && result pass install-example-$$how; \
		else \
			cat $(INSTALL_CHECK_DIR)/cc-$$how.log; \
			result fail install-example-$$how; \
		fi; \
	done; \
	$(MAKE) --no-print-directory uninstall DESTDIR=$$d > /dev/null; \
	left=$$(find $$d -type f -o -type l); \
	if [ -z "$$left" ]; then result pass uninstall; \
	else echo "$$left"; result fail uninstall "(files left)"; fi

# dkms-check: build only, nothing is loaded or installed into a kernel.
# The copy goes to /usr/src/gcarena-VERSION (where dkms wants it) and is
# removed again, with the dkms tree entry, whatever happens; an existing
# /usr/src/gcarena-VERSION (a real installation) is left alone and the
# check fails.
dkms-check: $(BUILD)/.deps
	$(Q)mkdir -p $(LOGDIR)
	$(Q)$(MAKE) --no-print-directory dkms-check-run 2>&1 | tee $(LOGDIR)/dkms-check.log

dkms-check-run:
	$(Q)scripts/deps.sh dkms
	$(Q)ver="$(GCA_VERSION)"; src=/usr/src/gcarena-$$ver; \
	kdir="$(KDIR)"; kver=$$(basename "$$(dirname "$$kdir")"); \
	result() { echo "gca-result: $$*"; }; \
	if [ -z "$$ver" ] || [ ! -d "/lib/modules/$$kver/build" ]; then \
		result fail dkms-build "(no version in dkms.conf, or no /lib/modules/$$kver/build)"; \
		exit 0; \
	fi; \
	if [ -e "$$src" ] || dkms status -m gcarena -v "$$ver" 2>/dev/null | grep -q .; then \
		result fail dkms-build "($$src or a gcarena/$$ver dkms entry exists already: not touching it)"; \
		exit 0; \
	fi; \
	cleanup() { dkms remove -m gcarena -v "$$ver" --all > /dev/null 2>&1 || true; rm -rf "$$src"; }; \
	trap cleanup EXIT; \
	mkdir -p "$$src"; \
	tar -cf - --exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude='.*.cmd' --exclude=modules.order \
		--exclude=Module.symvers dkms.conf Kbuild kmod uapi | tar -xf - -C "$$src"; \
	echo "dkms-check: gcarena $$ver for $$kver from $$src"; \
	if dkms add -m gcarena -v "$$ver" && \
	   dkms build -m gcarena -v "$$ver" -k "$$kver"; then \
		ko=$$(find /var/lib/dkms/gcarena/$$ver/$$kver -name 'gcarena.ko*' | head -n 1); \
		vm=$$(modinfo -F vermagic "$$ko" 2>/dev/null | awk '{ print $$1 }'); \
		if [ -n "$$ko" ] && [ "$$vm" = "$$kver" ]; then \
			result pass dkms-build "($$ko)"; \
		else \
			result fail dkms-build "(built module missing or for '$$vm')"; \
		fi; \
	else \
		cat /var/lib/dkms/gcarena/$$ver/build/make.log 2>/dev/null | tail -n 30; \
		result fail dkms-build; \
	fi; \
	if dkms remove -m gcarena -v "$$ver" --all && \
	   ! dkms status -m gcarena -v "$$ver" | grep -q .; then \
		result pass dkms-remove; \
	else \
		result fail dkms-remove; \
	fi
