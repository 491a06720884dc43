#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a throw-away qemu guest on a stock Debian kernel and run one command
# in it.  The gcarena module cannot be loaded on the build host, so every
# test that needs the module runs through this script.
#
# Usage: tests/vm/run.sh [-k KERNEL_IMAGE] [-t TIMEOUT_SEC] [-m MEM_MB]
#                        [-f FILE]... -- COMMAND [ARGS...]
#
#   -k KERNEL_IMAGE  kernel to boot (default: /boot/vmlinuz-$KVER, see below)
#   -t TIMEOUT_SEC   wall-clock limit for the whole VM run (default 600)
#   -m MEM_MB        guest memory (default 2048)
#   -f FILE          copy FILE into the guest's /gca/ (basename kept,
#                    directories copied recursively); may be repeated.
#                    Shared libraries needed by dynamically linked ELF files
#                    are copied into the guest as well.
#
# COMMAND runs in /gca under busybox sh.  A single argument is taken as a
# shell command line ("exit 3", "insmod ./x.ko && ./t"); several arguments
# are quoted one by one, so they reach the program exactly as given.
#
# KVER is $GCA_KVER if set, else the vermagic of the first *.ko given with
# -f (the kernel the module was built for), else the newest non-rt
# /boot/vmlinuz-*-amd64.
#
# Environment:
#   GCA_VM_ACCEL  qemu accelerator (default tcg: KVM guests do not boot on
#                 our CI machines)
#   GCA_VM_LOG    keep the guest console log (\r stripped) at this path
#   GCA_KVER      kernel version to boot (see above)
#
# Exit status: the guest command's exit status; 124 if the timeout hit;
# 1 if the guest never finished (panic, crash) or if its kernel log shows a
# BUG/WARNING/Oops/lockdep/KASAN/... report; 2 on usage errors.

set -eu

