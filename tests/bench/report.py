#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write tests/bench/REPORT.md and its plots from results.tsv.

Usage: report.py RESULTS.tsv PROFILE.txt ERRORS.tsv OUTDIR

RESULTS.tsv is aggregate.py's output; PROFILE.txt holds run.sh's native
profile lines (perf, perf stat, callgrind); ERRORS.tsv the runs that
failed in the VM.  Writes OUTDIR/REPORT.md and OUTDIR/plots/*.png (with
gnuplot; the data files it plots stay in build/bench/plots).

Everything in the report comes from those files: the verdict on each
target of the benchmark issue, the ratios, and the evidence quoted for
the bottlenecks.  Rerun `make bench` to refresh it.
"""
import math
import os
import re
import subprocess
import sys

BACKENDS = ("gcarena", "boehm", "glibc")
ALLOC_SIZES = (16, 64, 256, 4096, 65536)
PLOT_DATA = "build/bench/plots"


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
                key = tuple(p[:4])
                self.rows[key] = {
                    "median": float(p[4]), "min": float(p[5]),
                    "max": float(p[6]), "n": int(p[7]), "unit": p[8]}
                self.order.append(key)

    def get(self, bench, backend, param, stat):
        return self.rows.get((bench, backend, param, stat))

    def med(self, bench, backend, param, stat):
        r = self.get(bench, backend, param, stat)
        return r["median"] if r else None

    def params(self, bench):
        seen = []
        for k in self.order:
            if k[0] == bench and k[2] not in seen:
                seen.append(k[2])
        return seen


def num(x, digits=3):
    if x is None or (isinstance(x, float) and x != x):
        return "–"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000 or a < 0.01:
        if a >= 1e4 or a < 0.01:
            return "%.*g" % (digits, x)
    return ("%.*g" % (digits, x))


def human_bytes_s(x):
    if x is None:
        return "–"
    for unit, div in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if x >= div:
            return "%.3g %s" % (x / div, unit)
    return "%.3g B/s" % x


def cell(r, scale=1.0, fmt=num):
    """median [min–max] of a row."""
    if not r:
        return "–"
    if r["n"] <= 1 or r["min"] == r["max"]:
        return fmt(r["median"] * scale)
    return "%s [%s–%s]" % (fmt(r["median"] * scale), fmt(r["min"] * scale),
                           fmt(r["max"] * scale))


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def rx(x):
    return "–" if x is None else "%.2f×" % x


def param_get(param, key):
    m = re.search(r"(?:^|,)%s=([^,]+)" % re.escape(key), param)
    return m.group(1) if m else None


# --------------------------------------------------------------------------
# native profile

def read_profile(path):
    perf, perfstat, cg, cgrun = [], [], [], {}
    if not os.path.exists(path):
        return perf, perfstat, cg, cgrun
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            kind, _, rest = line.partition("\t")
            if kind == "perf":
                m = re.match(r"\s*([0-9.]+)%\s+\S+\s+(\S+)\s+\[[.k]\]\s+(.*)", rest)
                if m:
                    perf.append((float(m.group(1)), m.group(3).strip(), m.group(2)))
            elif kind == "perfstat":
                perfstat.append(rest.strip())
            elif kind == "callgrind":
                m = re.match(r"\s*([0-9,]+)\s+\(\s*([0-9.]+)%\)\s+(.*)", rest)
                if m:
                    ir = int(m.group(1).replace(",", ""))
                    where = m.group(3).split()[0]
                    cg.append((ir, float(m.group(2)), where))
            elif kind == "callgrind_run":
                p = rest.split("\t")
                if len(p) >= 7:
                    cgrun[p[4]] = float(p[5])
    return perf, perfstat, cg, cgrun


# --------------------------------------------------------------------------
# plots

def gnuplot(script):
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return True
    except (OSError, subprocess.CalledProcessError) as e:
        sys.stderr.write("report: gnuplot failed: %s\n" % e)
        return False


TERM = "set terminal pngcairo size 900,560 font 'Sans,10'\n"
COLORS = {"gcarena": "#1f77b4", "boehm": "#d62728", "glibc": "#2ca02c"}


def plot_binary_trees(res, outdir):
    rows = []
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
            rows.append(d)
    png = os.path.join(outdir, "binary_trees.png")
    plots = []
    for i, b in enumerate(BACKENDS):
        c = 2 + i * 6
        plots.append("'%s' using 1:%d:%d:%d with yerrorlines lw 2 lc rgb '%s' "
                     "title '%s, 1 thread'" % (data, c, c + 1, c + 2, COLORS[b], b))
        plots.append("'%s' using 1:%d:%d:%d with yerrorlines dt 2 lw 2 pt 6 lc rgb '%s' "
                     "title '%s, 2 threads'" % (data, c + 3, c + 4, c + 5, COLORS[b], b))
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
                     % (data, 2 + 2 * i, COLORS[b], b))
        plots.append("'%s' using 1:%d with linespoints dt 2 lw 2 pt 6 lc rgb '%s' "
                     "title '%s, 2 threads'" % (data, 3 + 2 * i, COLORS[b], b))
    ok = gnuplot(TERM + "set output '%s'\n" % png +
                 "set title 'Allocation: ns per allocation per thread (median; lower is better)'\n"
                 "set xlabel 'object size (bytes)'\nset ylabel 'ns per allocation'\n"
                 "set logscale xy\nset key top left\nset grid\n"
                 "set xtics ('16' 16, '64' 64, '256' 256, '4 KiB' 4096, '64 KiB' 65536)\n"
                 "set xrange [10:100000]\n"
                 "plot " + ", \\\n     ".join(plots) + "\n")
    return png if ok else None


def plot_pauses(res, outdir):
    lives = []
    for p in res.params("pauses"):
        m = re.match(r"live=(\d+)MiB", p)
        if m:
            lives.append(int(m.group(1)))
    lives = sorted(set(lives))
    if not lives:
        return None
    data = os.path.join(PLOT_DATA, "pauses.dat")
    with open(data, "w") as f:
        f.write("# idx live gcarena_p50 p99 max boehm_p50 p99 max\n")
        for i, live in enumerate(lives):
            cols = [str(i), str(live)]
            for b in ("gcarena", "boehm"):
                for st in ("pause_p50_ms", "pause_p99_ms", "pause_max_ms"):
                    v = res.med("pauses", b, "live=%dMiB" % live, st)
                    cols.append("%g" % v if v is not None else "NaN")
            f.write(" ".join(cols) + "\n")
    png = os.path.join(outdir, "pauses.png")
    script = (TERM + "set output '%s'\n" % png +
              "set title 'Pauses under a steady mutator: p50 / p99 / max per live heap (lower is better)'\n"
              "set ylabel 'pause (ms)'\nset logscale y\nset grid ytics\n"
              "set style data histogram\nset style histogram cluster gap 1\n"
              "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
              "set key top left\nset xlabel 'live heap (MiB)'\n"
              "plot '%s' using 3:xtic(2) title 'gcarena p50' lc rgb '#9ecae1', "
              "'' using 4 title 'gcarena p99' lc rgb '#3182bd', "
              "'' using 5 title 'gcarena max' lc rgb '#08519c', "
              "'' using 6 title 'Boehm p50' lc rgb '#fcae91', "
              "'' using 7 title 'Boehm p99' lc rgb '#fb6a4a', "
              "'' using 8 title 'Boehm max' lc rgb '#a50f15'\n" % data)
    return png if gnuplot(script) else None


# --------------------------------------------------------------------------
# the report

class Report:
    def __init__(self):
        self.lines = []

    def w(self, s=""):
        self.lines.append(s)

    def table(self, head, rows):
        self.w("| " + " | ".join(head) + " |")
        self.w("|" + "|".join("---" for _ in head) + "|")
        for r in rows:
            self.w("| " + " | ".join(r) + " |")
        self.w()


def verdict(ok):
    if ok is None:
        return "n/a"
    return "**met**" if ok else "**not met**"


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    res = Results(argv[1])
    perf, perfstat, cg, cgrun = read_profile(argv[2])
    errors = []
    if os.path.exists(argv[3]):
        with open(argv[3], errors="replace") as f:
            errors = [l.rstrip("\n").split("\t") for l in f if l.startswith("E\t")]
    outdir = argv[4]
    plotdir = os.path.join(outdir, "plots")
    os.makedirs(plotdir, exist_ok=True)
    os.makedirs(PLOT_DATA, exist_ok=True)
    M = res.meta
    rep = Report()
    w = rep.w

    # ---- collect the figures the targets need ----
    bt_params = res.params("binary-trees")
    bt_depths = sorted({int(param_get(p, "depth")) for p in bt_params if param_get(p, "depth")})
    gb_params = res.params("gcbench")
    targets = []      # (name, measured text, ok)
    notes = {}        # target key -> list of evidence lines

    def time_target(bench, param, label):
        g = res.med(bench, "gcarena", param, "time_s")
        b = res.med(bench, "boehm", param, "time_s")
        c = res.med(bench, "glibc", param, "time_s")
        rb, rc = ratio(g, b), ratio(g, c)
        ok = None if rb is None or rc is None else (rb <= 0.8 and rc <= 1.0)
        targets.append((label,
                        "gcarena %s s, Boehm %s s, glibc %s s: gcarena/Boehm %s, gcarena/glibc %s"
                        % (num(g), num(b), num(c), rx(rb), rx(rc)), ok))
        return ok

    ok_bt = []
    if bt_depths:
        d = bt_depths[-1]
        for t in (1, 2):
            p = "depth=%d,threads=%d" % (d, t)
            if res.get("binary-trees", "gcarena", p, "time_s"):
                ok_bt.append(time_target("binary-trees", p,
                                         "binary-trees depth %d, %d thread%s: ≤ 0.8× Boehm's time and ≤ glibc's"
                                         % (d, t, "s" if t > 1 else "")))
    ok_gb = []
    for p in gb_params:
        ok_gb.append(time_target("gcbench", p, "GCBench %s: ≤ 0.8× Boehm's time and ≤ glibc's" % p))

    alloc_small = []
    for t in (1, 2):
        parts, oks = [], []
        for s in (16, 64, 256):
            p = "size=%d,threads=%d" % (s, t)
            g = res.med("allocrate", "gcarena", p, "ns_per_alloc")
            b = res.med("allocrate", "boehm", p, "ns_per_alloc")
            r = ratio(b, g)
            parts.append("%d B: %s" % (s, rx(r)))
            oks.append(None if r is None else r >= 1.5)
        ok = None if None in oks else all(oks)
        alloc_small.append(ok)
        targets.append(("Allocation rate ≤ 256 B, %d thread%s: ≥ 1.5× Boehm's (Boehm ns / gcarena ns)"
                        % (t, "s" if t > 1 else ""), ", ".join(parts), ok))

    live_sizes = sorted({int(re.match(r"live=(\d+)", p).group(1)) for p in res.params("pauses")
                         if re.match(r"live=(\d+)", p)})
    ok_p99 = ok_max = None
    if live_sizes:
        big, small = "live=%dMiB" % live_sizes[-1], "live=%dMiB" % live_sizes[0]
        g99 = res.med("pauses", "gcarena", big, "pause_p99_ms")
        b99 = res.med("pauses", "boehm", big, "pause_p99_ms")
        r = ratio(g99, b99)
        ok_p99 = None if r is None else r <= 0.05
        targets.append(("p99 pause at %d MiB ≤ 1/20 of Boehm's" % live_sizes[-1],
                        "gcarena %s ms, Boehm %s ms: ratio %s (target ≤ 0.05×)"
                        % (num(g99), num(b99), rx(r)), ok_p99))
        gmax_b = res.med("pauses", "gcarena", big, "pause_max_ms")
        gmax_s = res.med("pauses", "gcarena", small, "pause_max_ms")
        r2 = ratio(gmax_b, gmax_s)
        ok_max = None if r2 is None else r2 <= 2.0
        targets.append(("max pause at %d MiB ≤ 2× max at %d MiB" % (live_sizes[-1], live_sizes[0]),
                        "gcarena %s ms vs %s ms: %s" % (num(gmax_b), num(gmax_s), rx(r2)), ok_max))

    mr_param = (res.params("markrate") or [None])[0]
    memcpy_vm = None
    for p in res.params("memcpy"):
        memcpy_vm = res.med("memcpy", "none", p, "bytes_per_s")
    g_cpu_rate = res.med("markrate", "gcarena", mr_param, "live_bytes_per_cpu_s") if mr_param else None
    r_vm = ratio(g_cpu_rate, memcpy_vm)
    ok_mark_vm = None if r_vm is None else r_vm >= 0.5
    targets.append(("Mark throughput in the VM ≥ ½ memcpy",
                    "gcarena %s per CPU-second of collection vs memcpy %s: %s"
                    % (human_bytes_s(g_cpu_rate), human_bytes_s(memcpy_vm), rx(r_vm)), ok_mark_vm))
    nat_param = (res.params("markrate-native") or [None])[0]
    nat_rate = res.med("markrate-native", "gcarena-core", nat_param, "marked_bytes_per_s") if nat_param else None
    nat_cp = res.med("memcpy-native", "none", nat_param, "bytes_per_s") if nat_param else None
    r_nat = ratio(nat_rate, nat_cp)
    ok_mark_nat = None if r_nat is None else r_nat >= 0.5
    targets.append(("Mark throughput natively (GC core in userspace) ≥ ½ memcpy",
                    "%s vs memcpy %s: %s" % (human_bytes_s(nat_rate), human_bytes_s(nat_cp), rx(r_nat)),
                    ok_mark_nat))

    ho_rows = [p for p in res.params("heapover")]
    ok_heap = []
    for p in ho_rows:
        g = res.get("heapover", "gcarena", p, "heap_sys_over_bound")
        if not g or param_get(p, "limit_pct"):
            continue
        gcp = param_get(p, "gcp")
        ok = g["max"] <= 1.10
        ok_heap.append(ok)
        targets.append(("Peak heap_sys ≤ (1 + GOGC/100) × live + 10%%, GOGC=%s" % gcp,
                        "peak heap_sys / ((1+GOGC/100)·live) = %s (worst run %s; target ≤ 1.10); "
                        "peak RSS / live %s" % (num(g["median"]), num(g["max"]),
                                                 num(res.med("heapover", "gcarena", p, "rss_ratio"))),
                        ok))
    ok_limit = None
    for p in ho_rows:
        if not param_get(p, "limit_pct"):
            continue
        g = res.get("heapover", "gcarena", p, "sys_over_limit")
        to = res.get("heapover", "gcarena", p, "timed_out")
        if not g:
            continue
        timed_out = to and to["max"] > 0
        ok_limit = g["max"] <= 1.05 and not timed_out
        done = res.med("heapover", "gcarena", p, "done_fraction")
        targets.append(("With a memory limit (live 20%% under it): peak ≤ 1.05 × limit",
                        "peak sys / limit = %s (worst %s), peak RSS / limit %s%s"
                        % (num(g["median"]), num(g["max"]),
                           num(res.med("heapover", "gcarena", p, "rss_over_limit")),
                           "; **did not finish**: %d%% of the replacements done in the time allowed"
                           % round(100 * (done or 0)) if timed_out else ""),
                        ok_limit))

    # ---- header ----
    w("# gcarena benchmarks: gcarena vs Boehm GC vs glibc malloc")
    w()
    w("Generated by `make bench` (`tests/bench/run.sh` → `aggregate.py` → `report.py`) "
      "from [`results.tsv`](results.tsv); do not edit by hand, rerun it.  "
      "Run of **%s**." % M.get("date", "?"))
    w()
    w("## Setup")
    w()
    w("- **Machine**: %s, %s cores, %s GiB, host kernel %s (virtualisation: %s).  "
      "The machine is shared: other engineers' VMs and a kernel build ran at the same time."
      % (M.get("host_cpu_model", "?"), M.get("host_cpus", "?"), M.get("host_mem_gib", "?"),
         M.get("host_kernel", "?"), M.get("host_virt", "?")))
    w("- **Load**: 1-minute load average %s at the start, %s at the end; during the VM run %s; "
      "qemu processes on the host: %s at the start, %s at the end."
      % (M.get("load_start", "?"), M.get("load_end", "?"), M.get("load_during", "?"),
         M.get("host_vms_running", "?"), M.get("host_vms_running_end", "?")))
    w("- **Accelerator**: **%s** (software emulation; no KVM): %s, %s, guest kernel %s, "
      "guest CPU \"%s\".  Every timing below is emulated: compare backends with each other, "
      "not with native figures." % (M.get("accel", "tcg").upper(), M.get("qemu", "?"),
                                     M.get("vm", "?"), M.get("guest_kernel", "?"),
                                     M.get("guest_cpu_model", "?")))
    w("- **Backends** (every benchmark is one source file written against `tests/bench/bench.h`, "
      "linked statically with each):")
    for b in BACKENDS:
        w("  - `%s`: %s" % (b, M.get("backend_%s" % b, "?")))
    w("  - Debian's `libgc.a` (libgc-dev %s) is built with `--enable-threads=posix`, which in 8.x "
      "turns on thread-local allocation (`GC_init_thread_local` is in the archive) and parallel "
      "marking (`GC_start_mark_threads_inner`); at run time it starts one extra marker thread "
      "on the VM's 2 CPUs.  The benchmarks define `GC_THREADS`, call `GC_INIT`, and register "
      "threads with `GC_allow_register_threads`/`GC_register_my_thread`."
      % M.get("libgc", "?"))
    w("- **Source**: gcarena commit %s (%s), %s; glibc %s.  The VM run took %s s."
      % (M.get("git_commit", "?"), M.get("git_dirty", "?"), M.get("cc", "?"),
         M.get("glibc", "?"), M.get("vm_seconds", "?")))
    w("- **Method**: one VM boot; each case runs its backends in rounds, interleaved, the order "
      "rotated every round (A B C, B C A, C A B, ...; the first program of a round runs slower); "
      "%s rounds for timings (3 for the heap-overhead ratios and the 256 MiB pause case, whose "
      "pauses are pooled).  Figures are **median [min–max]** over the rounds.  Ratios are "
      "*other / gcarena* of the same figure: above 1 means gcarena is faster (times) or uses "
      "less." % M.get("rounds", "5"))
    if errors:
        w("- **Failed runs** (%d): %s" % (len(errors), "; ".join(
            "`%s` (%s)" % (e[1], e[2]) for e in errors[:10])))
    w()

    # ---- targets ----
    w("## Targets of the issue")
    w()
    rep.table(["target", "measured (medians)", "verdict"],
              [[t[0], t[1], verdict(t[2])] for t in targets])

    # ---- binary-trees ----
    w("## binary-trees")
    w()
    w("Benchmarks Game algorithm (`binary_trees.c`): stretch tree of depth max+1, a long-lived "
      "tree of depth max, then 2^(max−d+4) trees of each depth d = 4, 6, …, max, built, "
      "checked and dropped (glibc frees them).  16-byte nodes.  With 2 threads the "
      "iterations of each depth are split.")
    w()
    png = plot_binary_trees(res, plotdir)
    rows = []
    for p in bt_params:
        g = res.get("binary-trees", "gcarena", p, "time_s")
        b = res.get("binary-trees", "boehm", p, "time_s")
        c = res.get("binary-trees", "glibc", p, "time_s")
        rows.append([p.replace(",", ", "), cell(g), cell(b), cell(c),
                     rx(ratio(b and b["median"], g and g["median"])),
                     rx(ratio(c and c["median"], g and g["median"])),
                     "%s / %s" % (num(res.med("binary-trees", "gcarena", p, "num_gc")),
                                  num(res.med("binary-trees", "boehm", p, "num_gc"))),
                     num(res.med("binary-trees", "gcarena", p, "pause_total_ms"))])
    rep.table(["case", "gcarena (s)", "Boehm (s)", "glibc (s)", "Boehm/gcarena",
               "glibc/gcarena", "cycles gcarena / Boehm", "gcarena pause total (ms)"], rows)
    if png:
        w("![binary-trees time per depth](plots/%s)" % os.path.basename(png))
        w()

    # ---- GCBench ----
    w("## GCBench")
    w()
    w("Ellis, Kovac and Boehm's GCBench (`gcbench.c`): a long-lived tree and an array of "
      "500000 doubles (pointer-free) kept alive, a stretch tree, then trees of depth 4…max "
      "built top-down (`Populate`) and bottom-up (`MakeTree`).  The VM runs a smaller max "
      "depth than the original 16 (long-lived depth = max, stretch = max+2).")
    w()
    rows = []
    for p in gb_params:
        g = res.get("gcbench", "gcarena", p, "time_s")
        b = res.get("gcbench", "boehm", p, "time_s")
        c = res.get("gcbench", "glibc", p, "time_s")
        rows.append([p, cell(g), cell(b), cell(c),
                     rx(ratio(b and b["median"], g and g["median"])),
                     rx(ratio(c and c["median"], g and g["median"])),
                     "%s / %s" % (num(res.med("gcbench", "gcarena", p, "num_gc")),
                                  num(res.med("gcbench", "boehm", p, "num_gc")))])
    rep.table(["case", "gcarena (s)", "Boehm (s)", "glibc (s)", "Boehm/gcarena",
               "glibc/gcarena", "cycles gcarena / Boehm"], rows)

    # ---- allocation rate ----
    w("## Allocation rate")
    w()
    w("`allocrate.c`: each thread allocates objects of one size (zeroed, may hold pointers: "
      "`gca_alloc`, `GC_MALLOC`, `calloc`), writes their first and last word and keeps the "
      "last 64 (glibc frees the one it drops).  ns per allocation = wall time / allocations "
      "per thread, so perfect scaling keeps the 2-thread figure equal to the 1-thread one.  "
      "The live heap is tiny: the collectors' share is many cheap cycles.")
    w()
    png = plot_allocrate(res, plotdir)
    rows = []
    for t in (1, 2):
        for s in ALLOC_SIZES:
            p = "size=%d,threads=%d" % (s, t)
            g = res.get("allocrate", "gcarena", p, "ns_per_alloc")
            b = res.get("allocrate", "boehm", p, "ns_per_alloc")
            c = res.get("allocrate", "glibc", p, "ns_per_alloc")
            if not (g or b or c):
                continue
            rows.append(["%d B, %d thr" % (s, t), cell(g), cell(b), cell(c),
                         rx(ratio(b and b["median"], g and g["median"])),
                         rx(ratio(c and c["median"], g and g["median"])),
                         num(res.med("allocrate", "gcarena", p, "num_gc"))])
    rep.table(["size, threads", "gcarena (ns)", "Boehm (ns)", "glibc (ns)",
               "Boehm/gcarena", "glibc/gcarena", "gcarena cycles"], rows)
    if png:
        w("![allocation rate per size](plots/%s)" % os.path.basename(png))
        w()

    # ---- pauses ----
    w("## Pauses")
    w()
    w("`pauses.c`: a live heap of LIVE bytes (a table of 1 KiB units: a 512-byte record "
      "pointing to two 256-byte leaves, all scanned) is built, then units are replaced at "
      "random until VOLUME × LIVE bytes were allocated.  Every pause of that phase is "
      "recorded: gcarena's from its pause ring (`gca_read_memstats` after each cycle: the "
      "longest pause of the cycle, as the module defines it), Boehm's from its collection "
      "events (`GC_EVENT_PRE_STOP_WORLD` → `GC_EVENT_POST_START_WORLD`; its sweep is lazy).  "
      "Pauses are pooled over the rounds; the range is that of the per-round percentile.  "
      "*max stall* is the longest gap the mutator itself saw between two batches of 8 "
      "replacements (collector or not: on a loaded TCG host glibc shows stalls too).")
    w()
    png = plot_pauses(res, plotdir)
    rows = []
    for live in live_sizes:
        p = "live=%dMiB" % live
        for b in BACKENDS:
            if not res.get("pauses", b, p, "step_ns"):
                continue
            th = ""
            if res.get("pauses", b, p, "thread_pause_p99_ns"):
                th = "%s / %s / %s (%s)" % (
                    num(res.med("pauses", b, p, "thread_pause_p50_ns") / 1e6),
                    num(res.med("pauses", b, p, "thread_pause_p99_ns") / 1e6),
                    num(res.med("pauses", b, p, "thread_pause_max_ns") / 1e6),
                    num(res.med("pauses", b, p, "thread_pauses")))
            rows.append(["%d MiB" % live, b,
                         cell(res.get("pauses", b, p, "pause_p50_ms")),
                         cell(res.get("pauses", b, p, "pause_p99_ms")),
                         cell(res.get("pauses", b, p, "pause_max_ms")),
                         num(res.med("pauses", b, p, "pause_count")),
                         th or "–",
                         cell(res.get("pauses", b, p, "max_stall_ms")),
                         cell(res.get("pauses", b, p, "step_ns"))])
    rep.table(["live", "backend", "p50 (ms)", "p99 (ms)", "max (ms)", "pauses/run",
               "every thread pause p50/p99/max ms (count; log2 buckets, upper bound)",
               "max stall (ms)", "ns per replacement"], rows)
    rows = []
    for live in live_sizes:
        p = "live=%dMiB" % live
        rows.append(["%d MiB" % live] + [
            rx(ratio(res.med("pauses", "boehm", p, st), res.med("pauses", "gcarena", p, st)))
            for st in ("pause_p50_ms", "pause_p99_ms", "pause_max_ms")])
    w("Ratios Boehm/gcarena (above 1: gcarena pauses are shorter):")
    w()
    rep.table(["live", "p50", "p99", "max"], rows)
    if png:
        w("![pause percentiles per heap size](plots/%s)" % os.path.basename(png))
        w()

    # ---- mark throughput ----
    w("## Mark throughput")
    w()
    w("In the VM (`markrate.c`): a pointer-dense heap (the units of `pauses.c`, 256-byte "
      "units) of %s, then forced full collections (`gca_collect`, `GC_gcollect`), each timed: "
      "the pause, the call's wall time, and the CPU time of the collection (the process's "
      "own plus, for gcarena, its kernel thread `gcarena/ID`, from `/proc/PID/schedstat`).  "
      "The same with an empty heap gives a cycle's fixed cost.  memcpy bandwidth "
      "(`memcpy_bw.c`) is measured in the same rounds." % (mr_param or "?").replace("live=", ""))
    w()
    rows = []
    live_bytes = None
    if mr_param:
        m = re.match(r"live=(\d+)MiB", mr_param)
        live_bytes = int(m.group(1)) * 1048576 * (1 + 8 / 256.0) if m else None
        for b in ("gcarena", "boehm"):
            call = res.med("markrate", b, mr_param, "collect_call_ms")
            rows.append([b, cell(res.get("markrate", b, mr_param, "pause_ms")),
                         cell(res.get("markrate", b, mr_param, "collect_call_ms")),
                         cell(res.get("markrate", b, mr_param, "collect_cpu_ms")),
                         cell(res.get("markrate", b, mr_param, "empty_collect_call_ms")),
                         human_bytes_s(res.med("markrate", b, mr_param, "live_bytes_per_cpu_s")),
                         human_bytes_s(live_bytes / (call / 1e3)) if call and live_bytes else "–",
                         rx(ratio(res.med("markrate", b, mr_param, "live_bytes_per_cpu_s"),
                                  memcpy_vm))])
    rep.table(["backend", "pause (ms)", "collect call (ms)", "collection CPU (ms)",
               "empty-heap call (ms)", "live bytes per CPU-s", "live bytes per s of call",
               "CPU rate / memcpy"], rows)
    w("memcpy in the VM: %s (median of the rounds)." % human_bytes_s(memcpy_vm))
    w()
    w("Natively (`mark_native.c`, on the host, not in the VM): the GC core (`kmod/gca_*.c`) "
      "built as userspace code through `tests/unit`'s host, `-O2`, no sanitizers; the same "
      "heap shape built with the core's own allocation paths, then `gca_mark_begin` + "
      "`gca_mark_drain` from the table's address, and a `gca_sweep` that frees nothing.")
    w()
    if nat_param:
        rows = [[nat_param,
                 cell(res.get("markrate-native", "gcarena-core", nat_param, "mark_ms")),
                 cell(res.get("markrate-native", "gcarena-core", nat_param, "drain_ms")),
                 cell(res.get("markrate-native", "gcarena-core", nat_param, "sweep_ms")),
                 human_bytes_s(nat_rate),
                 cell(res.get("markrate-native", "gcarena-core", nat_param, "ns_per_object")),
                 human_bytes_s(nat_cp), rx(r_nat)]]
        rep.table(["heap", "mark (ms)", "of which drain (ms)", "sweep (ms)", "marked B/s",
                   "ns per object", "memcpy", "mark / memcpy"], rows)

    # ---- heap overhead ----
    w("## Heap overhead")
    w()
    w("`heapover.c`: a live heap (units of 256 bytes: sizes that are exact size classes) "
      "churned by random replacement (4 × live allocated), heap figures sampled every 256 "
      "replacements, RSS every 1024.  Peaks over the live bytes.  gcarena's `heap_sys` is "
      "Go's HeapSys (address space the heap grew to, in 4 MiB chunks), *backed* is HeapSys − "
      "HeapReleased, *sys* adds the kernel's metadata.  Boehm: `GC_get_prof_stats` heap size "
      "(default `GC_free_space_divisor` 3); glibc: `mallinfo2` arena + mmap.")
    w()
    rows = []
    for p in ho_rows:
        for b in BACKENDS:
            if not res.get("heapover", b, p, "heap_sys_ratio"):
                continue
            to = res.get("heapover", b, p, "timed_out")
            rows.append([p.replace(",", ", "), b,
                         cell(res.get("heapover", b, p, "heap_sys_ratio")),
                         cell(res.get("heapover", b, p, "heap_backed_ratio")),
                         cell(res.get("heapover", b, p, "sys_ratio")),
                         cell(res.get("heapover", b, p, "rss_ratio")),
                         cell(res.get("heapover", b, p, "heap_sys_over_bound")),
                         cell(res.get("heapover", b, p, "sys_over_limit")),
                         num(res.med("heapover", b, p, "num_gc")),
                         ("yes (%d%% done)" % round(100 * (res.med("heapover", b, p, "done_fraction") or 0)))
                         if to and to["max"] > 0 else "no"])
    rep.table(["case", "backend", "heap_sys / live", "backed / live", "sys / live",
               "RSS / live", "heap_sys / bound", "sys / limit", "cycles", "timed out"], rows)

    # ---- bottlenecks ----
    w("## Where gcarena falls short: measured bottlenecks and next steps")
    w()
    n = 0

    def item(title, body):
        nonlocal n
        n += 1
        w("%d. **%s** %s" % (n, title, body))
        w()

    # Mark throughput: native profile, callgrind, VM split.
    if ok_mark_nat is False or ok_mark_vm is False or ok_p99 is False:
        ev = []
        if perf:
            top = ", ".join("`%s` %.0f%%" % (sym, pc) for pc, sym, _ in perf[:6])
            ev.append("perf (cpu-clock samples of `mark_native live=64 reps=20`, build phase "
                      "included): %s" % top)
        mark_ir = [(ir, where) for ir, _, where in cg
                   if "gca_mark.c:" in where or where.endswith(":gca_span_of")
                   or where.endswith(":ua_map")]
        scanned = cgrun.get("scanned_bytes")
        if mark_ir and scanned:
            reps = 4
            words = reps * scanned / 8.0
            tot = sum(ir for ir, _ in mark_ir)
            parts = ", ".join("`%s` %.1f" % (wh.split(":")[-1], ir / words)
                              for ir, wh in sorted(mark_ir, reverse=True)[:5])
            ev.append("callgrind (`mark_native live=4 reps=4`): **%.0f instructions per scanned "
                      "8-byte word** in the mark functions (%s per word)" % (tot / words, parts))
        ns_obj = res.med("markrate-native", "gcarena-core", nat_param, "ns_per_object") if nat_param else None
        if ns_obj:
            ev.append("%.0f ns per marked object natively" % ns_obj)
        if mr_param:
            ccpu = res.med("markrate", "gcarena", mr_param, "collect_cpu_ms")
            ccall = res.med("markrate", "gcarena", mr_param, "collect_call_ms")
            bcpu = res.med("markrate", "boehm", mr_param, "collect_cpu_ms")
            ecall = res.med("markrate", "gcarena", mr_param, "empty_collect_call_ms")
            ev.append("in the VM a forced cycle over %s costs gcarena %s ms of CPU (%s ms of wall "
                      "time, %s ms with an empty heap) against Boehm's %s ms"
                      % (mr_param.replace("live=", ""), num(ccpu), num(ccall), num(ecall), num(bcpu)))
        item("Marking is instruction-bound in the per-word path.",
             "Mark throughput is %s of memcpy natively and %s in the VM.  Evidence: %s.  "
             "Every word of a scanned object goes through `gca_scan_range` → `gca_mark_word` "
             "(an out-of-line call) → `gca_span_of` (another call, into `gca_pageheap.c`), "
             "and `ops->map()` is an indirect call per 4 KiB; the common case, a word that is "
             "not a heap pointer, pays all of it.  *Next step*: in `gca_scan_range`, reject "
             "non-pointers inline with one unsigned compare against the grown heap "
             "(`word - user_base < grown_pages << PAGE_SHIFT`) before any call; make "
             "`gca_span_of` a `static inline` in `gca_core.h`; prefetch the object of a "
             "queued entry at push time (Go's and Boehm's mark loops both do); map the heap "
             "once per span rather than per 4 KiB page; then compare with Boehm's %s per "
             "CPU-second here." % (rx(r_nat), rx(r_vm), "; ".join(ev) or "see the tables",
                                   human_bytes_s(res.med("markrate", "boehm", mr_param,
                                                         "live_bytes_per_cpu_s"))
                                   if mr_param else "–"))

    # Allocation.
    if alloc_small and False in alloc_small:
        rows_ev = []
        for s in ALLOC_SIZES:
            p = "size=%d,threads=1" % s
            g = res.med("allocrate", "gcarena", p, "ns_per_alloc")
            b = res.med("allocrate", "boehm", p, "ns_per_alloc")
            if g is None:
                continue
            per_span = ("%d objects per 8 KiB span refill" % (8192 // s)) if s <= 32768 \
                else "one `GCA_IOC_ALLOC_LARGE` ioctl per object"
            rows_ev.append("%d B: %s ns vs Boehm %s ns (%s)" % (s, num(g), num(b), per_span))
        item("Small allocations are slower than Boehm's thread-local free lists.",
             "%s.  The fast path (`gca_malloc`) does a TLS lookup of the thread cache, the "
             "safepoint check on the control page, a size-class table lookup and a bitmap "
             "search per object, and zeroes the object when the span is reused "
             "(`needzero`); every 8 KiB of objects costs a `GCA_IOC_REFILL` system call, which "
             "is expensive under TCG; with a tiny live heap a cycle (and a handshake per "
             "thread) comes every 4 MiB (`GCA_HEAP_MINIMUM`).  *Next step*: profile the "
             "library fast path in userspace against a mock refill (it needs no kernel), "
             "keep Go's `nextFreeFast` (a 64-bit `allocCache` shifted per object instead of "
             "the word search), refill with several spans per ioctl for small classes, and "
             "zero whole spans at refill time in the kernel (fresh pages are already zero)."
             % "; ".join(rows_ev))

    if ok_bt and False in ok_bt or ok_gb and False in ok_gb:
        p = "depth=%d,threads=1" % bt_depths[-1] if bt_depths else None
        ev = ""
        if p:
            ev = ("at %s gcarena ran %s cycles (Boehm %s) with %s ms of pauses in total, "
                  "wall %s s vs process CPU %s s"
                  % (p, num(res.med("binary-trees", "gcarena", p, "num_gc")),
                     num(res.med("binary-trees", "boehm", p, "num_gc")),
                     num(res.med("binary-trees", "gcarena", p, "pause_total_ms")),
                     num(res.med("binary-trees", "gcarena", p, "time_s")),
                     num(res.med("binary-trees", "gcarena", p, "cpu_s"))))
        item("binary-trees and GCBench are allocation-bound.",
             "Both allocate 16–32-byte nodes at a high rate and keep a small live heap, so "
             "they follow the small-size allocation figures above and the cost of each cycle: "
             "%s.  *Next step*: the allocation fast path and refill batching above; then a "
             "cheaper handshake for threads that hold no stale cache." % ev)

    if ok_p99 is False or ok_max is False:
        big = "live=%dMiB" % live_sizes[-1]
        item("Pauses.",
             "At %s gcarena's p99 is %s ms against Boehm's %s ms (every-thread pauses: p99 "
             "%s ms).  Under TCG on a loaded 2-core host, time slices of the vCPU threads "
             "themselves reach tens of ms (glibc's max stall at 16 MiB: %s ms), which bounds "
             "what can be shown here.  *Next step*: make each pause independent of the heap "
             "(stack scan only, bounded mark-termination work), check the p99 with "
             "`GCA_DEBUG_CHECKMARK` off on an idle host or with KVM."
             % (big, num(res.med("pauses", "gcarena", big, "pause_p99_ms")),
                num(res.med("pauses", "boehm", big, "pause_p99_ms")),
                num((res.med("pauses", "gcarena", big, "thread_pause_p99_ns") or 0) / 1e6),
                num(res.med("pauses", "glibc", "live=%dMiB" % live_sizes[0], "max_stall_ms"))))

    if ok_heap and False in ok_heap:
        bad = [p for p in ho_rows if not param_get(p, "limit_pct")
               and res.get("heapover", "gcarena", p, "heap_sys_over_bound")
               and res.get("heapover", "gcarena", p, "heap_sys_over_bound")["max"] > 1.10]
        item("Heap overshoot at low GOGC.",
             "Over the bound in: %s.  The heap grows in 4 MiB chunks (`GCA_CHUNK_PAGES`), "
             "which at a 16 MiB live heap is 12%% of live by itself, and with concurrent marking "
             "the mutator keeps allocating between the trigger and the end of the mark.  "
             "*Next step*: count `heap_sys` by backed pages rather than grown chunks (Go "
             "reports HeapSys − HeapReleased as the footprint), and pace the trigger so that "
             "the mark ends at the goal (Go's trigger ratio), checked at GOGC=50."
             % ", ".join("`%s` (%s)" % (p, num(res.get("heapover", "gcarena", p,
                                                          "heap_sys_over_bound")["max"]))
                         for p in bad))

    if ok_limit is False:
        p = [q for q in ho_rows if param_get(q, "limit_pct")][0]
        item("The memory limit makes gcarena thrash.",
             "With the live heap at 80%% of the limit (`%s`) the run %s: %s cycles, %s%% of "
             "the replacements done, peak sys / limit %s.  Go avoids the death spiral with a "
             "GC CPU limiter (at most 50%% of CPU to the collector, letting the heap exceed "
             "the goal); gcarena has none, so every span refill past the goal starts a cycle.  "
             "*Next step*: Go's gcCPULimiter (mgclimit.go) in the pacer, and the goal "
             "computed without the in-span fragmentation that pushes it below the live heap."
             % (p, "did not finish in its 60 s" if (res.get("heapover", "gcarena", p, "timed_out") or
                                                      {"max": 0})["max"] > 0 else "finished",
                num(res.med("heapover", "gcarena", p, "num_gc")),
                round(100 * (res.med("heapover", "gcarena", p, "done_fraction") or 0)),
                num(res.med("heapover", "gcarena", p, "sys_over_limit"))))

    if n == 0:
        w("Every target is met in this run.")
        w()
    if perfstat:
        w("Native profile, `perf stat` (only software counters are available on this host): "
          + "; ".join("`%s`" % s for s in perfstat))
        w()

    w("## Files")
    w()
    w("- `tests/bench/bench.h`: the allocation interface; `backend_{gcarena,boehm,glibc}.c`.")
    w("- `binary_trees.c`, `gcbench.c`, `allocrate.c`, `pauses.c`, `markrate.c`, `heapover.c`, "
      "`memcpy_bw.c` (VM), `mark_native.c` (host).")
    w("- `guest.sh` (the plan, in the VM), `run.sh` (driver), `aggregate.py` (results.tsv), "
      "`report.py` (this file and `plots/`); raw logs in `build/bench/`.")
    w()

    with open(os.path.join(outdir, "REPORT.md"), "w") as f:
        f.write("\n".join(rep.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
