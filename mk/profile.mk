# SPDX-License-Identifier: GPL-2.0
#
# make profile-check: the heap profile read by Go's own pprof on the host.
#
# The VM runs tests/selftests/gca_profile's profile_written test with
# GCA_PROFILE_DUMP=1: the test prints the profile it wrote base64-encoded
# between "GCA-PROFILE-BEGIN" and "GCA-PROFILE-END" on the console (the
# VM's only channel out).  The profile is decoded from the console log
# here and `go tool pprof -top BINARY PROFILE` (Debian's golang-go,
# installed by scripts/deps.sh) must name the test's allocating function,
# gca_profile_zebra_alloc, for in-use space, and gca_profile_garbage_alloc
# for allocated space.  Files: build/profile/ (vm.log, heap.pb, top.txt).
# Results are "gca-result:" lines; `make check` runs it as a layer.

PROFILE_DIR := $(BUILD)/profile
PROFILE_BIN := $(SELFTESTS)/gca_profile

.PHONY: profile-check profile-check-run

profile-check: all
	$(Q)mkdir -p $(LOGDIR)
	$(Q)$(MAKE) --no-print-directory profile-check-run 2>&1 | tee $(LOGDIR)/profile-check.log

# Without building first (for `make check`).
profile-check-run:
	$(Q)scripts/deps.sh golang-go
	$(Q)mkdir -p $(PROFILE_DIR); \
	rm -f $(PROFILE_DIR)/heap.pb $(PROFILE_DIR)/top.txt; \
	for f in kmod/gcarena.ko $(PROFILE_BIN); do \
		if [ ! -f "$$f" ]; then \
			echo "profile-check: $$f is not built" >&2; exit 1; \
		fi; \
	done; \
	rc=0; \
	$(VM_RUN) -t $(VM_TIMEOUT) -f kmod/gcarena.ko -f $(PROFILE_BIN) -- \
		'insmod ./gcarena.ko && GCA_PROFILE_DUMP=1 ./gca_profile -t profile_written' \
		> $(PROFILE_DIR)/vm.log 2>&1 || rc=$$?; \
	grep -E '^(ok|not ok) |^# .*(Expected|profile_written:)' \
		$(PROFILE_DIR)/vm.log || true; \
	if [ $$rc -ne 0 ]; then \
		echo "gca-result: fail profile-vm (VM or test exit status $$rc; see $(PROFILE_DIR)/vm.log)"; \
	else \
		echo "gca-result: pass profile-vm"; \
	fi; \
	sed -n '/^GCA-PROFILE-BEGIN$$/,/^GCA-PROFILE-END$$/p' $(PROFILE_DIR)/vm.log | \
		sed '1d;$$d' | base64 -d > $(PROFILE_DIR)/heap.pb 2>/dev/null || true; \
	if [ ! -s $(PROFILE_DIR)/heap.pb ]; then \
		echo "gca-result: fail profile-decode (no profile between the markers in $(PROFILE_DIR)/vm.log)"; \
		exit 0; \
	fi; \
	echo "gca-result: pass profile-decode ($$(stat -c %s $(PROFILE_DIR)/heap.pb) bytes)"; \
	export HOME=$${HOME:-/tmp} PPROF_TMPDIR=$(CURDIR)/$(PROFILE_DIR); \
	for idx in inuse_space:gca_profile_zebra_alloc alloc_space:gca_profile_garbage_alloc; do \
		si=$${idx%%:*} fn=$${idx#*:}; \
		if go tool pprof -sample_index=$$si -top $(PROFILE_BIN) \
			$(PROFILE_DIR)/heap.pb > $(PROFILE_DIR)/top-$$si.txt 2>&1 && \
		   sed 's/^/    /' $(PROFILE_DIR)/top-$$si.txt | head -n 12 && \
		   awk -v fn="$$fn" '$$NF == fn && $$1 != "0" { found = 1 } END { exit !found }' \
			$(PROFILE_DIR)/top-$$si.txt; then \
			echo "gca-result: pass pprof-$$si (go tool pprof names $$fn)"; \
		else \
			cat $(PROFILE_DIR)/top-$$si.txt; \
			echo "gca-result: fail pprof-$$si (go tool pprof -top does not name $$fn)"; \
		fi; \
	done
