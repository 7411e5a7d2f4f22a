#!/usr/bin/env python3
"""seawatch benchmarks: seawatchd side by side with the floor and the peers.

Every row is a runner (bench/runners/NAME MODE IN DONE FAILED P CMD OUTDIR)
measured the same way in one run of this script; every seawatchd figure is
also given as a ratio of the floor's figure from the same run.  Results go to
docs/benchmarks.md (rewritten) and bench/last-run.json.

    make bench                      # everything (~15 min on 2 cores)
    BENCH_RUNS=1 make bench         # one run per cell (quick look)
    python3 bench/run.py --only throughput,latency
    python3 bench/run.py --only persist --merge   # one section, into the last run
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
RUNNERS = os.path.join(TOP, "bench", "runners")
BIN = os.path.join(BUILD, "bench")

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
# Backlogs of the scaling runs (BENCH_SCALING=1000,5000 for a quick look).
SCALING_NS = [int(x) for x in os.environ.get("BENCH_SCALING", "1000,10000,100000").split(",")]
OUT_BASE = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()

# name: (runner, mode, label)
ROWS = {
    "floor-batch": ("floor", "batch", "floor (readdir)"),
    "floor-live": ("floor", "live", "floor (inotify)"),
    "seawatchd-once": ("seawatchd", "batch", "seawatchd --once"),
    "seawatchd-live": ("seawatchd", "live", "seawatchd (live)"),
    "python-pool": ("python-pool", "batch", "Python multiprocessing.Pool"),
    "parallel": ("parallel", "batch", "GNU parallel -j P"),
    "inotifywait-xargs": ("inotifywait-xargs", "live", "inotifywait | xargs -P"),
    "incron": ("incron", "live", "incron (no limit on P)"),
}
# Persistent commands (SPEC §10): a Python parser of .sea files
# (examples/parse-sea.py), and a trivial command; name: (runner, mode,
# label, environment of the runner).
# seawatchd runs live (as a service does); the Pool scripts have no live mode.
PERSIST_ROWS = {
    "py-exec": ("seawatchd", "live", "seawatchd, exec mode", {}),
    "py-lines": ("seawatchd", "live", "seawatchd, lines mode", {"SW_PROTOCOL": "lines"}),
    "py-inproc": ("python-inproc", "batch", "Python Pool, parse in-process", {}),
    "py-pool-subprocess": ("python-pool", "batch", "Python Pool + subprocess.run", {}),
    "lines-trivial": ("seawatchd", "live", "seawatchd, lines mode, trivial command",
                      {"SW_PROTOCOL": "lines"}),
    # The same daemon's second burst: its spool's slot directories made by
    # the first (a service's steady state; the first burst after a start
    # makes up to queue_size of them).
    "py-lines-warm": ("seawatchd", "live", "seawatchd, lines mode, second burst",
                      {"SW_PROTOCOL": "lines"}),
    "lines-trivial-warm": ("seawatchd", "live", "seawatchd, lines mode, trivial, second burst",
                           {"SW_PROTOCOL": "lines"}),
    # No command: each file claimed into a spool and moved to done, nothing
    # else -- the ceiling of a daemon with a private spool on this disk.
    "renames-live": ("floor", "live", "the two renames alone (ceiling)", {"FLOOR_RENAMES": "1"}),
}


def now():
    return time.monotonic()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def runner_path(name):
    if name == "floor":
        return os.path.join(RUNNERS, "floor")
    return os.path.join(RUNNERS, name)


class World:
    """A temporary IN/DONE/FAILED/OUT tree plus a staging dir on the same
    filesystem, so that files appear in IN by an atomic rename."""

    def __init__(self, base):
        self.root = tempfile.mkdtemp(prefix="run.", dir=base)
        self.inp = os.path.join(self.root, "in")
        self.done = os.path.join(self.root, "done")
        self.failed = os.path.join(self.root, "failed")
        self.stage = os.path.join(self.root, "stage")
        for d in (self.inp, self.done, self.failed, self.stage):
            os.mkdir(d)
        # What commands write goes to tmpfs: creating files on this ext4
        # right after thousands of deletes costs up to 1 ms each (inode
        # reuse is delayed), noise that is not the runner's.
        self.out = tempfile.mkdtemp(prefix="out.", dir=OUT_BASE)

    def make(self, where, n, prefix="f"):
        names = []
        data = b"x" * 64
        for i in range(n):
            name = "%s%07d.sea" % (prefix, i)
            fd = os.open(os.path.join(where, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            os.close(fd)
            names.append(name)
        return names

    def count(self, d):
        n = 0
        with os.scandir(d) as it:
            for e in it:
                if not e.name.startswith(".") and e.name.endswith(".sea"):
                    n += 1
        return n

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.out, ignore_errors=True)


def start(runner, mode, w, p, cmd, env=None):
    argv = [runner_path(runner), mode, w.inp, w.done, w.failed, str(p), cmd, w.out]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(w.root, "runner.err"), "ab"),
                            start_new_session=True,
                            env=dict(os.environ, **env) if env else None)


def exited(proc):
    """True once PROC has exited, without reaping it (its rusage must be
    collected by reap(), so Popen.poll() may not be used)."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def reap(proc, timeout=30):
    """Wait for PROC; return its rusage (it must have reaped its own tree)."""
    deadline = now() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return ru
        if now() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, ru = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            log("  warning: %s did not stop in %ds: killed" % (proc.args[0], timeout))
            return ru
        time.sleep(0.01)