prog=${0##*/}

usage()
{
	# The header comment is the manual.
	sed -n '3,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2
	exit 2
}

die()
{
	echo "$prog: $*" >&2
	exit 2
}

# Quote one word for a POSIX shell: busybox sh in the guest does not have
# to understand bash's $'...' quoting that printf %q may produce.
shquote()
{
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# Emit one newc cpio header plus name.  Used to create /dev and
# /dev/console without mknod: the kernel opens /dev/console for /init
# before any devtmpfs exists, and mknod would need root (or CAP_MKNOD).
newc_entry()
{
	local name=$1 mode=$2 nlink=$3 rmaj=$4 rmin=$5
	local namesize=$((${#name} + 1))

	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		"$newc_ino" "$mode" 0 0 "$nlink" 0 0 0 0 "$rmaj" "$rmin" \
		"$namesize" 0
	printf '%s\0' "$name"
	# Header (110 bytes) plus name are padded to a multiple of four.
	printf '%*s' $(( (4 - (110 + namesize) % 4) % 4 )) '' | tr ' ' '\0'
	newc_ino=$((newc_ino + 1))
}

# Copy the shared libraries an ELF file needs to the same paths under the
# initramfs root: the guest has nothing but busybox-static otherwise.
copy_libs()
{
	local f=$1 lib

	# Only dynamically linked ELF files have a PT_INTERP/needed list.
	[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || return 0
	ldd "$f" >/dev/null 2>&1 || return 0

	if ldd "$f" | grep -q 'not found'; then
		echo "$prog: warning: $f: unresolved libraries:" >&2
		ldd "$f" | grep 'not found' >&2
	fi
	for lib in $(ldd "$f" | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root${lib%/*}"
		cp -L "$lib" "$root$lib"
	done
}

# Kernel log lines that fail the run even if the command passed.  The
# last three are not in every report's first line, so list them too.
# Lockdep's reports, not its boot banner ("RCU lockdep checking is enabled").
bad='BUG:|WARNING:|Oops|general protection|KASAN|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|lockdep is turned off|DEBUG_LOCKS_WARN_ON|held lock freed|lock held when returning|Call Trace|UBSAN|refcount_t|list_add corruption|list_del corruption'
bad="$bad|kernel BUG at|blocked for more than|detected stall"
# Debug kernel (tests/vm/debug.config).  Lockdep and KASAN reports start
# with "WARNING:"/"BUG:" (possible circular locking, inconsistent lock
# state, BUG: KASAN, BUG: sleeping function called from invalid context);
# DEBUG_LOCKS_WARN_ON and ODEBUG name themselves; SLUB_DEBUG's reports
# read "BUG kmalloc-64 (Not tainted): Redzone overwritten", no colon.
bad="$bad|inconsistent lock state|DEBUG_LOCKS_WARN_ON|ODEBUG:|BUG [^ :]+ \((Not tainted|Tainted)"
# gcarena's own: checkmark's pass over the spans found broken metadata
# (kmod/cycle.c gca_checkmark_spans(); no arena content can cause it).
bad="$bad|checkmark: cycle [0-9]+: (heap inconsistent|[0-9]+ heap inconsistencies)"
# kmemleak: only the detector breaking down.  Leak reports are judged by
# tests/vm/guest-check.sh --kmemleak, which tells gcarena's leaks from
# boot-time false positives; its "N new suspected memory leaks" line in
# the log is not a failure by itself.
bad="$bad|kmemleak: (Memory pool empty|Cannot|Failed|Kernel memory leak detector disabled)"

kernel=
timeout=600
mem=2048
files=()

while getopts 'k:t:m:f:h' opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	t) timeout=$OPTARG ;;
	m) mem=$OPTARG ;;
	f) files+=("$OPTARG") ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage

case $timeout in ''|*[!0-9]*) die "bad timeout '$timeout'" ;; esac
case $mem in ''|*[!0-9]*) die "bad memory size '$mem'" ;; esac

for f in ${files[@]+"${files[@]}"}; do
	[ -e "$f" ] || die "no such file: $f"
done

# Pick the kernel: the one the module was built for, so that insmod does
# not trip over a vermagic mismatch.
if [ -z "$kernel" ]; then
	kver=${GCA_KVER:-}
	kver_from=GCA_KVER
	if [ -z "$kver" ]; then
		kver_from="vermagic of the module"
		for f in ${files[@]+"${files[@]}"}; do
			case $f in *.ko) ;; *) continue ;; esac
			kver=$(modinfo -F vermagic "$f" 2>/dev/null | \
			       awk '{ print $1 }') || kver=
			[ -n "$kver" ] && kver_from="vermagic of $f" && break
		done
	fi
	if [ -z "$kver" ]; then
		kver_from="newest in /boot"
		kver=$(for k in /boot/vmlinuz-*-amd64; do
				[ -e "$k" ] && echo "${k#/boot/vmlinuz-}"
			done | grep -v -- '-rt-' | sort -V | tail -n 1) || true
	fi
	[ -n "$kver" ] || die "no /boot/vmlinuz-*-amd64 found (install linux-image-amd64, or use -k)"
	kernel=/boot/vmlinuz-$kver
	[ -e "$kernel" ] || die "$kernel missing (version $kver from $kver_from): install that kernel image, or set GCA_KVER / use -k"
fi
[ -r "$kernel" ] || die "cannot read kernel image $kernel"

busybox=/bin/busybox
# Must be the static one: the guest has no libc unless a test brings it.
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is missing or not static (install busybox-static)"
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (install qemu-system-x86)"
command -v cpio >/dev/null || die "cpio not found (install cpio)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gca-vm.XXXXXX")
qpid=
tpid=
# shellcheck disable=SC2317 # only reached through the traps
cleanup()
{
	# Never leave a qemu behind, whatever way we exit.
	if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null || true; fi
	if [ -n "$tpid" ]; then kill "$tpid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Build the initramfs tree.
root=$tmp/root
mkdir -p "$root"/bin "$root"/sbin "$root"/usr/bin "$root"/usr/sbin \
	 "$root"/proc "$root"/sys "$root"/tmp "$root"/gca "$root"/root
cp "$busybox" "$root"/bin/busybox

for f in ${files[@]+"${files[@]}"}; do
	cp -a -- "$f" "$root/gca/"
done
# Libraries for everything that came in, including files inside dirs.
while IFS= read -r -d '' f; do
	copy_libs "$f"
done < <(find "$root/gca" -type f -print0)

# The command, as one shell command line, so that no quoting has to
# survive the kernel command line.
if [ $# -eq 1 ]; then
	printf '%s\n' "$1" > "$root"/gca/.cmd
else
	for a in "$@"; do
		printf '%s ' "$(shquote "$a")"
	done > "$root"/gca/.cmd
	echo >> "$root"/gca/.cmd
fi

cat > "$root"/init <<'EOF'
#!/bin/busybox sh
# gcarena test VM init (generated by tests/vm/run.sh)
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
# POSIX shm and ptys for tests that want them.
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t devpts devpts /dev/pts
# Keep the kernel off the console: the whole log is dumped at the end, and
# interleaved kernel lines would garble the test output.  Only KERN_CRIT
# and worse get through ("kernel BUG at", "BUG: unable to handle page
# fault"): an oops ends in panic, so they would never be seen otherwise.
dmesg -n 3
cd /gca
echo "GCA-VM-START: $(uname -r)"
sh -c "$(cat /gca/.cmd)" </dev/null
rc=$?
# Leading newline: the command's last line may lack one, and the host
# matches the sentinel at the start of a line.
echo
echo "GCA-VM-EXIT: $rc"
echo "GCA-VM-DMESG-BEGIN"
dmesg
echo "GCA-VM-DMESG-END"
# Let the UART drain before the machine disappears.
sleep 1
poweroff -f
EOF
chmod 755 "$root"/init

initrd=$tmp/initrd.gz
newc_ino=1
(
	cd "$root"
	newc_entry dev $((0040755)) 2 0 0
	newc_entry dev/console $((0020600)) 1 5 1
	find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort | \
		cpio --quiet -o -H newc -R 0:0
) | gzip -1 > "$initrd"

accel=${GCA_VM_ACCEL:-tcg}
raw=$tmp/console.raw
log=$tmp/console.log
: > "$raw"

# log_buf_len: the kernel log is only read at the end, so make room for a
# chatty test run rather than lose an early WARNING to the ring buffer.
# panic_print=0x20: a panic replays the whole kernel log on the console,
# so that the reports before it (a KASAN or lockdep splat at KERN_ERR,
# below the console's level) are not lost with the guest.
# The console goes to a file rather than stdio: qemu then never touches
# stdin (CI has none) or the terminal, and we can tail the file to stream
# progress while keeping a full copy.
start=$(date +%s)
echo "$prog: booting $kernel ($accel, ${mem}M, timeout ${timeout}s)" >&2
timeout --kill-after=10 "$timeout" \
	qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 -m "$mem" \
		-display none -vga none -monitor none -nic none \
		-serial "file:$raw" -no-reboot \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 oops=panic panic_print=0x20 quiet loglevel=4 log_buf_len=8M no_timer_check" \
		</dev/null &
qpid=$!

tail -n +1 -f -s 0.2 --pid="$qpid" "$raw" | sed -u 's/\r//g' &
tpid=$!

qrc=0
wait "$qpid" || qrc=$?
qpid=
# tail notices the dead qemu within a second, after a last read.
wait "$tpid" || true
tpid=
end=$(date +%s)

tr -d '\r' < "$raw" > "$log"
if [ -n "${GCA_VM_LOG:-}" ]; then
	cp "$log" "$GCA_VM_LOG"
fi

echo "$prog: VM ran for $((end - start))s" >&2

if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	echo "$prog: TIMEOUT: guest did not finish within ${timeout}s, qemu killed" >&2
	exit 124
fi

rc=$(sed -n 's/^GCA-VM-EXIT: \([0-9][0-9]*\)$/\1/p' "$log" | tail -n 1)
if [ -z "$rc" ]; then
	echo "$prog: FAIL: guest did not finish (kernel panic or crash?); qemu exit status $qrc" >&2
	grep -E -e "Kernel panic|$bad" "$log" | sed 's/^/    /' >&2 || true
	exit 1
fi
if ! grep -q '^GCA-VM-DMESG-END$' "$log"; then
	echo "$prog: FAIL: guest kernel log is truncated (guest died while dumping it?)" >&2
	exit 1
fi

if sed -n '/^GCA-VM-DMESG-BEGIN$/,/^GCA-VM-DMESG-END$/p' "$log" | \
   grep -E -e "$bad" > "$tmp/bad"; then
	echo "$prog: FAIL: guest kernel log reports problems:" >&2
	sed 's/^/    /' "$tmp/bad" >&2
	exit 1
fi

exit "$rc"
