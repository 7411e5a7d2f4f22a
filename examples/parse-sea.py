#!/usr/bin/env python3
"""Parse .sea device logs into one CSV line per file.

A .sea file (the demo's format) is a sequence of 8-byte little-endian
records: uint32 Unix time, uint16 sensor, int16 value in tenths.  For each
file this appends one line to OUTDIR/records.csv:

    name,records,first_time,last_time,min,max,mean

It runs in both of seawatchd's modes:

  exec:   command = [ "parse-sea.py", "{file}", "OUTDIR" ]   (the classic
          "process_sea <input> <output_dir>" form)
          exit 0 when parsed, 65 (EX_DATAERR) for a malformed file
  lines:  command = [ "parse-sea.py", "OUTDIR" ]; protocol = "lines";
          one path per line on stdin (a backslash written as \\\\ and a
          newline as \\n), one verdict per line on stdout: "0", or
          "65 <why>" for a malformed file.  The interpreter starts once.
"""
import os
import re
import struct
import sys

RECORD = struct.Struct("<IHh")


def parse(path):
    """The CSV line for the file at PATH; ValueError if it is malformed."""
    with open(path, "rb") as f:
        data = f.read()
    if not data or len(data) % RECORD.size:
        raise ValueError("%d bytes: not whole %d-byte records" % (len(data), RECORD.size))
    times, values = [], []
    for t, _sensor, v in RECORD.iter_unpack(data):
        times.append(t)
        values.append(v / 10.0)
    return "%s,%d,%d,%d,%.1f,%.1f,%.2f\n" % (
        os.path.basename(path), len(values), times[0], times[-1],
        min(values), max(values), sum(values) / len(values))


def append(outdir, line):
    # One write with O_APPEND: lines of several workers never interleave.
    fd = os.open(os.path.join(outdir, "records.csv"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


_ESC = re.compile(r"\\(.)")


def unescape(s):
    return _ESC.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), s)


def lines_mode(outdir):
    for line in sys.stdin:
        path = unescape(line[:-1] if line.endswith("\n") else line)
        try:
            append(outdir, parse(path))
            print("0", flush=True)
        except ValueError as e:
            print("65", e, flush=True)
        except OSError as e:
            print("74", e, flush=True)   # EX_IOERR: retried


def main(argv):
    if len(argv) == 2:
        lines_mode(argv[1])
        return 0
    if len(argv) != 3:
        print("usage: parse-sea.py FILE OUTDIR    (exec mode)\n"
              "       parse-sea.py OUTDIR         (lines mode: paths on stdin)", file=sys.stderr)
        return 2
    try:
        append(argv[2], parse(argv[1]))
    except ValueError as e:
        print("%s: %s" % (argv[1], e), file=sys.stderr)
        return 65
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