def stop(proc):
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    ru = reap(proc)
    try:  # anything left in its session (a peer that leaks) is not ours to keep
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return ru


def wait_count(w, d, n, timeout, proc=None):
    """Poll D until it holds N files.  Counting 5000 entries costs ~3 ms of
    CPU, taken from the runner under test: poll every 50 ms until 95% are
    there, then every 2 ms (the end time is then good to ~2 ms)."""
    deadline = now() + timeout
    while now() < deadline:
        c = w.count(d)
        if c >= n:
            return now()
        if proc is not None and exited(proc):
            raise RuntimeError("runner exited (%s) early; see %s/runner.err"
                               % (proc.returncode, w.root))
        time.sleep(0.05 if c < 0.95 * n else 0.002)
    raise RuntimeError("timeout: %d of %d in %s" % (w.count(d), n, d))


def probe(w, proc):
    """Live runners are ready once a probe file has gone through."""
    p = os.path.join(w.stage, "probe.sea")
    with open(p, "w") as f:
        f.write("x" * 64)   # as the files (whole records for the .sea parser)
    os.rename(p, os.path.join(w.inp, "probe.sea"))
    wait_count(w, w.done, 1, 60, proc)


def cpu_of(ru):
    return ru.ru_utime + ru.ru_stime


def one_throughput(row, n, p, cmd, base):
    runner, mode, _, env = ROWS[row] + ({},) if row in ROWS else PERSIST_ROWS[row]
    w = World(base)
    try:
        if mode == "batch":
            w.make(w.inp, n)
            t0 = now()
            proc = start(runner, mode, w, p, cmd, env)
            ru = reap(proc, timeout=3600)
            t1 = now()
            got = w.count(w.done)
            files = n
        else:
            proc = start(runner, mode, w, p, cmd, env)
            probe(w, proc)
            warm = 0
            if row.endswith("-warm"):
                # A first burst, not timed: what is measured is the next.
                for name in w.make(w.stage, n, prefix="w"):
                    os.rename(os.path.join(w.stage, name), os.path.join(w.inp, name))
                warm = n
                wait_count(w, w.done, warm + 1, 3600, proc)
            names = w.make(w.stage, n)
            t0 = now()
            for name in names:
                os.rename(os.path.join(w.stage, name), os.path.join(w.inp, name))
            t1 = wait_count(w, w.done, warm + n + 1, 3600, proc)
            ru = stop(proc)
            got = w.count(w.done) - 1 - warm
            files = warm + n + 1
        if got != n or w.count(w.failed):
            raise RuntimeError("%s: %d of %d in done, %d failed" % (row, got, n, w.count(w.failed)))
        return {"rate": n / (t1 - t0), "wall": t1 - t0, "cpu_per_file": cpu_of(ru) / files}
    finally:
        w.remove()


