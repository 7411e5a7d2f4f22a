"""Render bench/last-run.json (the dict run.py builds) as docs/benchmarks.md."""
import json
import os
import sys

LABELS = {
    "floor-batch": "floor (readdir)",
    "floor-live": "floor (inotify)",
    "seawatchd-once": "**seawatchd --once**",
    "seawatchd-live": "**seawatchd (live)**",
    "python-pool": "Python multiprocessing.Pool",
    "parallel": "GNU parallel -j P",
    "inotifywait-xargs": "inotifywait \\| xargs -P",
    "incron": "incron (no limit on P)",
}
FLOOR_OF = {"seawatchd-once": "floor-batch", "seawatchd-live": "floor-live"}


def cell(t, f="%.0f"):
    if t is None:
        return "—"
    m, lo, hi = t
    if lo == hi:
        return f % m
    return (f + " <sub>" + f + "–" + f + "</sub>") % (m, lo, hi)


def get(d, *keys):
    for k in keys:
        if d is None or k not in d:
            return None
        d = d[k]
    return d


def ratio(a, b):
    if a is None or b is None or b[0] == 0:
        return None
    return a[0] / b[0]


def verdict(ok):
    return "**met**" if ok else "**MISSED**"


def render(R):
    out = []
    w = out.append
    T, S = R["throughput"], R["slow"]
    w("# Benchmarks\n")
    w("Written by `make bench` (bench/run.py); do not edit by hand. Last run: %s, on %s. "
      "Each cell is the median of %d runs, with the range below it; every figure in one "
      "table comes from the same run of the script. Took %.1f minutes.\n"
      % (R["date"], R["machine"], R["runs"], R.get("minutes", 0)))
    if R.get("section_minutes"):
        w("(" + ", ".join("%s %.1f" % kv for kv in R["section_minutes"].items()) + " min.)\n")
    w("Rows are runners in `bench/runners/` with one interface "
      "(`RUNNER batch|live IN DONE FAILED P CMD OUTDIR`); batch rows process a pre-filled "
      "directory and exit, live rows watch it while the driver renames files in as fast as it "
      "can (a probe file goes through first, so start-up is not counted). The command is "
      "`CMD FILE OUTDIR`. CPU is user+system time of the runner's whole process tree "
      "(getrusage of the reaped runner), per file. Rows whose figures a target judges "
      "(floor, seawatchd) get the full number of runs everywhere; Python and xargs get it "
      "at P = 2, where they are compared, and one run elsewhere; GNU parallel and incron "
      "(about a minute per 5000 files) get one run.\n")

    rows = [r for r in LABELS if any(k.startswith(r + "/") for k in T)]
    if T:
        w("## Throughput, trivial command (`#!/bin/sh` / `exit 0`), N = 5000\n")
        w("| runner | P=1 files/s | P=2 files/s | P=4 files/s | CPU ms/file (P=2) | vs floor (P=2) |")
        w("| --- | --- | --- | --- | --- | --- |")
        for r in rows:
            fl = FLOOR_OF.get(r)
            rr = ratio(get(T, r + "/2", "rate"), get(T, fl + "/2", "rate")) if fl else None
            w("| %s | %s | %s | %s | %s | %s |" % (
                LABELS[r], cell(get(T, r + "/1", "rate")), cell(get(T, r + "/2", "rate")),
                cell(get(T, r + "/4", "rate")),
                cell(tuple(x * 1000 for x in get(T, r + "/2", "cpu_per_file")), "%.2f")
                if get(T, r + "/2", "cpu_per_file") else "—",
                "%.2f×" % rr if rr else ""))
        w("")
    if S:
        w("## Throughput, 50 ms command, N = 400 (limit: P / 0.05 s)\n")
        w("| runner | P=2 files/s | of limit (40/s) | P=8 files/s | of limit (160/s) |")
        w("| --- | --- | --- | --- | --- |")
        for r in rows:
            a, b = get(S, r + "/2", "rate"), get(S, r + "/8", "rate")
            w("| %s | %s | %s | %s | %s |" % (LABELS[r], cell(a), "%.2f" % (a[0] / 40) if a else "—",
                                             cell(b), "%.2f" % (b[0] / 160) if b else "—"))
        w("")
    L = R.get("latency") or {}
    if L:
        w("## Latency, rename into the drop → command's first instruction (ms)\n")
        w("300 files dropped 10 ms apart into an idle runner; the command (`bench/cmd.c`, `stamp`) "
          "writes CLOCK_REALTIME as its first act.\n")
        w("| runner | p50 | p99 |")
        w("| --- | --- | --- |")
        for r in LABELS:
            if r in L:
                w("| %s | %s | %s |" % (LABELS[r], cell(L[r]["p50"], "%.2f"), cell(L[r]["p99"], "%.2f")))
        w("")
    M = R.get("memory") or {}
    if M:
        w("## Peak RSS of seawatchd (VmHWM, KiB)\n")
        w("Idle: a live daemon with 2 workers after one file. Backlogs: `seawatchd --once`, "
          "2 workers, on a drop pre-filled with that many files, VmHWM sampled every 50 ms "
          "until it exits (the scaling runs below); queue_size is the default 1024.\n")
        w("| backlog | master | worker (largest) |")
        w("| --- | --- | --- |")
        for n in sorted(M, key=int):
            w("| %s | %s | %s |" % ("idle" if n == "0" else "{:,}".format(int(n)),
                                    cell(M[n]["master_kb"]), cell(M[n]["worker_kb"])))
        w("")
    I = R.get("idle") or {}
    if I:
        w("## Idle: wake-ups per minute\n")
        w("A live runner with 2 workers, one file processed, then a minute with nothing "
          "arriving: the context switches of all its threads and children (each one is the "
          "CPU woken for it). SPEC §9: at most 2 a minute.\n")
        w("| runner | wake-ups per minute |")
        w("| --- | --- |")
        for r in ("floor-live", "seawatchd-live"):
            if r in I:
                w("| %s | %.0f |" % (LABELS[r], I[r]))
        w("")
    SC = R.get("scaling") or {}
    if SC:
        w("## Scaling: `seawatchd --once` on a pre-filled drop, P = 2, trivial stamp command\n")
        w("| backlog | wall s | s per 1000 files | start → first command (ms) |")
        w("| --- | --- | --- | --- |")
        for n in sorted(SC, key=int):
            wall = SC[n]["wall"]
            w("| {:,} | {} | {} | {} |".format(int(n), cell(wall, "%.1f"),
                                              "%.2f" % (wall[0] / int(n) * 1000),
                                              cell(SC[n]["first_ms"], "%.1f")))
        w("")

    PS = R.get("persist") or {}
    if PS:
        w("## Persistent commands: a Python parser, P = 2\n")
        w("`examples/parse-sea.py` parses each file's 8-byte records (64-byte files) and appends "
          "one CSV line: run once per file (exec mode; the Pool + `subprocess.run` script users "
          "write), once per worker fed one path per line (`protocol = \"lines\"`), and "
          "imported into a `multiprocessing.Pool` (no process per file, no daemon: the physical "
          "best for Python). Then the same with a trivial command: `bench/cmd.c` `answer` in "
          "lines mode against the floor running `exit 0` in a shell once per file. seawatchd runs "
          "live, as a service does (files renamed in as fast as the driver can); the Pool "
          "scripts have no live mode and process a pre-filled directory.\n")
        if R.get("persist_date"):
            w("(This table from a run of `--only persist` on %s, merged into the last full run.)\n"
              % R["persist_date"])
        w("| runner | files | files/s | CPU ms per file |")
        w("| --- | --- | --- | --- |")
        names = {"py-exec": "seawatchd (live), exec mode", "py-lines": "**seawatchd (live), lines mode**",
                 "py-lines-warm": "**seawatchd (live), lines mode, second burst**",
                 "py-inproc": "Python Pool, parse in-process", "py-pool-subprocess":
                 "Python Pool + subprocess.run", "lines-trivial":
                 "**seawatchd (live), lines mode, trivial command**",
                 "lines-trivial-warm": "**seawatchd (live), lines mode, trivial command, second burst**",
                 "floor-live": "floor (inotify), exec per file, trivial command",
                 "renames-live": "ceiling: floor (inotify), no command, claim + move to done only"}
        files = {"py-exec": 300, "py-pool-subprocess": 300, "py-lines": 3000, "py-lines-warm": 3000,
                 "py-inproc": 3000, "lines-trivial": 5000, "lines-trivial-warm": 5000,
                 "floor-live": 5000, "renames-live": 5000}
        for r in ("py-exec", "py-pool-subprocess", "py-lines", "py-lines-warm", "py-inproc",
                  "lines-trivial", "lines-trivial-warm", "floor-live", "renames-live"):
            if r in PS:
                cpu = PS[r]["cpu_per_file"]
                w("| %s | %d | %s | %s |" % (names[r], files[r], cell(PS[r]["rate"]),
                                            cell((cpu[0] * 1000, cpu[1] * 1000, cpu[2] * 1000), "%.2f")))
        w("")
        w("A *second burst* is the same daemon's next burst of as many files, after the first "
          "has made its spool's slot directories (CPU per file there is over both bursts). The "
          "*ceiling* does, per file, only the two renames a daemon with a private spool cannot "
          "skip (drop → spool, spool → done), with the driver's renames into the drop competing "
          "for the same file system, as in every live row: no daemon with that guarantee can beat "
          "it on this disk.\n")
        rc, ri, rf = (get(PS, r, "rate") for r in ("renames-live", "py-inproc", "floor-live"))
        if rc and ri and rf:
            w("The ceiling is %.2f× the in-process Pool and %.2f× the floor here: the renames "
              "alone leave room for both lines-mode targets (0.9× and 5×); what the daemon does "
              "besides them is what misses them.\n" % (rc[0] / ri[0], rc[0] / rf[0]))
        w("")

    # ------------------------------------------------------------ targets
    w("## Targets\n")
    w("| target | measured | verdict |")
    w("| --- | --- | --- |")
    tg = []

    def t2(row):
        return get(T, row + "/2", "rate")
    for sw in ("seawatchd-live", "seawatchd-once"):
        r = ratio(t2(sw), t2(FLOOR_OF[sw]))
        if r is not None:
            tg.append(("trivial, P=2: %s ≥ 0.90 × %s" % (sw, FLOOR_OF[sw]), "%.2f×" % r, r >= 0.90))
    for peer, need in (("python-pool", 1.3), ("inotifywait-xargs", 3.0)):
        r = ratio(t2("seawatchd-once" if peer == "python-pool" else "seawatchd-live"), t2(peer))
        if r is not None:
            tg.append(("trivial, P=2: seawatchd ≥ %.1f × %s" % (need, peer), "%.2f×" % r, r >= need))
    for sw in ("seawatchd-live", "seawatchd-once"):
        b = get(S, sw + "/8", "rate")
        if b:
            tg.append(("50 ms, P=8: %s ≥ 0.95 of the P-limit" % sw, "%.3f" % (b[0] / 160), b[0] / 160 >= 0.95))
    if "seawatchd-live" in L and "floor-live" in L:
        r50 = L["seawatchd-live"]["p50"][0] / L["floor-live"]["p50"][0]
        r99 = L["seawatchd-live"]["p99"][0] / L["floor-live"]["p99"][0]
        tg.append(("latency p50 ≤ 1.3 × floor's", "%.2f×" % r50, r50 <= 1.3))
        tg.append(("latency p99 ≤ 2 × floor's", "%.2f×" % r99, r99 <= 2.0))
    for sw in ("seawatchd-live", "seawatchd-once"):
        r = ratio(get(T, sw + "/2", "cpu_per_file"), get(T, FLOOR_OF[sw] + "/2", "cpu_per_file"))
        if r is not None:
            tg.append(("CPU per file (P=2) ≤ 1.15 × %s's" % FLOOR_OF[sw], "%.2f×" % r, r <= 1.15))
    if "100000" in M:
        m100 = M["100000"]["master_kb"][0]
        tg.append(("master peak RSS ≤ 3 MiB at a 100 000-file backlog", "%d KiB" % m100, m100 <= 3072))
        if "1000" in M:
            r = m100 / M["1000"]["master_kb"][0]
            tg.append(("… and within 10% of the 1 000-file figure", "%.3f×" % r, r <= 1.10))
        wk = max(M[n]["worker_kb"][0] for n in M)
        tg.append(("each worker ≤ 1.5 MiB", "%d KiB" % wk, wk <= 1536))
    if "100000" in SC and "10000" in SC:
        r = SC["100000"]["wall"][0] / SC["10000"]["wall"][0]
        tg.append(("100 000-file backlog ≤ 11 × the 10 000-file one", "%.2f×" % r, r <= 11))
        f = SC["100000"]["first_ms"][0]
        tg.append(("first command within 100 ms of start, 100 000 backlog", "%.1f ms" % f, f <= 100))
    def pr(a, b):
        return ratio(get(PS, a, "rate"), get(PS, b, "rate"))
    for a, b, need in (("py-lines", "py-exec", 10.0), ("py-lines", "py-inproc", 0.9),
                       ("py-lines-warm", "py-inproc", 0.9),
                       ("lines-trivial", "floor-live", 5.0), ("lines-trivial-warm", "floor-live", 5.0)):
        r = pr(a, b)
        if r is not None:
            tg.append(("persistent: %s ≥ %.1f × %s" % (a, need, b), "%.2f×" % r, r >= need))
    for name, val, ok in tg:
        w("| %s | %s | %s |" % (name, val, verdict(ok)))
    w("")
    # What the profiles showed and what changed: kept by hand in
    # bench/notes.md, carried into every rewrite of the report.
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")) as f:
            w(f.read())
    except OSError:
        pass
    w("## Re-running a row\n")
    w("```sh")
    w("make bench                                   # everything, rewrites this file")
    w("BENCH_RUNS=1 make bench                      # one run per cell")
    w("python3 bench/run.py --only throughput --rows floor-batch,seawatchd-once")
    w("python3 bench/run.py --only slow --rows seawatchd-live")
    w("python3 bench/run.py --only latency --rows floor-live,seawatchd-live")
    w("python3 bench/run.py --only memory,scaling")
    w("python3 bench/run.py --only persist --merge     # one section, kept with the last run")
    w("```")
    w("(`--only`/`--rows` runs rewrite this file with just those tables: use `--out` to write elsewhere.)\n")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(render(json.load(f)))
