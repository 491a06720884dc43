#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write tests/bench/REPORT.md and its plots from results.tsv.

Usage: report.py RESULTS.tsv PROFILE.txt ERRORS.tsv OUTDIR [VMPROFILE.txt]

RESULTS.tsv is aggregate.py's output; PROFILE.txt holds run.sh's native
profile lines (cmd, perf, perfstat, callgrind, callgrind_run); ERRORS.tsv
the runs that failed in the VM (guest.sh's E lines).  run.sh keeps copies
of both next to results.tsv (tests/bench/native-profile.txt,
tests/bench/errors.tsv), so that the report can be rewritten from the
committed files alone, without running anything:

    python3 tests/bench/report.py tests/bench/results.tsv \\
        tests/bench/native-profile.txt tests/bench/errors.tsv tests/bench \\
        tests/bench/vm-profile.txt

VMPROFILE.txt holds the guest's perf report lines (guest.sh's profile(),
"PROGRAM ARGS <TAB> self|children <TAB> perf line"; run.sh keeps it as
tests/bench/vm-profile.txt).  A missing PROFILE, ERRORS or VMPROFILE
file is taken as empty.  Writes
OUTDIR/REPORT.md and OUTDIR/plots/*.png (gnuplot, pngcairo); the data
files gnuplot reads go to $BENCH_PLOT_DATA (default build/bench/plots
under the repository's top).  Python 3 standard library only.

Everything in the report comes from those files: the verdict on each
target of the benchmark issue, the tables, the ratios, the plots and the
figures behind each target not met.  What those figures mean (the
bottlenecks, hypotheses, what was tried, figures measured by hand, the
next steps) is not computed and is not here: tests/bench/ANALYSIS.md,
written by hand, says it and cites the report and results.tsv.  A
statistic the results file does not hold is left out (and the report
says so) rather than shown as an empty column.
"""
import math
import os
import re
import subprocess
import sys

BACKENDS = ("gcarena", "boehm", "glibc")
NAMES = {"gcarena": "gcarena", "boehm": "Boehm", "glibc": "glibc"}
ALLOC_SIZES = (16, 64, 256, 4096, 65536)
TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PLOT_DATA = os.environ.get("BENCH_PLOT_DATA") or os.path.join(TOP, "build", "bench", "plots")
CHUNK_MIB = 4           # GCA_CHUNK_PAGES (512) x 8 KiB heap pages (kmod/core/gca_core.h)
DASH = "–"

# How each backend is built and linked (tests/bench/Makefile, bench.h,
# backend_*.c); the run's own line (M backend_*, printed by every
# benchmark binary since bench_util.c has it) is added when present.
BACKEND_BUILD = {
    "gcarena": "`backend_gcarena.c` over the public API of `userlib/gcarena.h` only "
               "(`gca_alloc`, `gca_alloc_noscan`, every pointer store through `gca_store`, "
               "the write barrier), linked with `userlib/libgcarena.a`; `-O2 -static "
               "-pthread`.  The heap and the collector are the kernel module `gcarena.ko`, "
               "loaded in the same VM boot; the collector runs in the arena's kernel thread "
               "`gcarena/ID`.  GOGC 100 unless a benchmark sets it (heap overhead).",
    "boehm": "`backend_boehm.c`: Debian's static `/usr/lib/x86_64-linux-gnu/libgc.a` "
             "(libgc-dev %(libgc)s) `-ldl -static -pthread`, `GC_THREADS`, `GC_MALLOC` / "
             "`GC_MALLOC_ATOMIC`; default settings: not incremental, `GC_free_space_divisor` "
             "3, lazy sweeping, parallel marking (`GC_get_parallel()` + 1 markers: 2 on the "
             "VM's 2 vCPUs), thread-local allocation; threads registered explicitly "
             "(`GC_allow_register_threads`, `GC_register_my_thread`).  Pauses are timed with "
             "`GC_set_on_collection_event`, `GC_EVENT_PRE_STOP_WORLD` → "
             "`GC_EVENT_POST_START_WORLD`.",
    "glibc": "`backend_glibc.c`: glibc %(glibc)s `calloc` (objects that may hold pointers, "
             "zeroed as the collectors' are) / `malloc` (pointer-free) and an explicit `free` "
             "of what the benchmark drops; default tunables; `-O2 -static -pthread`.",
}


# --------------------------------------------------------------------------
# results.tsv

class Results:
    def __init__(self, path):
        self.meta = {}
        self.rows = {}
        self.order = []
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("#"):
                    m = re.match(r"# ([^:]+): (.*)", line)
                    if m:
                        self.meta.setdefault(m.group(1), m.group(2))
                    continue
                p = line.split("\t")
                if len(p) < 9 or p[0] == "bench":
                    continue
                try:
                    row = {"median": float(p[4]), "min": float(p[5]),
                           "max": float(p[6]), "n": int(p[7]), "unit": p[8]}
                except ValueError:
                    continue
                key = tuple(p[:4])
                self.rows[key] = row
                self.order.append(key)

    def get(self, bench, backend, param, stat):
        if param is None:
            return None
        return self.rows.get((bench, backend, param, stat))

    def med(self, bench, backend, param, stat):
        r = self.get(bench, backend, param, stat)
        return r["median"] if r else None

    def worst(self, bench, backend, param, stat):
        r = self.get(bench, backend, param, stat)
        return r["max"] if r else None

    def n(self, bench, backend, param, stat):
        r = self.get(bench, backend, param, stat)
        return r["n"] if r else None

    def params(self, bench):
        seen = []
        for k in self.order:
            if k[0] == bench and k[2] not in seen:
                seen.append(k[2])
        return seen

    def has(self, bench, stat):
        return any(k[0] == bench and k[3] == stat for k in self.rows)


def isnum(x):
    return x is not None and not (isinstance(x, float) and x != x)


def num(x, digits=3):
    """3 significant digits, no exponent for large figures."""
    if not isnum(x):
        return DASH
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        r = round(x, digits - 1 - int(math.floor(math.log10(a))))
        return "{:,.0f}".format(r)
    if a < 0.001:
        return "%.2g" % x
    return "%.*g" % (digits, x)


def human_bytes_s(x):
    if not isnum(x):
        return DASH
    for unit, div in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if x >= div:
            return "%.3g %s" % (x / div, unit)
    return "%.3g B/s" % x


def cell(r, scale=1.0, fmt=num):
    """median [min–max] of a row ('–' when absent)."""
    if not r:
        return DASH
    if r["n"] <= 1 or r["min"] == r["max"]:
        return fmt(r["median"] * scale)
    return "%s [%s–%s]" % (fmt(r["median"] * scale), fmt(r["min"] * scale),
                           fmt(r["max"] * scale))


def ratio(a, b):
    if not isnum(a) or not isnum(b) or b == 0:
        return None
    return a / b


def rx(x):
    return DASH if x is None else "%.2f×" % x


def pct(x):
    return DASH if x is None else "%d%%" % round(100 * x)


def param_get(param, key):
    m = re.search(r"(?:^|,)%s=([^,]+)" % re.escape(key), param or "")
    return m.group(1) if m else None


def live_of(param):
    m = re.match(r"live=(\d+)MiB", param or "")
    return int(m.group(1)) if m else None


def plural(n, word):
    return "%s %s%s" % (n, word, "" if n == 1 else "s")


# --------------------------------------------------------------------------
# native profile

class Profile:
    def __init__(self, path):
        self.perf, self.perfstat, self.cg, self.cgrun, self.cmd = [], [], [], {}, {}
        if not path or not os.path.exists(path):
            return
        with open(path, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                kind, _, rest = line.partition("\t")
                if kind == "cmd":
                    k, _, v = rest.partition("\t")
                    self.cmd[k] = v
                elif kind == "perf":
                    m = re.match(r"\s*([0-9.]+)%\s+\[([.k])\]\s+(\S+)", rest)
                    if m:
                        self.perf.append((float(m.group(1)), m.group(3),
                                          "kernel" if m.group(2) == "k" else "user"))
                elif kind == "perfstat":
                    self.perfstat.append(re.sub(r"\s+", " ", rest.strip()))
                elif kind == "callgrind":
                    m = re.match(r"\s*([0-9,]+)\s+\(\s*([0-9.]+)%\)\s+(.*)", rest)
                    if m:
                        ir = int(m.group(1).replace(",", ""))
                        where = m.group(3).split()[0]
                        self.cg.append((ir, float(m.group(2)), where))
                elif kind == "callgrind_run":
                    p = rest.split("\t")
                    if len(p) >= 7:
                        try:
                            self.cgrun[(p[1], p[4])] = float(p[5])
                        except ValueError:
                            pass

    def empty(self):
        return not (self.perf or self.cg)


# --------------------------------------------------------------------------
# profile in the VM (perf record -a -g in the guest)

class VMProfile:
    """Per profiled command: 'self' rows (pct, comm, dso, sym) and 'children'
    rows (total pct, self pct, dso, sym) of the program's own threads."""

    def __init__(self, path):
        self.runs = {}          # command -> {"self": [...], "children": [...]}
        self.order = []
        if not path or not os.path.exists(path):
            return
        with open(path, errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t", 2)
                if len(parts) != 3:
                    continue
                cmd, view, rest = parts
                if cmd not in self.runs:
                    self.runs[cmd] = {"self": [], "children": []}
                    self.order.append(cmd)
                if view == "self":
                    m = re.match(r"\s*([0-9.]+)%\s+(\S+)\s+(\S+)\s+\[([.k])\]\s+(\S+)", rest)
                    if m:
                        self.runs[cmd]["self"].append(
                            (float(m.group(1)), m.group(2), m.group(3), m.group(5)))
                elif view == "children":
                    m = re.match(r"\s*([0-9.]+)%\s+([0-9.]+)%\s+(\S+)\s+\[([.k])\]\s+(\S+)",
                                 rest)
                    if m:
                        self.runs[cmd]["children"].append(
                            (float(m.group(1)), float(m.group(2)), m.group(3), m.group(5)))

    def empty(self):
        return not self.runs

    # The program's kernel work, by entry point (with callees).
    SHARES = (("gca_ioctl", "its ioctls"),
              ("gca_ioc_refill", "`GCA_IOC_REFILL`"),
              ("gca_ioc_handshake.isra.0", "handshakes"),
              ("gca_mark_assist", "mark assists"),
              ("asm_exc_page_fault", "page faults"))

    def shares(self, cmd):
        """[(what, % with callees)] of SHARES that the profile of cmd has."""
        return [(what, v) for sym, what in self.SHARES
                if (v := self.child(cmd, sym)) is not None]

    def child(self, cmd, sym):
        """Total share (callees included) of sym in the program's threads."""
        for tot, _, _, s_ in self.runs.get(cmd, {}).get("children", []):
            if s_ == sym:
                return tot
        return None

    def self_of(self, cmd, sym, comm_prefix=None):
        """Self share of sym, in threads whose name starts with comm_prefix."""
        t = 0.0
        for pc, comm, _, s_ in self.runs.get(cmd, {}).get("self", []):
            if s_ == sym and (comm_prefix is None or comm.startswith(comm_prefix)):
                t += pc
        return t

    def comm_total(self, cmd, comm_prefix):
        return sum(pc for pc, comm, _, _ in self.runs.get(cmd, {}).get("self", [])
                   if comm.startswith(comm_prefix))


def is_mark_fn(sym):
    """The GC core's mark path (kmod/core/gca_mark.c and the span lookup it calls)."""
    sym = sym.split(":")[-1]
    return sym.startswith("gca_mark") or sym.startswith("gca_scan") or \
        sym.startswith("gca_gray") or sym in ("gca_span_of", "gca_shade", "ua_map")


# --------------------------------------------------------------------------
# plots

def gnuplot(script):
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", b"") or b""
        sys.stderr.write("report: gnuplot failed: %s %s\n" % (e, err.decode(errors="replace")))
        return False


TERM = "set terminal pngcairo size 900,560 font 'Sans,10'\n"
COLORS = {"gcarena": "#1f77b4", "boehm": "#d62728", "glibc": "#2ca02c"}


def plot_binary_trees(res, outdir):
    depths = sorted({int(param_get(p, "depth")) for p in res.params("binary-trees")
                     if param_get(p, "depth")})
    if not depths:
        return None
    data = os.path.join(PLOT_DATA, "binary_trees.dat")
    with open(data, "w") as f:
        f.write("# depth " + " ".join("%s_t1 %s_t1min %s_t1max %s_t2 %s_t2min %s_t2max"
                                      % ((b,) * 6) for b in BACKENDS) + "\n")
        for d in depths:
            cols = [str(d)]
            for b in BACKENDS:
                for t in (1, 2):
                    r = res.get("binary-trees", b, "depth=%d,threads=%d" % (d, t), "time_s")
                    cols += ["%g" % r["median"], "%g" % r["min"], "%g" % r["max"]] \
                        if r else ["NaN"] * 3
            f.write(" ".join(cols) + "\n")
    png = os.path.join(outdir, "binary_trees.png")
    plots = []
    for i, b in enumerate(BACKENDS):
        c = 2 + i * 6
        plots.append("'%s' using 1:%d:%d:%d with yerrorlines lw 2 lc rgb '%s' "
                     "title '%s, 1 thread'" % (data, c, c + 1, c + 2, COLORS[b], NAMES[b]))
        plots.append("'%s' using 1:%d:%d:%d with yerrorlines dt 2 lw 2 pt 6 lc rgb '%s' "
                     "title '%s, 2 threads'" % (data, c + 3, c + 4, c + 5, COLORS[b], NAMES[b]))
    ok = gnuplot(TERM + "set output '%s'\n" % png +
                 "set title 'binary-trees: wall time per depth (median, min–max; lower is better)'\n"
                 "set xlabel 'max depth'\nset ylabel 'seconds'\nset logscale y\n"
                 "set key top left\nset grid\nset xtics 2\n"
                 "set xrange [%d:%d]\n" % (depths[0] - 1, depths[-1] + 1) +
                 "plot " + ", \\\n     ".join(plots) + "\n")
    return png if ok else None


def plot_allocrate(res, outdir):
    data = os.path.join(PLOT_DATA, "allocrate.dat")
    have = False
    with open(data, "w") as f:
        f.write("# size " + " ".join("%s_t1 %s_t2" % (b, b) for b in BACKENDS) + "\n")
        for s in ALLOC_SIZES:
            cols = [str(s)]
            for b in BACKENDS:
                for t in (1, 2):
                    v = res.med("allocrate", b, "size=%d,threads=%d" % (s, t), "ns_per_alloc")
                    cols.append("%g" % v if v is not None else "NaN")
                    have = have or v is not None
            f.write(" ".join(cols) + "\n")
    if not have:
        return None
    png = os.path.join(outdir, "allocrate.png")
    plots = []
    for i, b in enumerate(BACKENDS):
        plots.append("'%s' using 1:%d with linespoints lw 2 lc rgb '%s' title '%s, 1 thread'"
                     % (data, 2 + 2 * i, COLORS[b], NAMES[b]))
        plots.append("'%s' using 1:%d with linespoints dt 2 lw 2 pt 6 lc rgb '%s' "
                     "title '%s, 2 threads'" % (data, 3 + 2 * i, COLORS[b], NAMES[b]))
    ok = gnuplot(TERM + "set output '%s'\n" % png +
                 "set title 'Allocation: ns per allocation per thread (median; lower is better)'\n"
                 "set xlabel 'object size (bytes)'\nset ylabel 'ns per allocation'\n"
                 "set logscale xy\nset key top left\nset grid\n"
                 "set format y '10^{%L}'\n"
                 "set xtics ('16' 16, '64' 64, '256' 256, '4 KiB' 4096, '64 KiB' 65536)\n"
                 "set xrange [10:100000]\n"
                 "plot " + ", \\\n     ".join(plots) + "\n")
    return png if ok else None


def plot_pauses(res, outdir):
    lives = sorted({live_of(p) for p in res.params("pauses") if live_of(p)})
    if not lives:
        return None
    # Left panel: pauses as the issue defines them (gcarena's histogram,
    # bucket upper bounds; Boehm's collection events) and gcarena's ring.
    # Right panel: what the program saw (its steps over 1 ms when the
    # results hold them, else its longest step per run).
    series = [("gcarena", "thread_pause_%s_ns", 1e-6, "gcarena, every pause (histogram bound)",
               ("#c6dbef", "#6baed6", "#08519c")),
              ("gcarena", "pause_%s_ms", 1.0, "gcarena, ring (longest per cycle)",
               ("#d9d9d9", "#969696", "#252525")),
              ("boehm", "pause_%s_ms", 1.0, "Boehm, collection events",
               ("#fcae91", "#fb6a4a", "#a50f15"))]
    data = os.path.join(PLOT_DATA, "pauses.dat")
    ymax = 1.0
    with open(data, "w") as f:
        f.write("# live " + " ".join("%s:%s" % (s[0], s[1] % st) for s in series
                                     for st in ("p50", "p99", "max")) +
                " then the program's view per backend\n")
        stall_dist = res.has("pauses", "stall_max_ms")
        for live in lives:
            p = "live=%dMiB" % live
            cols = [str(live)]
            for b, fmt_, scale, _, _ in series:
                for st in ("p50", "p99", "max"):
                    v = res.med("pauses", b, p, fmt_ % st)
                    cols.append("%g" % (v * scale) if v is not None else "NaN")
            for b in BACKENDS:
                for st in (("stall_p50_ms", "stall_p99_ms", "stall_max_ms") if stall_dist
                           else ("max_stall_ms",)):
                    v = res.med("pauses", b, p, st)
                    cols.append("%g" % v if v is not None else "NaN")
            ymax = max([ymax] + [float(v) for v in cols[1:] if v != "NaN"])
            f.write(" ".join(cols) + "\n")
    png = os.path.join(outdir, "pauses.png")
    left = []
    c = 2
    for b, fmt_, scale, title, shades in series:
        if any(res.med("pauses", b, "live=%dMiB" % lv, fmt_ % "max") is not None for lv in lives):
            for k, st in enumerate(("p50", "p99", "max")):
                left.append("'%s' using %d%s title '%s %s' lc rgb '%s'"
                            % (data, c + k, ":xtic(1)" if not left else "", title, st, shades[k]))
        c += 3
    right = []
    shades = {"gcarena": ("#c6dbef", "#6baed6", "#08519c"),
              "boehm": ("#fcae91", "#fb6a4a", "#a50f15"),
              "glibc": ("#c7e9c0", "#74c476", "#006d2c")}
    for b in BACKENDS:
        sts = ("p50", "p99", "max") if stall_dist else ("max",)
        if any(res.med("pauses", b, "live=%dMiB" % lv,
                       ("stall_max_ms" if stall_dist else "max_stall_ms")) is not None
               for lv in lives):
            for k, st in enumerate(sts):
                right.append("'%s' using %d%s title '%s %s' lc rgb '%s'"
                             % (data, c + k, ":xtic(1)" if not right else "", NAMES[b],
                                ("steps > 1 ms, " + st) if stall_dist else "longest step",
                                shades[b][k if stall_dist else 2]))
        c += len(sts)
    panels = []
    # room above the bars for the key
    common = ("set ylabel 'ms'\nset logscale y\nset yrange [0.1:%g]\nset grid ytics\n"
              % (10 ** math.ceil(math.log10(ymax * 30))) +
              "set style data histogram\nset style histogram cluster gap 1\n"
              "set style fill solid 0.9 border -1\nset boxwidth 0.9\n"
              "set key top left font 'Sans,8'\nset xlabel 'live heap (MiB)'\n")
    if left:
        panels.append(common + "set title 'pauses: p50 / p99 / max'\nplot " +
                      ", \\\n     ".join(left) + "\n")
    if right:
        panels.append(common + "set title 'as the program sees them: %s'\nplot "
                      % ("replacements over 1 ms, p50 / p99 / max" if stall_dist
                         else "longest replacement per run") +
                      ", \\\n     ".join(right) + "\n")
    if not panels:
        return None
    script = ("set terminal pngcairo size %d,600 font 'Sans,10'\n" % (650 * len(panels)) +
              "set output '%s'\n" % png +
              "set multiplot layout 1,%d title 'Pauses under a steady mutator, per live heap "
              "(median run; lower is better)'\n" % len(panels) +
              "".join(panels) + "unset multiplot\n")
    return png if gnuplot(script) else None


# --------------------------------------------------------------------------
# the report

class Report:
    def __init__(self):
        self.lines = []

    def w(self, s=""):
        self.lines.append(s)

    def table(self, head, rows, drop_empty=True):
        """A table; columns that are '–' in every row are left out and
        their names returned, for the text to say so."""
        dropped = []
        if drop_empty and rows:
            keep = [i for i in range(len(head))
                    if i == 0 or any(r[i] not in (DASH, "", DASH + " / " + DASH,
                                                   " / ".join([DASH] * 3)) for r in rows)]
            dropped = [head[i] for i in range(len(head)) if i not in keep]
            head = [head[i] for i in keep]
            rows = [[r[i] for i in keep] for r in rows]
        self.w("| " + " | ".join(head) + " |")
        self.w("|" + "|".join("---" for _ in head) + "|")
        for r in rows:
            self.w("| " + " | ".join(r) + " |")
        self.w()
        return dropped


MET, NOT_MET, NA = "**met**", "**not met**", "n/a"


def verdict(ok, note=""):
    v = NA if ok is None else (MET if ok else NOT_MET)
    return v + (" (%s)" % note if note else "")


# --------------------------------------------------------------------------
# what every section shares

class Context:
    """The inputs, the report being written, and what the sections share:
    the plots, the figures several of them use, the targets and which of
    them were missed (for the shortfall entries), and the statistics left
    out of the tables (for one note at the end)."""

    def __init__(self, res, prof, vmprof, errors, plotdir):
        self.res, self.prof, self.vmprof, self.errors = res, prof, vmprof, errors
        self.rep = Report()
        self.w = self.rep.w
        self.pngs = {"binary_trees": plot_binary_trees(res, plotdir),
                     "allocrate": plot_allocrate(res, plotdir),
                     "pauses": plot_pauses(res, plotdir)}
        self.targets = []       # (name, measured text, verdict text, ok)
        self.missed = set()     # keys of missed targets, for the shortfall entries
        self.note_missing = []  # statistics left out of tables, for one note at the end
        self.items = 0          # shortfall entries written

        self.bt_params = res.params("binary-trees")
        self.gb_params = res.params("gcbench")
        # The pause cases: the smallest and the largest live heap.
        self.live_sizes = sorted({live_of(p) for p in res.params("pauses") if live_of(p)})
        self.big = self.small = None
        if self.live_sizes:
            self.big = "live=%dMiB" % self.live_sizes[-1]
            self.small = "live=%dMiB" % self.live_sizes[0]
        # Mark throughput against memcpy, in the VM and natively.
        self.mr_param = (res.params("markrate") or [None])[0]
        self.memcpy_vm = None
        for p in res.params("memcpy"):
            self.memcpy_vm = res.med("memcpy", "none", p, "bytes_per_s")
        self.g_cpu_rate = res.med("markrate", "gcarena", self.mr_param, "live_bytes_per_cpu_s")
        self.r_vm = ratio(self.g_cpu_rate, self.memcpy_vm)
        self.nat_param = (res.params("markrate-native") or [None])[0]
        self.nat_rate = res.med("markrate-native", "gcarena-core", self.nat_param,
                                "marked_bytes_per_s")
        self.nat_cp = res.med("memcpy-native", "none", self.nat_param, "bytes_per_s")
        self.r_nat = ratio(self.nat_rate, self.nat_cp)
        # Heap overhead: the GOGC cases and the memory-limit ones.
        self.ho_rows = res.params("heapover")
        self.ho_gc = [p for p in self.ho_rows
                      if param_get(p, "gcp") and not param_get(p, "limit_pct")
                      and res.get("heapover", "gcarena", p, "heap_sys_over_bound")]
        self.lim_p = [p for p in self.ho_rows if param_get(p, "limit_pct")
                      and res.get("heapover", "gcarena", p, "sys_over_limit")]
        self.count_runs()

    def count_runs(self):
        """Runs per case: run_counts [(what, bench, stat, [n...])], the
        fewest runs of a VM timing (vm_min_runs) and the runs of the cases
        guest.sh pools (pooled_runs)."""
        res = self.res

        def runs_of(bench, stat):
            return sorted({r["n"] for k, r in res.rows.items() if k[0] == bench and k[3] == stat})
        self.run_counts = []
        for bench, stat, what in (("binary-trees", "time_s", "binary-trees"),
                                  ("gcbench", "time_s", "GCBench"),
                                  ("allocrate", "ns_per_alloc", "allocation rate"),
                                  ("pauses", "step_ns", "pauses"),
                                  ("markrate", "collect_cpu_ms", "mark throughput (VM)"),
                                  ("heapover", "heap_sys_ratio", "heap overhead"),
                                  ("markrate-native", "mark_ms", "mark throughput (native)")):
            ns = runs_of(bench, stat)
            if ns:
                self.run_counts.append((what, bench, stat, ns))
        self.vm_min_runs = min([min(ns) for what, b, s, ns in self.run_counts
                                if b in ("binary-trees", "gcbench", "allocrate", "markrate")] +
                               [res.n("pauses", b, p, "step_ns") or 99
                                for p in res.params("pauses")[:-1] for b in BACKENDS] or [0])
        self.pooled_runs = sorted({r["n"] for k, r in res.rows.items()
                                   if (k[0] == "heapover" and k[3] == "heap_sys_ratio") or
                                   (k[0] == "pauses" and k[3] == "step_ns" and
                                    k[2] == (res.params("pauses") or [None])[-1])})

    def meta(self, key, default="not recorded"):
        return self.res.meta.get(key, default)

    def target(self, name, measured, ok, note=""):
        self.targets.append((name, measured, verdict(ok, note), ok))
        return ok

    def item(self, title, measured, derived=()):
        """One numbered entry of the shortfall section: the figures behind a
        group of targets not met, and what follows from them by arithmetic
        (ANALYSIS.md, written by hand, says what they mean)."""
        w = self.w
        self.items += 1
        w("### %d. %s" % (self.items, title))
        w()
        w("- *Measured*: %s" % measured)
        if derived:
            w("- *From these figures*: %s." % "; ".join(derived))
        w()


# --------------------------------------------------------------------------
# the targets of the benchmark issue, judged

def targets_time(ctx):
    """binary-trees and GCBench: ≤ 0.8× Boehm's time and ≤ glibc's."""
    res, bt_params, gb_params = ctx.res, ctx.bt_params, ctx.gb_params

    def time_target(bench, param, label):
        g = res.med(bench, "gcarena", param, "time_s")
        b = res.med(bench, "boehm", param, "time_s")
        c = res.med(bench, "glibc", param, "time_s")
        rb, rc = ratio(g, b), ratio(g, c)
        ok = None if rb is None or rc is None else (rb <= 0.8 and rc <= 1.0)
        if ok is False:
            ctx.missed.add(bench)
        return ctx.target(label,
                          "gcarena %s s, Boehm %s s, glibc %s s: gcarena / Boehm %s (≤ 0.80×), "
                          "gcarena / glibc %s (≤ 1.00×)"
                          % (num(g), num(b), num(c), rx(rb), rx(rc)), ok)

    for p in bt_params:
        if res.get("binary-trees", "gcarena", p, "time_s"):
            time_target("binary-trees", p, "binary-trees %s: ≤ 0.8× Boehm's time and ≤ glibc's"
                        % p.replace(",", ", "))
    for p in gb_params:
        time_target("gcbench", p, "GCBench %s: ≤ 0.8× Boehm's time and ≤ glibc's" % p)


def targets_alloc(ctx):
    """Allocation rate of the small sizes: ≥ 1.5× Boehm's."""
    res = ctx.res
    for t in (1, 2):
        parts, oks = [], []
        for s in (16, 64, 256):
            p = "size=%d,threads=%d" % (s, t)
            g = res.med("allocrate", "gcarena", p, "ns_per_alloc")
            b = res.med("allocrate", "boehm", p, "ns_per_alloc")
            r = ratio(b, g)
            parts.append("%d B: %s (%s vs %s ns)" % (s, rx(r), num(g), num(b)))
            oks.append(None if r is None else r >= 1.5)
        ok = None if None in oks else all(oks)
        if ok is False:
            ctx.missed.add("alloc")
        ctx.target("Allocation rate ≤ 256 B, %s: ≥ 1.5× Boehm's (Boehm ns / gcarena ns)"
                   % plural(t, "thread"), ", ".join(parts), ok)


def targets_pauses(ctx):
    """Pauses.  The issue: gcarena's pauses from its pause histogram, Boehm's
    from GC_set_on_collection_event.  The histogram's figures are log2
    bucket upper bounds: the pause lies in [bound/2, bound)."""
    res, live_sizes, big, small = ctx.res, ctx.live_sizes, ctx.big, ctx.small
    if live_sizes:
        bl, sl = live_sizes[-1], live_sizes[0]
        b99 = res.med("pauses", "boehm", big, "pause_p99_ms")
        h99 = res.med("pauses", "gcarena", big, "thread_pause_p99_ns")
        if h99 is not None and b99:
            hi, lo = h99 / 1e6 / b99, h99 / 2e6 / b99
            ok = True if hi <= 0.05 else (False if lo > 0.05 else None)
            if ok is False:
                ctx.missed.add("p99")
            w99 = res.worst("pauses", "gcarena", big, "thread_pause_p99_ns") / 1e6
            ctx.target("p99 pause at %d MiB ≤ 1/20 of Boehm's (gcarena: its pause histogram, "
                       "every pause of every thread; Boehm: its collection events)" % bl,
                       "gcarena p99 in [%s, %s) ms (histogram bucket, median run; %s per run, "
                       "so p99 is the max), Boehm %s ms: ratio %.3f–%.3f× (≤ 0.05×); the worst "
                       "run's bucket, < %s ms, allows up to %.3f×"
                       % (num(h99 / 2e6), num(h99 / 1e6),
                          plural(num(res.med("pauses", "gcarena", big, "thread_pauses")), "pause"),
                          num(b99), lo, hi, num(w99), w99 / b99), ok,
                       "" if ok is not None else "the bucket straddles the target")
        g99 = res.med("pauses", "gcarena", big, "pause_p99_ms")
        r = ratio(g99, b99)
        ok = None if r is None else r <= 0.05
        if ok is False:
            ctx.missed.add("p99")
        ctx.target("p99 pause at %d MiB ≤ 1/20 of Boehm's, gcarena's pause ring instead (the "
                   "longest pause of each cycle)" % bl,
                   "gcarena %s ms, Boehm %s ms: ratio %s (≤ 0.05×); %s pooled over %s"
                   % (num(g99), num(b99), rx(r),
                      plural(res.n("pauses", "gcarena", big, "pause_p99_ms"), "gcarena pause"),
                      plural(res.n("pauses", "gcarena", big, "pause_count") or 0, "run")), ok)
        if res.has("pauses", "stall_p99_ms"):
            g, b = (res.med("pauses", "gcarena", big, "stall_p99_ms"),
                    res.med("pauses", "boehm", big, "stall_p99_ms"))
            r = ratio(g, b)
            ok = None if r is None else r <= 0.05
            if ok is False:
                ctx.missed.add("p99-seen")
            ctx.target("p99 pause at %d MiB ≤ 1/20 of Boehm's, as the program sees them "
                       "(replacements over 1 ms)" % bl,
                       "gcarena %s ms, Boehm %s ms: ratio %s (≤ 0.05×)"
                       % (num(g), num(b), rx(r)), ok)
        else:
            g, b = (res.med("pauses", "gcarena", big, "max_stall_ms"),
                    res.med("pauses", "boehm", big, "max_stall_ms"))
            ctx.target("p99 pause at %d MiB ≤ 1/20 of Boehm's, as the program sees them" % bl,
                       "not in this results file (no per-step distribution, `stall_ns`); the "
                       "longest step per run, the only program-side figure, is gcarena %s ms vs "
                       "Boehm %s ms (%s)" % (num(g), num(b), rx(ratio(g, b))), None,
                       "not measured in this run")

        hb = res.med("pauses", "gcarena", big, "thread_pause_max_ns")
        hs = res.med("pauses", "gcarena", small, "thread_pause_max_ns")
        if hb is not None and hs:
            lo, hi = hb / (2 * hs), 2 * hb / hs
            ok = True if hi <= 2 else (False if lo > 2 else None)
            if ok is False:
                ctx.missed.add("max")
            ctx.target("max pause at %d MiB ≤ 2× max at %d MiB (gcarena's pause histogram)"
                       % (bl, sl),
                       "[%s, %s) ms vs [%s, %s) ms (histogram buckets, median run; worst run at "
                       "%d MiB < %s ms): %.1f–%.1f×"
                       % (num(hb / 2e6), num(hb / 1e6), num(hs / 2e6), num(hs / 1e6), bl,
                          num(res.worst("pauses", "gcarena", big, "thread_pause_max_ns") / 1e6),
                          lo, hi), ok,
                       "" if ok is not None else "the buckets straddle the target")
        gb_, gs_ = (res.med("pauses", "gcarena", big, "pause_max_ms"),
                    res.med("pauses", "gcarena", small, "pause_max_ms"))
        r2 = ratio(gb_, gs_)
        ok = None if r2 is None else r2 <= 2.0
        if ok is False:
            ctx.missed.add("max")
        ctx.target("max pause at %d MiB ≤ 2× max at %d MiB, gcarena's pause ring" % (bl, sl),
                   "%s ms vs %s ms: %s" % (num(gb_), num(gs_), rx(r2)), ok)
        st = "stall_max_ms" if res.has("pauses", "stall_max_ms") else "max_stall_ms"
        sb, ss = res.med("pauses", "gcarena", big, st), res.med("pauses", "gcarena", small, st)
        r3 = ratio(sb, ss)
        ok = None if r3 is None else r3 <= 2.0
        gl = [res.med("pauses", "glibc", "live=%dMiB" % lv, st) for lv in live_sizes]
        gl = [v for v in gl if v is not None]
        if ok is False:
            ctx.missed.add("max")
        ctx.target("max pause at %d MiB ≤ 2× max at %d MiB, as the program sees them (its "
                   "longest step)" % (bl, sl),
                   "gcarena %s ms vs %s ms: %s%s"
                   % (num(sb), num(ss), rx(r3),
                      "; glibc, which has no collector, at most %s ms at any size it ran"
                      % num(max(gl)) if gl else ""), ok,
                   "both are about %s s" % num(sb / 1e3, 1)
                   if ok and sb and ss and sb > 300 and ss > 300 else "")


def targets_mark(ctx):
    """Mark throughput ≥ ½ memcpy, in the VM and natively."""
    g_cpu_rate, memcpy_vm, r_vm = ctx.g_cpu_rate, ctx.memcpy_vm, ctx.r_vm
    nat_param, nat_rate, nat_cp, r_nat = ctx.nat_param, ctx.nat_rate, ctx.nat_cp, ctx.r_nat
    ok_mark_vm = None if r_vm is None else r_vm >= 0.5
    if ok_mark_vm is False:
        ctx.missed.add("mark")
    ctx.target("Mark throughput in the VM ≥ ½ memcpy",
               "gcarena %s of live heap per CPU-second of collection vs memcpy %s: %s (≥ 0.50×)"
               % (human_bytes_s(g_cpu_rate), human_bytes_s(memcpy_vm), rx(r_vm)), ok_mark_vm)
    ok_mark_nat = None if r_nat is None else r_nat >= 0.5
    if ok_mark_nat is False:
        ctx.missed.add("mark")
    ctx.target("Mark throughput natively (the GC core as userspace code) ≥ ½ memcpy",
               "%s marked vs memcpy %s: %s (≥ 0.50×)"
               % (human_bytes_s(nat_rate), human_bytes_s(nat_cp), rx(r_nat)) if nat_param else
               "no native figures (mark_native did not build or run)", ok_mark_nat)


def targets_heap(ctx):
    """Peak heap within (1 + GOGC/100) × live + 10%, and within a memory limit."""
    res = ctx.res
    for p in ctx.ho_gc:
        gcp = int(param_get(p, "gcp"))
        f = 1 + gcp / 100.0
        g = res.get("heapover", "gcarena", p, "heap_sys_over_bound")
        ok = g["max"] <= 1.10
        if not ok:
            ctx.missed.add("heap")
        ctx.target("Peak heap ≤ (1 + GOGC/100) × live + 10%%, GOGC=%d: heap_sys" % gcp,
                   "peak heap_sys / ((1 + GOGC/100) × live) = %s, worst of %s %s (≤ 1.10)"
                   % (num(g["median"]), plural(g["n"], "run"), num(g["max"])), ok)
        rr = res.get("heapover", "gcarena", p, "rss_ratio")
        if rr:
            ok = rr["max"] / f <= 1.10
            if not ok:
                ctx.missed.add("heap")
            ctx.target("Peak heap ≤ (1 + GOGC/100) × live + 10%%, GOGC=%d: RSS" % gcp,
                       "peak RSS / ((1 + GOGC/100) × live) = %s, worst of %s %s (≤ 1.10)"
                       % (num(rr["median"] / f), plural(rr["n"], "run"), num(rr["max"] / f)), ok)
    for p in ctx.lim_p:
        g = res.get("heapover", "gcarena", p, "sys_over_limit")
        rl = res.get("heapover", "gcarena", p, "rss_over_limit")
        to = res.get("heapover", "gcarena", p, "timed_out")
        timed_out = bool(to and to["max"] > 0)
        ok = g["max"] <= 1.05 and (not rl or rl["max"] <= 1.05) and not timed_out
        if not ok:
            ctx.missed.add("limit")
        done = res.med("heapover", "gcarena", p, "done_fraction")
        ctx.target("With a memory limit (live heap at %s%% of it): peak ≤ 1.05 × limit"
                   % param_get(p, "limit_pct"),
                   "peak sys / limit %s, worst of %s %s; peak RSS / limit %s, worst %s (≤ 1.05)%s"
                   % (num(g["median"]), plural(g["n"], "run"), num(g["max"]),
                      num(rl and rl["median"]), num(rl and rl["max"]),
                      "; **did not finish**: %s of the replacements done before the deadline "
                      "(%s)" % (pct(done), "every run timed out" if to["min"] > 0 else
                                "some runs timed out") if timed_out else ""),
                   ok)


TARGETS = (targets_time, targets_alloc, targets_pauses, targets_mark, targets_heap)


# --------------------------------------------------------------------------
# the sections of REPORT.md, in order

def write_setup(ctx):
    """Title, machine, load, accelerator, backends, source, method, runs."""
    w, M, errors = ctx.w, ctx.res.meta, ctx.errors
    run_counts, vm_min_runs, pooled_runs = ctx.run_counts, ctx.vm_min_runs, ctx.pooled_runs
    w("# gcarena benchmarks: gcarena vs Boehm GC vs glibc malloc")
    w()
    w("Generated by `make bench` (`tests/bench/run.sh` → `aggregate.py` → `report.py`) from "
      "[`results.tsv`](results.tsv) and the native profile "
      "[`native-profile.txt`](native-profile.txt); do not edit by hand.  Run of **%s**.  "
      "What the figures mean (bottlenecks, hypotheses, what was tried, next steps) is in "
      "[`ANALYSIS.md`](ANALYSIS.md), written by hand for the run it names."
      % ctx.meta("date"))
    w()
    w("## Setup")
    w()
    w("- **Machine**: %s, %s CPUs, %s GiB, host kernel %s (virtualisation: %s)."
      % (ctx.meta("host_cpu_model"), ctx.meta("host_cpus"), ctx.meta("host_mem_gib"),
         ctx.meta("host_kernel"), ctx.meta("host_virt")))
    w("- **Load**: the machine was shared.  1-minute load average at the start %s, at the "
      "end %s; while the VM ran %s.  Other qemu processes on the host: %s at the start, %s "
      "at the end."
      % (ctx.meta("load_start"), ctx.meta("load_end"), ctx.meta("load_during"),
         ctx.meta("host_vms_running"), ctx.meta("host_vms_running_end")))
    accel = ctx.meta("accel", "tcg")
    w("- **Accelerator**: **%s**%s: %s, %s; guest kernel %s, guest CPU \"%s\", %s guest CPUs.  "
      "Every VM timing below is emulated: compare the backends with each other, not with "
      "native figures."
      % (accel.upper(), " (software emulation, no KVM)" if accel == "tcg" else "",
         ctx.meta("qemu"), ctx.meta("vm"), ctx.meta("guest_kernel"), ctx.meta("guest_cpu_model"),
         ctx.meta("guest_cpus")))
    w("- **Backends**: every benchmark is one source file written against "
      "`tests/bench/bench.h`, built once per backend (`tests/bench/Makefile`), statically:")
    for b in BACKENDS:
        line = BACKEND_BUILD[b] % {"libgc": ctx.meta("libgc", "?"), "glibc": ctx.meta("glibc", "?")}
        if M.get("backend_%s" % b):
            line += "  As the binary reported itself in this run: %s." % M["backend_%s" % b]
        w("  - `%s`: %s" % (b, line))
    w("- **Source**: gcarena commit %s (%s), %s, glibc %s.  The VM run took %s s%s."
      % (ctx.meta("git_commit"), ctx.meta("git_dirty"), ctx.meta("cc"), ctx.meta("glibc"),
         ctx.meta("vm_seconds"),
         "" if M.get("vm_exit", "0") == "0" else
         "; **the VM exited with status %s**, the figures are those it produced" % M["vm_exit"]))
    w("- **Method**: one VM boot runs every case; a case runs its backends in rounds, "
      "interleaved, the order rotated each round (A B C, B C A, ...; `guest.sh`).  Figures "
      "are the **median [min–max]** over the runs (a single figure when all runs agree or "
      "there was one).  Ratios are *other / gcarena* of the same figure unless a column says "
      "otherwise: above 1, gcarena is faster or uses less.")
    w("- **Runs per case in this file**: %s.  The issue asks for at least 5; %s"
      % ("; ".join("%s %s" % (what, "/".join(str(n) for n in ns))
                   for what, _, _, ns in run_counts) or "none",
         ("the timings meet that%s." % (
             "; the heap-overhead and largest pause cases have %s (`guest.sh` runs them 3 "
             "times and pools their figures), fewer than the issue asks"
             % plural("/".join(str(x) for x in pooled_runs), "run")
             if pooled_runs and min(pooled_runs) < 5 else "")) if vm_min_runs >= 5 else
         "**this run has fewer** (`rounds: %s` in the results' header; `make bench` runs "
         "`BENCH_ROUNDS`, default 5), so the VM timings carry their full run-to-run noise "
         "on a loaded host and have no min–max range." % ctx.meta("rounds")))
    if errors:
        w("- **Failed runs** (%d): %s" % (len(errors), "; ".join(
            "`%s` (%s)" % (e[1], e[2] if len(e) > 2 else "?") for e in errors[:10])))
    else:
        w("- **Failed runs**: none.")
    w()


def write_targets(ctx):
    """The targets' table."""
    w, targets = ctx.w, ctx.targets
    w("## Targets of the issue")
    w()
    w("Judged on the medians, except the heap bounds, which are judged on the worst run (a "
      "bound on a peak).  \"+ 10%\" is read as ≤ 1.10 × (1 + GOGC/100) × live, as "
      "`heapover.c` computes it.  gcarena's pause histogram has log2 buckets: a pause is "
      "known to lie in [bound/2, bound), and a verdict is given only when the whole interval "
      "falls on one side of the target.  For the pause targets the first row uses the issue's "
      "own definition (gcarena's histogram, Boehm's collection events); the rows after it "
      "measure the same target another way (gcarena's pause ring, the program's own view), "
      "for comparison.")
    w()
    ctx.rep.table(["target", "measured", "verdict"], [[t[0], t[1], t[2]] for t in targets],
                  drop_empty=False)
    nmet = sum(1 for t in targets if t[3] is True)
    nnot = sum(1 for t in targets if t[3] is False)
    nna = sum(1 for t in targets if t[3] is None)
    w("%d rows met, %d not met, %d not decided by this file.  Each target not met has an "
      "entry in [Targets not met](#targets-not-met-the-figures-behind-them) with the figures "
      "behind it; [`ANALYSIS.md`](ANALYSIS.md) reads them." % (nmet, nnot, nna))
    w()


def write_run_itself(ctx):
    """The issue's requirements on the run itself."""
    w, prof, vmprof, pngs = ctx.w, ctx.prof, ctx.vmprof, ctx.pngs
    vm_min_runs, pooled_runs = ctx.vm_min_runs, ctx.pooled_runs
    w("### The run itself")
    w()
    written = [os.path.basename(p) for p in pngs.values() if p]
    not_written = ["%s.png" % k for k, p in pngs.items() if not p]
    reqs = [
        ["one command (`make bench`), one VM boot, backends interleaved",
         "yes: `run.sh full`, one `tests/vm/run.sh` boot (VM exit status %s)"
         % ctx.meta("vm_exit")],
        ["static builds of each benchmark for the three backends", "yes (`-static`, "
         "`tests/bench/Makefile`)"],
        ["≥ 5 runs per case, medians and min/max",
         ("yes for the timings; **no** for the heap-overhead and largest pause cases (%s)"
          % plural("/".join(str(x) for x in pooled_runs), "run")
          if pooled_runs and min(pooled_runs) < 5 else "yes") if vm_min_runs >= 5 else
         "**no**: %s per case for the VM timings in this file" % plural(vm_min_runs, "run")],
        ["ratio to gcarena per pair", "yes (tables below)"],
        ["machine and accelerator named", "yes (Setup)"],
        ["plots (pauses, binary-trees, allocation rate)",
         ("yes: " + ", ".join("`plots/%s`" % p for p in written) if not not_written else
          "**not written**: %s (no data, or gnuplot failed)%s"
          % (", ".join(not_written), "; written: " + ", ".join(written) if written else ""))],
        ["profile before optimizing",
         ("the native mark path: perf and callgrind (below)" if not prof.empty() else
          "**no native profile in this run** (perf/valgrind missing or mark_native not "
          "built)") + "; " +
         ("in the VM, perf of %s ([Profiles in the VM](#profiles-in-the-vm)); **not "
          "profiled**: the pauses" % ", ".join("`%s`" % c for c in vmprof.order)
          if not vmprof.empty() else
          "**no profile in the VM in this run** (no perf binary for the guest)")],
    ]
    ctx.rep.table(["requirement", "in this run"], reqs, drop_empty=False)


def cpu_cols(res, bench, p):
    """The CPU columns of the time and allocation tables (CPU_HEAD)."""
    return ["%s / %s / %s" % tuple(num(res.med(bench, b, p, "cpu_s")) for b in BACKENDS),
            "%s / %s / %s" % tuple(num(res.med(bench, b, p, st)) for b, st in
                                   (("gcarena", "user_s"), ("gcarena", "sys_s"),
                                    ("gcarena", "collector_cpu_s"))),
            "%s / %s" % (num(res.med(bench, "boehm", p, "user_s")),
                         num(res.med(bench, "boehm", p, "sys_s")))]


CPU_HEAD = ["process CPU gcarena / Boehm / glibc (s)",
            "gcarena user / system / collector thread (s)", "Boehm user / system (s)"]


def time_table(ctx, bench, params, label):
    """binary-trees' and GCBench's table: wall time per backend, the ratios,
    cycles, pauses and CPU."""
    res = ctx.res
    rows = []
    for p in params:
        g = res.get(bench, "gcarena", p, "time_s")
        b = res.get(bench, "boehm", p, "time_s")
        c = res.get(bench, "glibc", p, "time_s")
        rows.append([label(p), cell(g), cell(b), cell(c),
                     rx(ratio(b and b["median"], g and g["median"])),
                     rx(ratio(c and c["median"], g and g["median"])),
                     "%s / %s" % (num(res.med(bench, "gcarena", p, "num_gc")),
                                  num(res.med(bench, "boehm", p, "num_gc"))),
                     "%s / %s" % (num(res.med(bench, "gcarena", p, "pause_total_ms")),
                                  num(res.med(bench, "boehm", p, "pause_total_ms")))]
                    + cpu_cols(res, bench, p))
    ctx.note_missing += ctx.rep.table(["case", "gcarena (s)", "Boehm (s)", "glibc (s)",
                                       "Boehm/gcarena", "glibc/gcarena",
                                       "cycles gcarena / Boehm",
                                       "pause total gcarena / Boehm (ms)"] + CPU_HEAD, rows)


def write_binary_trees(ctx):
    w = ctx.w
    w("## binary-trees")
    w()
    w("Benchmarks Game algorithm (`binary_trees.c`): a stretch tree of depth max+1, a "
      "long-lived tree of depth max, then 2^(max−d+4) trees of each depth d = 4, 6, …, max, "
      "built, checked and dropped (glibc frees them).  16-byte nodes.  With 2 threads the "
      "iterations of each depth are split between them.  *Process CPU* is "
      "`CLOCK_PROCESS_CPUTIME_ID` over the run: every thread of the process (Boehm's marker "
      "threads included), not gcarena's collector, which is a kernel thread.")
    w()
    time_table(ctx, "binary-trees", ctx.bt_params, lambda p: p.replace(",", ", "))
    png = ctx.pngs["binary_trees"]
    if png:
        w("![binary-trees time per depth](plots/%s)" % os.path.basename(png))
        w()


def write_gcbench(ctx):
    w = ctx.w
    w("## GCBench")
    w()
    w("Ellis, Kovac and Boehm's GCBench (`gcbench.c`): a long-lived tree and an array of "
      "doubles (pointer-free, 500000 by default) kept alive, a stretch tree, then trees of "
      "depth 4…max built top-down (`Populate`) and bottom-up (`MakeTree`); nodes of two "
      "pointers and two ints.  The VM runs a smaller max depth than the original 16 "
      "(long-lived depth = max, stretch = max+2).")
    w()
    time_table(ctx, "gcbench", ctx.gb_params, lambda p: p)


def write_allocrate(ctx):
    res, w = ctx.res, ctx.w
    w("## Allocation rate")
    w()
    w("`allocrate.c`: each thread allocates objects of one size (zeroed, may hold pointers: "
      "`gca_alloc`, `GC_MALLOC`, `calloc`), writes their first and last word and keeps the "
      "last 64 (glibc frees the one it drops).  ns per allocation = wall time / allocations "
      "per thread, so perfect scaling keeps the 2-thread figure equal to the 1-thread one.  "
      "The live heap is tiny: the collectors' share is many cheap cycles.")
    w()
    png = ctx.pngs["allocrate"]
    rows = []
    for t in (1, 2):
        for s_ in ALLOC_SIZES:
            p = "size=%d,threads=%d" % (s_, t)
            g = res.get("allocrate", "gcarena", p, "ns_per_alloc")
            b = res.get("allocrate", "boehm", p, "ns_per_alloc")
            c = res.get("allocrate", "glibc", p, "ns_per_alloc")
            if not (g or b or c):
                continue
            rows.append(["%d B, %d thr" % (s_, t), cell(g), cell(b), cell(c),
                         rx(ratio(b and b["median"], g and g["median"])),
                         rx(ratio(c and c["median"], g and g["median"])),
                         "%s / %s" % (num(res.med("allocrate", "gcarena", p, "num_gc")),
                                      num(res.med("allocrate", "boehm", p, "num_gc")))]
                        + cpu_cols(res, "allocrate", p)[1:]
                        + ["%s / %s" % (num(res.med("allocrate", "gcarena", p, "minflt")),
                                        num(res.med("allocrate", "boehm", p, "minflt")))])
    ctx.note_missing += ctx.rep.table(["size, threads", "gcarena (ns)", "Boehm (ns)", "glibc (ns)",
                                       "Boehm/gcarena", "glibc/gcarena", "cycles gcarena / Boehm"]
                                      + CPU_HEAD[1:] + ["page faults gcarena / Boehm"], rows)
    if png:
        w("![allocation rate per size](plots/%s)" % os.path.basename(png))
        w()


def write_pauses(ctx):
    res, w, live_sizes = ctx.res, ctx.w, ctx.live_sizes
    w("## Pauses")
    w()
    w("`pauses.c`: a live heap of LIVE bytes (a table of 1 KiB units: a 512-byte record "
      "pointing to two 256-byte leaves, all scanned) is built, then units are replaced at "
      "random until VOLUME × LIVE bytes were allocated (glibc frees the unit it replaces).  "
      "Only that phase counts.  Views of its pauses:")
    w()
    w("- *histogram* (the issue's source for gcarena): gcarena's `pause_hist`, every pause of "
      "every thread (handshakes, mark termination, assists), log2 buckets; p50 / p99 / max "
      "are the bucket's upper bound, per run (the median run is shown).")
    w("- *reported*: Boehm's collection events, `GC_EVENT_PRE_STOP_WORLD` → "
      "`GC_EVENT_POST_START_WORLD` (the world is stopped for the whole mark; it sweeps "
      "lazily), which is every pause Boehm makes; gcarena's pause ring (`gca_read_memstats` "
      "after each cycle), which keeps only the longest pause of each cycle.  Pooled over the "
      "runs; the count is pauses per run.")
    w("- *program's view*: the mutator times every replacement; the longest one per run is "
      "the longest stall it saw, whatever the cause (glibc, which has no collector, shows "
      "what the loaded host alone does).")
    w()
    png = ctx.pngs["pauses"]
    rows = []
    stall_dist = res.has("pauses", "stall_p99_ms")
    for live in live_sizes:
        p = "live=%dMiB" % live
        for b in BACKENDS:
            if not res.get("pauses", b, p, "step_ns"):
                continue
            th = "n/a" if b != "gcarena" else DASH
            if res.get("pauses", b, p, "thread_pause_max_ns"):
                th = "%s / %s / %s (%s)" % (
                    num(res.med("pauses", b, p, "thread_pause_p50_ns") / 1e6),
                    num(res.med("pauses", b, p, "thread_pause_p99_ns") / 1e6),
                    cell(res.get("pauses", b, p, "thread_pause_max_ns"), 1e-6),
                    num(res.med("pauses", b, p, "thread_pauses")))
            rep_ = "no collector" if b == "glibc" else DASH
            if res.get("pauses", b, p, "pause_p50_ms"):
                rep_ = "%s / %s / %s (%s)" % (
                    num(res.med("pauses", b, p, "pause_p50_ms")),
                    num(res.med("pauses", b, p, "pause_p99_ms")),
                    cell(res.get("pauses", b, p, "pause_max_ms")),
                    num(res.med("pauses", b, p, "pause_count")))
            st = DASH
            if stall_dist and res.get("pauses", b, p, "stall_p50_ms"):
                st = "%s / %s / %s (%s)" % (
                    num(res.med("pauses", b, p, "stall_p50_ms")),
                    num(res.med("pauses", b, p, "stall_p99_ms")),
                    cell(res.get("pauses", b, p, "stall_max_ms")),
                    num(res.med("pauses", b, p, "stalls")))
            rows.append(["%d MiB" % live, NAMES[b], th, rep_,
                         cell(res.get("pauses", b, p, "max_stall_ms")), st,
                         cell(res.get("pauses", b, p, "step_ns")),
                         num(res.n("pauses", b, p, "step_ns"))])
    ctx.note_missing += ctx.rep.table(
        ["live", "backend", "histogram p50 / p99 / max ms (pauses per run)",
         "reported p50 / p99 / max ms (pauses per run)", "program's longest step (ms)",
         "program's steps > 1 ms p50 / p99 / max ms (count)", "ns per replacement", "runs"],
        rows)
    w("*n/a*: Boehm has no per-thread histogram; every pause it makes is in *reported*.")
    w()
    rows = []
    for live in live_sizes:
        p = "live=%dMiB" % live

        def hist_ratio(st):
            b = res.med("pauses", "boehm", p, "pause_%s_ms" % st)
            g = res.med("pauses", "gcarena", p, "thread_pause_%s_ns" % st)
            if not isnum(b) or not g:
                return DASH
            return "%s–%s×" % (num(b / (g / 1e6)), num(b / (g / 2e6)))
        rows.append(["%d MiB" % live, hist_ratio("p99"), hist_ratio("max")] + [
            rx(ratio(res.med("pauses", "boehm", p, st), res.med("pauses", "gcarena", p, st)))
            for st in ("pause_p99_ms", "pause_max_ms", "max_stall_ms")])
    w("Boehm / gcarena (above 1: gcarena's pauses are shorter):")
    w()
    ctx.rep.table(["live", "p99, gcarena's histogram", "max, gcarena's histogram",
                   "p99, gcarena's ring", "max, gcarena's ring", "program's longest step"], rows)
    if png:
        w("![pause percentiles per heap size](plots/%s)" % os.path.basename(png))
        w()
    PHASES = ("off", "mark", "markterm", "sweep")
    rows = []
    for live in live_sizes:
        p = "live=%dMiB" % live
        if not res.get("pauses", "gcarena", p, "max_stall_phase"):
            continue
        ph = res.med("pauses", "gcarena", p, "max_stall_phase")
        phn = {0: "off", 2: "mark", 3: "mark termination", 4: "sweep"}.get(int(ph), str(ph))
        rows.append(["%d MiB" % live, cell(res.get("pauses", "gcarena", p, "max_stall_ms")), phn,
                     " / ".join(num(res.med("pauses", "gcarena", p, "slow_steps_" + x) or 0)
                                for x in PHASES),
                     cell(res.get("pauses", "gcarena", p, "sys_s")),
                     cell(res.get("pauses", "gcarena", p, "collector_cpu_s")),
                     cell(res.get("pauses", "gcarena", p, "assist_s"))])
    if rows:
        w("gcarena's long steps by the collector phase they began in (from the control page), "
          "and the CPU of the mutation phase:")
        w()
        ctx.note_missing += ctx.rep.table(
            ["live", "longest step (ms)", "its phase (median run)",
             "steps > 10 ms begun in off / mark / mark term. / sweep (per run)",
             "process system time (s)", "collector thread (s)", "mark assists (s)"], rows)


def write_mark(ctx):
    res, w, prof = ctx.res, ctx.w, ctx.prof
    mr_param, memcpy_vm, nat_param, r_nat = ctx.mr_param, ctx.memcpy_vm, ctx.nat_param, ctx.r_nat
    w("## Mark throughput")
    w()
    w("In the VM (`markrate.c`): a pointer-dense heap (a table of units: a 128-byte record "
      "pointing to two 64-byte leaves) of %s, then forced full collections (`gca_collect`, "
      "`GC_gcollect`), each timed: the pause, the call's wall time, and the CPU time of the "
      "collection (the process's own, which holds Boehm's markers, plus for gcarena its "
      "kernel thread `gcarena/ID`, from `/proc/PID/schedstat`).  The same with an empty heap "
      "gives a cycle's fixed cost.  memcpy bandwidth (`memcpy_bw.c`) is measured in the same "
      "rounds.  gcarena marks concurrently: its pause is not its marking time, so the "
      "throughput is judged per CPU-second of the collection."
      % (mr_param or "?").replace("live=", "").replace("MiB", " MiB"))
    w()
    rows = []
    live_bytes = None
    if mr_param:
        lv = live_of(mr_param)
        # markrate.c: live = n units of 256 B plus the table's n pointers
        live_bytes = lv * 1048576 * (1 + 8 / 256.0) if lv else None
        for b in ("gcarena", "boehm"):
            call = res.med("markrate", b, mr_param, "collect_call_ms")
            rows.append([NAMES[b], cell(res.get("markrate", b, mr_param, "pause_ms")),
                         cell(res.get("markrate", b, mr_param, "collect_call_ms")),
                         cell(res.get("markrate", b, mr_param, "collect_cpu_ms")),
                         "%s / %s" % (num(res.med("markrate", b, mr_param, "empty_collect_call_ms")),
                                      num(res.med("markrate", b, mr_param, "empty_collect_cpu_ms"))),
                         human_bytes_s(res.med("markrate", b, mr_param, "live_bytes_per_cpu_s")),
                         human_bytes_s(live_bytes / (call / 1e3)) if call and live_bytes else DASH,
                         rx(ratio(res.med("markrate", b, mr_param, "live_bytes_per_cpu_s"),
                                  memcpy_vm))])
    ctx.rep.table(["backend", "pause (ms)", "collect call (ms)", "collection CPU (ms)",
                   "empty heap: call / CPU (ms)", "live bytes per CPU-s", "live bytes per s of call",
                   "CPU rate / memcpy"], rows)
    w("memcpy in the VM: %s (median of the runs; bytes copied per second)."
      % human_bytes_s(memcpy_vm))
    w()
    w("Natively (`mark_native.c`, on the host, not in the VM): the GC core (`kmod/core/`) "
      "built as userspace code through `tests/unit`'s host, `-O2`, no sanitizers; the same "
      "heap shape built with the core's own allocation paths, then `gca_mark_begin` + "
      "`gca_mark_drain` from the table's address, and a `gca_sweep` that frees nothing; "
      "memcpy of as many bytes.")
    w()
    if nat_param:
        rows = [[nat_param,
                 cell(res.get("markrate-native", "gcarena-core", nat_param, "mark_ms")),
                 cell(res.get("markrate-native", "gcarena-core", nat_param, "drain_ms")),
                 cell(res.get("markrate-native", "gcarena-core", nat_param, "sweep_ms")),
                 cell(res.get("markrate-native", "gcarena-core", nat_param, "marked_bytes_per_s"),
                      fmt=human_bytes_s),
                 cell(res.get("markrate-native", "gcarena-core", nat_param, "ns_per_object")),
                 cell(res.get("memcpy-native", "none", nat_param, "bytes_per_s"),
                      fmt=human_bytes_s),
                 rx(r_nat), num(res.n("markrate-native", "gcarena-core", nat_param, "mark_ms"))]]
        ctx.rep.table(["heap", "mark (ms)", "of which drain (ms)", "sweep (ms)", "marked B/s",
                       "ns per object", "memcpy", "mark / memcpy", "runs"], rows)
    else:
        w("No native figures in this run (`mark_native` did not build or run).")
        w()
    if not prof.empty():
        w("Where the native mark time goes (`native-profile.txt`, written by `run.sh`):")
        w()
        if prof.perf:
            w("- perf, cpu-clock samples of %s, whole process (building the heap included%s), "
              "top symbols: %s."
              % ("`%s`" % prof.cmd["perf"] if "perf" in prof.cmd else "`mark_native`",
                 "" if "memcpy=0" in prof.cmd.get("perf", "") else
                 "; this profile does not record whether its run skipped mark_native's "
                 "memcpy reference (`memcpy=0`), so `__memmove*` / `__memcpy*` may be that "
                 "reference",
                 ", ".join("`%s` %s%%" % (sym, num(pc)) for pc, sym, _ in prof.perf[:10])))
            mk = [(pc, sym) for pc, sym, _ in prof.perf if is_mark_fn(sym)]
            tot = sum(pc for pc, _ in mk)
            if tot:
                w("- Of the samples in the mark path (%s%% of all): %s."
                  % (num(tot), ", ".join("`%s` %d%%" % (sym, round(100 * pc / tot))
                                         for pc, sym in mk)))
        if prof.cg:
            w("- callgrind (%s), instructions by function (self): %s."
              % ("`%s`" % prof.cmd["callgrind"] if "callgrind" in prof.cmd
                 else "`mark_native live=4 reps=4`",
                 ", ".join("`%s` %s%%" % (wh.split(":")[-1], num(pc)) for _, pc, wh in prof.cg[:10])))
        if prof.perfstat:
            w("- perf stat: %s." % "; ".join("`%s`" % s_ for s_ in prof.perfstat))
        w()


def write_heapover(ctx):
    res, w, ho_rows = ctx.res, ctx.w, ctx.ho_rows
    w("## Heap overhead")
    w()
    w("`heapover.c`: a live heap (units of a 128-byte record and two 64-byte leaves: exact "
      "size classes) churned by random replacement (VOLUME × live allocated), heap figures "
      "sampled every 256 replacements, RSS every 1024.  Peaks over the live bytes (table "
      "included).  gcarena's `heap_sys` is Go's HeapSys (heap address space grown, in %d MiB "
      "chunks), *backed* is HeapSys − HeapReleased, *sys* adds the collector's metadata; "
      "the bound is (1 + GOGC/100) × live.  With a limit the run has a deadline, and what it "
      "did by then is reported.  Boehm: `GC_get_prof_stats` heap size (default "
      "`GC_free_space_divisor` 3); glibc: `mallinfo2` arena + mmap." % CHUNK_MIB)
    w()
    rows = []
    for p in ho_rows:
        for b in BACKENDS:
            if not res.get("heapover", b, p, "heap_sys_ratio"):
                continue
            to = res.get("heapover", b, p, "timed_out")
            lm = res.med("heapover", b, p, "live_mib")
            gcp = param_get(p, "gcp")
            rr = res.get("heapover", b, p, "rss_ratio")
            rss_b = DASH
            if b == "gcarena" and gcp and rr:
                f = 1 + int(gcp) / 100.0
                rss_b = cell(dict(rr, median=rr["median"] / f, min=rr["min"] / f,
                                  max=rr["max"] / f))
            rows.append([p.replace(",", ", "), NAMES[b],
                         num(lm * res.med("heapover", b, p, "heap_sys_ratio")) if lm else DASH,
                         cell(res.get("heapover", b, p, "heap_sys_ratio")),
                         cell(res.get("heapover", b, p, "heap_backed_ratio")),
                         cell(res.get("heapover", b, p, "sys_ratio")),
                         cell(rr),
                         cell(res.get("heapover", b, p, "heap_sys_over_bound")),
                         cell(res.get("heapover", b, p, "heap_backed_over_bound")),
                         rss_b,
                         cell(res.get("heapover", b, p, "sys_over_limit")),
                         cell(res.get("heapover", b, p, "num_gc")),
                         ("yes, %s of the work done" % pct(res.med("heapover", b, p, "done_fraction")))
                         if to and to["max"] > 0 else "no",
                         num(res.n("heapover", b, p, "heap_sys_ratio"))])
    ctx.note_missing += ctx.rep.table(
        ["case", "backend", "peak heap_sys (MiB, median)", "heap_sys / live", "backed / live",
         "sys / live", "RSS / live", "heap_sys / bound", "backed / bound", "RSS / bound",
         "sys / limit", "cycles", "timed out", "runs"], rows)


def write_vm_profiles(ctx):
    w, vmprof = ctx.w, ctx.vmprof
    if not vmprof.empty():
        w("## Profiles in the VM")
        w()
        w("One more run of each of these programs after the timed rounds, under `perf "
          "record -a -g` (cpu-clock samples of both vCPUs, kernel symbols, call graphs) in "
          "the same boot (`guest.sh`'s `profile`, kept in "
          "[`vm-profile.txt`](vm-profile.txt)).  Shares are of all samples of the run, "
          "both vCPUs, the idle task included; *with callees* counts a function with "
          "everything it called, in the program's own threads only.")
        w()
        for cmd in vmprof.order:
            run_ = vmprof.runs[cmd]
            prog = cmd.split()[0]
            comm = prog[:15]
            w("### `%s`" % cmd)
            w()
            mine = vmprof.comm_total(cmd, comm)
            coll = vmprof.comm_total(cmd, "gcarena/")
            idle = vmprof.self_of(cmd, "native_safe_halt", "swapper")
            facts = ["idle %s%%" % num(idle)]
            if mine:
                facts.append("the program's threads %s%% (in the top rows)" % num(mine))
            if coll:
                facts.append("the collector thread %s%%" % num(coll))
            facts += ["%s %s%% with callees" % (what, num(v))
                      for what, v in vmprof.shares(cmd)]
            spin = vmprof.self_of(cmd, "mutex_spin_on_owner", comm)
            if spin:
                facts.append("spinning on `a->lock` (`mutex_spin_on_owner`) %s%%" % num(spin))
            w("- " + "; ".join(facts) + ".")
            w()
            rows = [[num(pc), "`%s`" % c, d, "`%s`" % sy]
                    for pc, c, d, sy in run_["self"] if sy != "native_safe_halt"][:15]
            if rows:
                w("Self time, top functions (idle left out):")
                w()
                ctx.rep.table(["%", "thread", "object", "function"], rows)
            rows = [[num(t), num(sf), d, "`%s`" % sy] for t, sf, d, sy in run_["children"]
                    if not sy.startswith("0x")][:15]
            if rows:
                w("The program's threads, with callees:")
                w()
                ctx.rep.table(["% with callees", "% self", "object", "function"], rows)


def vm_shares(vmprof, cmd):
    """The shares the VM profile gives for one program, as text."""
    parts = ["%s %s%%" % (what, num(v)) for what, v in vmprof.shares(cmd)]
    spin = vmprof.self_of(cmd, "mutex_spin_on_owner", cmd.split()[0][:15])
    if spin:
        parts.append("spinning on `a->lock` %s%%" % num(spin))
    user = sum(pc for pc, c, d, _ in vmprof.runs[cmd]["self"]
               if c == cmd.split()[0][:15] and not d.startswith("["))
    if user:
        parts.append("user code in the top rows %s%%" % num(user))
    return "%s: %s (of all samples, idle %s%%)" % (
        "`%s`" % cmd, ", ".join(parts),
        num(vmprof.self_of(cmd, "native_safe_halt", "swapper")))


def short_mutator(ctx):
    """1. binary-trees, GCBench, allocation rate: where the time went."""
    res, vmprof, bt_params, gb_params = ctx.res, ctx.vmprof, ctx.bt_params, ctx.gb_params
    if not ctx.missed & {"binary-trees", "gcbench", "alloc"}:
        return
    ev = []
    zero_gc = []
    for s_ in (16, 64, 256, 4096, 65536):
        p = "size=%d,threads=1" % s_
        g = res.med("allocrate", "gcarena", p, "ns_per_alloc")
        b = res.med("allocrate", "boehm", p, "ns_per_alloc")
        if g is None or b is None:
            continue
        if res.med("allocrate", "gcarena", p, "num_gc") == 0 and g > b:
            zero_gc.append("%d B: %s ns against Boehm's %s and glibc's %s, with no "
                           "gcarena cycle completed during the run"
                           % (s_, num(g), num(b),
                              num(res.med("allocrate", "glibc", p, "ns_per_alloc"))))
    if zero_gc:
        ev.append("allocation rate, 1 thread: " + "; ".join(zero_gc))
    cpu_bound, few_pauses, no_more_cycles = [], [], []
    cases = [q for q in bt_params if param_get(q, "threads") == "1"][-1:] + \
        [q for q in bt_params if param_get(q, "threads") == "2"][-1:] + gb_params[-1:]
    for p in cases:
        bench = "gcbench" if p in gb_params else "binary-trees"
        t = res.med(bench, "gcarena", p, "time_s")
        c = res.med(bench, "gcarena", p, "cpu_s")
        pt = res.med(bench, "gcarena", p, "pause_total_ms")
        ng, nb = res.med(bench, "gcarena", p, "num_gc"), res.med(bench, "boehm", p, "num_gc")
        if t is None:
            continue
        ps = ratio(pt / 1e3, t) if pt is not None else None
        label = "%s %s" % ("GCBench" if bench == "gcbench" else "binary-trees", p)
        ev.append("%s: gcarena %s s wall, %s s of process CPU, pauses %s s in total "
                  "(%s of the wall time), %s cycles against Boehm's %s; Boehm %s s wall, "
                  "%s s CPU"
                  % (label, num(t), num(c),
                     num(pt / 1e3 if pt is not None else None), pct(ps), num(ng), num(nb),
                     num(res.med(bench, "boehm", p, "time_s")),
                     num(res.med(bench, "boehm", p, "cpu_s"))))
        one = param_get(p, "threads") != "2"
        if one and c is not None and c >= 0.9 * t:
            cpu_bound.append(label)
        if ps is not None and ps < 0.2:
            few_pauses.append(label)
        if isnum(ng) and isnum(nb) and ng <= nb:
            no_more_cycles.append(label)
    split = []
    for bench, p in [("binary-trees", q) for q in cases if q in bt_params] + \
            [("gcbench", q) for q in cases if q in gb_params] + \
            [("allocrate", "size=%d,threads=1" % s_) for s_ in (16, 256, 4096)]:
        u, sy = res.med(bench, "gcarena", p, "user_s"), res.med(bench, "gcarena", p, "sys_s")
        bu, bs = res.med(bench, "boehm", p, "user_s"), res.med(bench, "boehm", p, "sys_s")
        if u is None or sy is None:
            continue
        split.append("%s %s: gcarena %s s user + %s s system (%s system), %s page faults, "
                     "collector thread %s s, assists %s s; Boehm %s s user + %s s system, "
                     "%s page faults"
                     % ({"gcbench": "GCBench"}.get(bench, bench), p, num(u), num(sy),
                        pct(ratio(sy, u + sy)),
                        num(res.med(bench, "gcarena", p, "minflt")),
                        num(res.med(bench, "gcarena", p, "collector_cpu_s")),
                        num(res.med(bench, "gcarena", p, "assist_s")), num(bu), num(bs),
                        num(res.med(bench, "boehm", p, "minflt"))))
    if split:
        ev.append("where the CPU went: " + "; ".join(split))
    two = []
    for s_ in (16, 64, 256):
        r = ratio(res.med("allocrate", "boehm", "size=%d,threads=2" % s_, "ns_per_alloc"),
                  res.med("allocrate", "gcarena", "size=%d,threads=2" % s_, "ns_per_alloc"))
        if r is not None:
            two.append("%d B %s" % (s_, rx(r)))
    if two:
        ev.append("2 threads, Boehm / gcarena: " + ", ".join(two))
    gc_cmds = [cmd for cmd in vmprof.order if ".gcarena" in cmd.split()[0]]
    if gc_cmds:
        ev.append("the profile in the VM ([Profiles in the VM](#profiles-in-the-vm)): %s"
                  % "; ".join(vm_shares(vmprof, cmd) for cmd in gc_cmds))
    derived = []
    if zero_gc:
        derived.append("where gcarena completed no cycle at all it still allocated slower "
                       "than Boehm")
    if cpu_bound:
        derived.append("with one thread its process CPU is at least 90%% of its wall time "
                       "(%s)" % ", ".join(cpu_bound))
    if few_pauses:
        derived.append("its pauses are under 20%% of the wall time (%s)" % ", ".join(few_pauses))
    if no_more_cycles:
        derived.append("it runs no more cycles than Boehm (%s)" % ", ".join(no_more_cycles))
    ctx.item("binary-trees, GCBench and the allocation rate", "; ".join(ev) + ".", derived)


def short_pauses(ctx):
    """2. Pauses against the live heap."""
    res, live_sizes, big, small = ctx.res, ctx.live_sizes, ctx.big, ctx.small
    if not (ctx.missed & {"max", "p99", "p99-seen"} and live_sizes):
        return
    ev = []
    outside = []      # sizes where the program's longest step exceeds every pause
    for live in live_sizes:
        p = "live=%dMiB" % live
        hmax = res.med("pauses", "gcarena", p, "thread_pause_max_ns")
        stall = res.med("pauses", "gcarena", p, "max_stall_ms")
        gls = res.med("pauses", "glibc", p, "max_stall_ms")
        ev.append("%d MiB: histogram max in [%s, %s) ms (%s per run), ring max %s ms, "
                  "program's longest step %s ms (Boehm %s%s)"
                  % (live, num(hmax and hmax / 2e6), num(hmax and hmax / 1e6),
                     plural(num(res.med("pauses", "gcarena", p, "thread_pauses")), "pause"),
                     num(res.med("pauses", "gcarena", p, "pause_max_ms")), num(stall),
                     num(res.med("pauses", "boehm", p, "max_stall_ms")),
                     ", glibc %s" % num(gls) if gls is not None else ""))
        if hmax and stall and stall > 2 * hmax / 1e6:
            outside.append(live)
    few = all((res.med("pauses", "gcarena", "live=%dMiB" % lv, "thread_pauses") or 0) < 100
              for lv in live_sizes)
    hb = res.med("pauses", "gcarena", big, "thread_pause_max_ns")
    hs_ = res.med("pauses", "gcarena", small, "thread_pause_max_ns")
    grow = ("%s–%s×" % (num(hb / (2 * hs_)), num(2 * hb / hs_))) if hb and hs_ else None
    rring = ratio(res.med("pauses", "gcarena", big, "pause_max_ms"),
                  res.med("pauses", "gcarena", small, "pause_max_ms"))
    derived = ["gcarena's longest pause is %s as long at %d MiB as at %d MiB (%s; the ring: %s)"
               % (grow or rx(rring), live_sizes[-1], live_sizes[0],
                  "histogram buckets" if grow else "pause ring", rx(rring))]
    if outside:
        glibc_max = max([res.med("pauses", "glibc", "live=%dMiB" % lv, "max_stall_ms") or 0
                         for lv in live_sizes])
        derived.append("at %s MiB the program's longest step is more than twice the longest "
                       "pause the histogram holds, while glibc's longest step stays within "
                       "%s ms" % (", ".join(str(x) for x in outside), num(glibc_max)))
    st_ = "stall_max_ms" if res.has("pauses", "stall_max_ms") else "max_stall_ms"
    sb_ = res.med("pauses", "gcarena", big, st_)
    glibc_max = max([res.med("pauses", "glibc", "live=%dMiB" % lv, st_) or 0
                     for lv in live_sizes])
    if glibc_max and sb_ and glibc_max >= sb_ / 2:
        derived.append("glibc, which has no collector, has steps of up to %s ms in the same "
                       "boot against gcarena's %s ms at %d MiB: at least half as long"
                       % (num(glibc_max), num(sb_), live_sizes[-1]))
    if not res.has("pauses", "max_stall_phase"):
        derived.append("this file has no `max_stall_phase`, `slow_steps_*` or `stall_ns`")
    ctx.item("Pauses against the live heap",
             "; ".join(ev) + "." + ("  With under 100 pauses per run, the nearest-rank p99 "
                                    "is the max." if few else ""), derived)


def short_mark(ctx):
    """3. Mark throughput against memcpy."""
    res, prof, mr_param, nat_param = ctx.res, ctx.prof, ctx.mr_param, ctx.nat_param
    if "mark" not in ctx.missed:
        return
    ev = ["in the VM gcarena collects %s of live heap per CPU-second against memcpy's %s "
          "(%s) and Boehm's %s (%s CPU per forced cycle against Boehm's %s; an empty heap "
          "costs gcarena %s)"
          % (human_bytes_s(ctx.g_cpu_rate), human_bytes_s(ctx.memcpy_vm), rx(ctx.r_vm),
             human_bytes_s(res.med("markrate", "boehm", mr_param, "live_bytes_per_cpu_s")),
             "%s ms" % num(res.med("markrate", "gcarena", mr_param, "collect_cpu_ms")),
             "%s ms" % num(res.med("markrate", "boehm", mr_param, "collect_cpu_ms")),
             "%s ms" % num(res.med("markrate", "gcarena", mr_param, "empty_collect_cpu_ms")))]
    if nat_param:
        ev.append("natively the core marks %s against memcpy's %s (%s), %s ns per object"
                  % (human_bytes_s(ctx.nat_rate), human_bytes_s(ctx.nat_cp), rx(ctx.r_nat),
                     num(res.med("markrate-native", "gcarena-core", nat_param,
                                 "ns_per_object"))))
    scanned = prof.cgrun.get(("markrate-native", "scanned_bytes"))
    mark_ir = [(ir, wh) for ir, _, wh in prof.cg if is_mark_fn(wh)]
    cmd = prof.cmd.get("callgrind", "mark_native live=4 reps=4")
    reps = int(param_get(cmd.replace(" ", ","), "reps") or 4)
    if mark_ir and scanned:
        words = reps * scanned / 8.0
        ev.append("callgrind (`%s`) counts **%.0f instructions per scanned 8-byte word** "
                  "in the mark path (%s)"
                  % (cmd, sum(ir for ir, _ in mark_ir) / words,
                     ", ".join("`%s` %.1f" % (wh.split(":")[-1], ir / words)
                               for ir, wh in sorted(mark_ir, reverse=True)[:6])))
    mk = [(pc, sym) for pc, sym, _ in prof.perf if is_mark_fn(sym)]
    if mk:
        tot = sum(pc for pc, _ in mk)
        ev.append("perf puts %s of the mark path's samples in `gca_mark_word` + "
                  "`gca_span_of`" % pct(sum(pc for pc, s_ in mk
                                             if s_ in ("gca_mark_word", "gca_span_of")) / tot))
    ctx.item("Mark throughput against memcpy", "; ".join(ev) + ".")


def short_heap(ctx):
    """4. Heap bounds."""
    res, ho_gc = ctx.res, ctx.ho_gc
    if "heap" not in ctx.missed:
        return
    ev, bad, chunk_over, real = [], [], [], []
    for p in ho_gc:
        gcp = int(param_get(p, "gcp"))
        f = 1 + gcp / 100.0
        lm = res.med("heapover", "gcarena", p, "live_mib") or 0
        allowed = 1.1 * f * lm
        hs_ = res.get("heapover", "gcarena", p, "heap_sys_ratio")
        ob = res.get("heapover", "gcarena", p, "heap_sys_over_bound")
        bb = res.get("heapover", "gcarena", p, "heap_backed_over_bound")
        rr = res.get("heapover", "gcarena", p, "rss_ratio")
        ev.append("GOGC=%d: bound %s MiB (+10%%: %s MiB), peak heap_sys %s MiB (worst %s), "
                  "backed / bound %s (worst %s), RSS / bound %s (worst %s)"
                  % (gcp, num(f * lm), num(allowed), num(hs_["median"] * lm),
                     num(hs_["max"] * lm), num(bb and bb["median"]), num(bb and bb["max"]),
                     num(rr["median"] / f), num(rr["max"] / f)))
        over_sys = ob["max"] > 1.10
        over_real = [what for what, v in (("backed", bb and bb["max"]),
                                          ("RSS", rr["max"] / f)) if v and v > 1.10]
        if over_sys or over_real:
            bad.append(str(gcp))
        worst_mib = hs_["max"] * lm
        if over_sys and abs(worst_mib / CHUNK_MIB - round(worst_mib / CHUNK_MIB)) < 0.02 \
                and worst_mib - CHUNK_MIB <= allowed:
            chunk_over.append("GOGC=%d: %s MiB = %d chunks against %s MiB allowed"
                              % (gcp, num(worst_mib), round(worst_mib / CHUNK_MIB),
                                 num(allowed)))
        if over_real:
            real.append("GOGC=%d: %s in the worst of %s runs"
                        % (gcp, " and ".join("%s %s" % (wh, num(v)) for wh, v in
                                             (("backed", bb and bb["max"]),
                                              ("RSS", rr["max"] / f))
                                             if v and v > 1.10 and wh in over_real),
                           rr["n"]))
    derived = []
    floating = []
    for p in ho_gc:
        mr = res.med("heapover", "gcarena", p, "marked_ratio")
        if mr is not None and mr > 1.03:
            floating.append("GOGC=%s: %s" % (param_get(p, "gcp"), rx(mr)))
    if floating:
        derived.append("each mark found more than the live data (heap_marked / live at the "
                       "end of the run, `marked_ratio`: %s)" % "; ".join(floating))
    if chunk_over:
        backed_ok = all((res.med("heapover", "gcarena", p, "heap_backed_over_bound") or 9)
                        <= 1.10 for p in ho_gc)
        derived.append("heap_sys grows by whole %d MiB chunks against a %s MiB live heap, and "
                       "every heap_sys overshoot here is less than one chunk: %s%s"
                       % (CHUNK_MIB, num(res.med("heapover", "gcarena", ho_gc[0], "live_mib")),
                          "; ".join(chunk_over),
                          "; the median runs' backed pages stay within the bound"
                          if backed_ok else ""))
    if real:
        derived.append("in single runs the backed pages or the RSS went over the bound too "
                       "(%s)" % "; ".join(real))
    ctx.item("Peak heap over (1 + GOGC/100) × live + 10%% (GOGC=%s)" % ", ".join(bad),
             "; ".join(ev) + ".", derived)


def short_limit(ctx):
    """5. Memory limit."""
    res, lim_p = ctx.res, ctx.lim_p
    if not ("limit" in ctx.missed and lim_p):
        return
    p = lim_p[0]
    to = res.get("heapover", "gcarena", p, "timed_out")
    timed_out = bool(to and to["max"] > 0)
    base = "live=%sMiB,gcp=%s" % (live_of(p), param_get(p, "gcp"))
    ng, ngb = res.med("heapover", "gcarena", p, "num_gc"), \
        res.med("heapover", "gcarena", base, "num_gc")
    wsl = res.worst("heapover", "gcarena", p, "sys_over_limit")
    derived = []
    frag = res.med("heapover", "gcarena", p, "inspan_free_ratio")
    gom = res.med("heapover", "gcarena", p, "goal_over_marked")
    if timed_out and isnum(ng) and isnum(ngb) and ng > 2 * ngb:
        derived.append("the collector ran %s cycles against %s without a limit, and the run "
                       "hit its deadline" % (num(ng), num(ngb)))
        if frag is not None and gom is not None:
            derived.append("at the end of the run the in-use spans hold free slots worth %s "
                           "of the live heap (`inspan_free_ratio`), and the last goal was %s "
                           "the last mark (`goal_over_marked`: next_gc / heap_marked)"
                           % (pct(frag), rx(gom)))
        else:
            derived.append("this file has no `inspan_free_ratio` or `goal_over_marked`")
    if wsl is not None and wsl > 1.05:
        derived.append("the peak went %s over the limit in the worst run" % pct(wsl - 1))
    ctx.item("A memory limit just above the live heap",
             "with the live heap at %s%% of the limit (`%s`): %s cycles (up to %s), %s of "
             "the replacements done in %s s%s, peak sys / limit %s (worst run %s).  The same "
             "work without a limit (`%s`): %s s, %s cycles."
             % (param_get(p, "limit_pct"), p, num(ng),
                num(res.worst("heapover", "gcarena", p, "num_gc")),
                pct(res.med("heapover", "gcarena", p, "done_fraction")),
                num(res.med("heapover", "gcarena", p, "time_s")),
                " (the deadline)" if timed_out else "",
                num(res.med("heapover", "gcarena", p, "sys_over_limit")), num(wsl), base,
                num(res.med("heapover", "gcarena", base, "time_s")), num(ngb)),
             derived)


def short_runs(ctx):
    """6. Fewer runs than asked."""
    if ctx.vm_min_runs >= 5:
        return
    ctx.item("Fewer runs than the issue asks",
             "%s per case for the VM timings (`rounds: %s`)."
             % (plural(ctx.vm_min_runs, "run"), ctx.meta("rounds")),
             ["the ratios above rest on %s per case, on a host whose load average was %s: "
              "their run-to-run noise is not known"
              % (plural(ctx.vm_min_runs, "run"), ctx.meta("load_during"))])


def write_shortfalls(ctx):
    """An entry per group of targets not met."""
    w = ctx.w
    w("## Targets not met: the figures behind them")
    w()
    w("For each group of targets not met, the figures of this run that bear on it, and what "
      "follows from them by arithmetic alone.  What they mean (the bottlenecks, the "
      "hypotheses, what was tried and the next steps) is in [`ANALYSIS.md`](ANALYSIS.md), "
      "written by hand, which names the run it reads.")
    w()
    for entry in (short_mutator, short_pauses, short_mark, short_heap, short_limit,
                  short_runs):
        entry(ctx)
    if ctx.items == 0:
        w("Every target is met in this run.")
        w()


def write_missing(ctx):
    """The statistics the tables left out."""
    w = ctx.w
    note_missing = sorted(set(ctx.note_missing))
    if note_missing:
        w("## Columns left out")
        w()
        w("These columns had no figure in any row, because this results file does not hold "
          "the statistic (the benchmark binaries of this run did not print it): %s."
          % "; ".join("*%s*" % h for h in note_missing))
        w()


def write_files(ctx):
    w = ctx.w
    w("## Files")
    w()
    w("- `tests/bench/bench.h`: the allocation interface; `backend_{gcarena,boehm,glibc}.c`.")
    w("- `binary_trees.c`, `gcbench.c`, `allocrate.c`, `pauses.c`, `markrate.c`, `heapover.c`, "
      "`memcpy_bw.c` (VM), `mark_native.c` (host).")
    w("- `guest.sh` (the plan, in the VM), `run.sh` (driver), `aggregate.py` (results.tsv), "
      "`report.py` (this file and `plots/`); raw logs in `build/bench/`.")
    w("- [`ANALYSIS.md`](ANALYSIS.md): what the figures mean, written by hand; it names the "
      "run it reads and cites this report and `results.tsv`.")
    w("- To rewrite this report from the committed files without running anything: "
      "`python3 tests/bench/report.py tests/bench/results.tsv tests/bench/native-profile.txt "
      "tests/bench/errors.tsv tests/bench tests/bench/vm-profile.txt`.")
    w()


SECTIONS = (write_setup, write_targets, write_run_itself, write_binary_trees, write_gcbench,
            write_allocrate, write_pauses, write_mark, write_heapover, write_vm_profiles,
            write_shortfalls, write_missing, write_files)


def main(argv):
    if len(argv) not in (5, 6):
        sys.stderr.write(__doc__)
        return 2
    res = Results(argv[1])
    prof = Profile(argv[2])
    vmprof = VMProfile(argv[5] if len(argv) == 6 else None)
    errors = []
    if os.path.exists(argv[3]):
        with open(argv[3], errors="replace") as f:
            errors = [l.rstrip("\n").split("\t") for l in f if l.startswith("E\t")]
    outdir = argv[4]
    plotdir = os.path.join(outdir, "plots")
    os.makedirs(plotdir, exist_ok=True)
    os.makedirs(PLOT_DATA, exist_ok=True)
    ctx = Context(res, prof, vmprof, errors, plotdir)
    for judge in TARGETS:
        judge(ctx)
    for section in SECTIONS:
        section(ctx)
    with open(os.path.join(outdir, "REPORT.md"), "w") as f:
        f.write("\n".join(ctx.rep.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