def median_spread(vals):
    return statistics.median(vals), min(vals), max(vals)


# Rows whose figures a target judges get RUNS runs everywhere; the others
# get RUNS runs only at P = 2 (where the targets compare), and the slowest
# peers one run (GNU parallel and incron take ~1 min per 5000 files).
JUDGED = {"floor-batch", "floor-live", "seawatchd-once", "seawatchd-live"}
SLOW_PEERS = {"parallel", "incron"}


def runs_for(row, p):
    if row in JUDGED:
        return RUNS
    if row in SLOW_PEERS:
        return 1
    return RUNS if p == 2 else 1


def measure(row, n, p, cmd, base, runs):
    res = [one_throughput(row, n, p, cmd, base) for _ in range(runs)]
    out = {}
    for k in res[0]:
        out[k] = median_spread([r[k] for r in res])
    out["runs"] = runs
    return out


# ---------------------------------------------------------------- latency

def one_latency(row, cmd_stamp, base, n=300, gap=0.010):
    runner, mode, _ = ROWS[row]
    w = World(base)
    try:
        proc = start(runner, mode, w, 2, cmd_stamp)
        probe(w, proc)
        time.sleep(0.5)  # idle
        names = w.make(w.stage, n, prefix="l")
        sent = {}
        nxt = now()
        for name in names:
            while now() < nxt:
                pass
            t = time.time_ns()
            os.rename(os.path.join(w.stage, name), os.path.join(w.inp, name))
            sent[name] = t
            nxt += gap
        wait_count(w, w.done, n + 1, 120, proc)
        stop(proc)
        lat = []
        for name, t in sent.items():
            with open(os.path.join(w.out, name + ".t")) as f:
                lat.append((int(f.read()) - t) / 1e6)
        lat.sort()
        return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    finally:
        w.remove()


# ---------------------------------------------------------------- memory

def status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            if ppid == pid:
                kids.append(int(d))
        except (OSError, ValueError):
            pass
    return kids


def worker_pids(master):
    """The master's children that are workers: argv[1] is --worker (just
    exec'd), or the title a worker writes over its argv."""
    out = []
    for k in children(master):
        try:
            with open("/proc/%d/cmdline" % k, "rb") as f:
                cl = f.read()
            if cl.split(b"\0")[1:2] == [b"--worker"] or cl.startswith(b"seawatch-worker"):
                out.append(k)
        except OSError:
            pass
    return out


def tree_wakeups(pid):
    """Context switches (voluntary + not) of every thread of PID and of its
    descendants: each is the CPU taken up for them."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children(p))
        try:
            tasks = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for t in tasks:
            try:
                with open("/proc/%d/task/%s/status" % (p, t)) as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                            total += int(line.split()[1])
            except OSError:
                pass
    return total


def idle_wakeups(row, cmd, base, secs=60, p=2):
    """Wake-ups per minute of a live runner (all its threads and children)
    with nothing arriving, after one file."""
    w = World(base)
    try:
        proc = start(ROWS[row][0], "live", w, p, cmd)
        probe(w, proc)
        time.sleep(2)
        a = tree_wakeups(proc.pid)
        time.sleep(secs)
        b = tree_wakeups(proc.pid)
        stop(proc)
        return (b - a) * 60.0 / secs
    finally:
        w.remove()


def seawatchd_pids(proc):
    # The runner execs seawatchd, so proc.pid is the master.
    return proc.pid, worker_pids(proc.pid)


def rss_idle(cmd, base, p=2):
    """Peak RSS (VmHWM) of the master and the workers of a live daemon that
    is idle after one file (the backlog figures come from scaling())."""
    w = World(base)
    try:
        proc = start("seawatchd", "live", w, p, cmd)
        probe(w, proc)
        time.sleep(0.5)
        master, workers = seawatchd_pids(proc)
        m = status_kb(master, "VmHWM")
        ws = [status_kb(x, "VmHWM") for x in workers]
        stop(proc)
        return {"master_kb": m, "worker_kb": max(x for x in ws if x is not None)}
    finally:
        w.remove()


def scaling(n, cmd, base, runs, p=2):
    """--once on a pre-filled drop: wall time, and start to first command.
    The backlog is made once: after each run done/ becomes the next run's
    drop (one rename), which keeps a 100 000-file cell to about a minute."""
    w = World(base)
    res = []
    try:
        w.make(w.inp, n)
        for r in range(runs):
            if r:
                # The old drop keeps only seawatchd's spool directory.
                os.rename(w.inp, os.path.join(w.root, "old-in.%d" % r))
                os.rename(w.done, w.inp)
                os.mkdir(w.done)
                shutil.rmtree(w.out)
                os.mkdir(w.out)
            t0 = time.time_ns()
            m0 = now()
            proc = start("seawatchd", "batch", w, p, cmd)
            # Sample the peak RSS (VmHWM only grows) of the master and the
            # workers while the backlog drains; the last sample is the peak.
            peak_m, peak_w = 0, 0
            while not exited(proc):
                m = status_kb(proc.pid, "VmHWM")
                if m:
                    peak_m = max(peak_m, m)
                    for k in worker_pids(proc.pid):
                        peak_w = max(peak_w, status_kb(k, "VmHWM") or 0)
                time.sleep(0.05)
            reap(proc, timeout=3600)
            wall = now() - m0
            first = None
            with os.scandir(w.out) as it:
                for e in it:
                    with open(e.path) as f:
                        t = int(f.read())
                    first = t if first is None or t < first else first
            if w.count(w.done) != n:
                raise RuntimeError("scaling: %d of %d done" % (w.count(w.done), n))
            res.append({"wall": wall, "first_ms": (first - t0) / 1e6, "master_kb": peak_m,
                        "worker_kb": peak_w})
        return res
    finally:
        w.remove()


# ---------------------------------------------------------------- report

def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    fs = subprocess.run(["df", "-T", tempfile.gettempdir()], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    return "%s, %d CPUs, %.0f GiB RAM, Linux %s, %s on %s" % (
        model, os.cpu_count(), mem, platform.release(), platform.freedesktop_os_release().get("PRETTY_NAME", "?"), fs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="throughput,slow,latency,memory,idle,scaling,persist")
    ap.add_argument("--out", default=os.path.join(TOP, "docs", "benchmarks.md"))
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--merge", action="store_true",
                    help="keep the other sections of bench/last-run.json (their dates are said)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    rows = [r for r in args.rows.split(",") if r in ROWS]
    base = tempfile.mkdtemp(prefix="sw-bench.", dir="/var/tmp")
    trivial = os.path.join(base, "trivial.sh")
    with open(trivial, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(trivial, 0o755)
    sleep50 = os.path.join(BIN, "sleep50")
    stamp = os.path.join(BIN, "stamp")
    R = {"machine": machine(), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "runs": RUNS, "throughput": {}, "slow": {}, "latency": {}, "memory": {}, "idle": {},
         "scaling": {}, "persist": {}}
    started = now()
    R["section_minutes"] = {}

    def section(name, t):
        R["section_minutes"][name] = round((now() - t) / 60, 2)
        log("  %s: %.1f min" % (name, (now() - t) / 60))

    try:
        if "throughput" in only:
            t_sec = now()
            for p in (1, 2, 4):
                for row in rows:
                    log("throughput %s P=%d" % (row, p))
                    R["throughput"]["%s/%d" % (row, p)] = measure(row, 5000, p, trivial, base,
                                                                  runs_for(row, p))
            section("throughput", t_sec)
        if "slow" in only:
            t_sec = now()
            for p in (2, 8):
                for row in rows:
                    log("50ms %s P=%d" % (row, p))
                    R["slow"]["%s/%d" % (row, p)] = measure(row, 400, p, sleep50, base,
                                                            RUNS if row in JUDGED else 1)
            section("slow", t_sec)
        if "latency" in only:
            t_sec = now()
            for row in [r for r in rows if ROWS[r][1] == "live"]:
                log("latency %s" % row)
                res = [one_latency(row, stamp, base) for _ in range(RUNS)]
                R["latency"][row] = {"p50": median_spread([r[0] for r in res]),
                                     "p99": median_spread([r[1] for r in res])}
            section("latency", t_sec)
        if "memory" in only:
            t_sec = now()
            log("memory idle")
            res = [rss_idle(trivial, base) for _ in range(RUNS)]
            R["memory"]["0"] = {k: median_spread([r[k] for r in res]) for k in res[0]}
            section("memory", t_sec)
        if "idle" in only:
            t_sec = now()
            # A count, not a time: one minute each is enough.
            for row in ("floor-live", "seawatchd-live"):
                log("idle %s" % row)
                R["idle"][row] = idle_wakeups(row, trivial, base)
            section("idle", t_sec)
        if "scaling" in only:
            t_sec = now()
            # Backlog runs of --once: wall time, first command, and the
            # peak RSS with that backlog (the memory table's other rows).
            for n in SCALING_NS:
                log("scaling backlog=%d" % n)
                res = scaling(n, stamp, base, RUNS)
                R["scaling"][str(n)] = {k: median_spread([r[k] for r in res]) for k in res[0]}
                R["memory"][str(n)] = {k: R["scaling"][str(n)][k] for k in ("master_kb", "worker_kb")}
            section("scaling", t_sec)
        if "persist" in only:
            t_sec = now()
            # Fewer files where each costs an interpreter's start: a rate is
            # a rate.  The floor's exec-per-file rate again, in this run.
            parser = os.path.join(TOP, "examples", "parse-sea.py")
            for row, n, cmd in (("py-exec", 300, parser), ("py-pool-subprocess", 300, parser),
                                ("py-lines", 3000, parser), ("py-inproc", 3000, parser),
                                ("py-lines-warm", 3000, parser),
                                ("lines-trivial", 5000, os.path.join(BIN, "answer")),
                                ("lines-trivial-warm", 5000, os.path.join(BIN, "answer")),
                                ("floor-live", 5000, trivial),
                                ("renames-live", 5000, trivial)):
                log("persist %s" % row)
                R["persist"][row] = measure(row, n, 2, cmd, base, RUNS)
            section("persist", t_sec)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    R["minutes"] = (now() - started) / 60
    if args.merge:
        # Only some sections run: the others are kept from the last run.
        with open(os.path.join(TOP, "bench", "last-run.json")) as f:
            last = json.load(f)
        for k in ("throughput", "slow", "latency", "memory", "idle", "scaling", "persist"):
            if k in only:
                last[k] = R[k]
                last[k + "_date"] = R["date"]
        R = last
    with open(os.path.join(TOP, "bench", "last-run.json"), "w") as f:
        json.dump(R, f, indent=1)
    sys.path.insert(0, os.path.join(TOP, "bench"))
    import report
    with open(args.out, "w") as f:
        f.write(report.render(R))
    log("wrote %s (%.1f min)" % (args.out, R["minutes"]))


if __name__ == "__main__":
    main()
