#!/usr/bin/env python3
"""PostgreSQL backends' CPU per database while this runs (chain-bench.sh, STATS=1).

pg-backend-cpu.py POSTMASTER_PID: reads utime+stime of the postmaster's children from /proc
every 0.2 s until SIGTERM, then prints one line per database (or background process): CPU
seconds used since the start. A backend that exits keeps its last reading, so the pool's
connections count whole even if they close before the end.
"""
import os
import signal
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
postmaster = sys.argv[1]
base, last = {}, {}
stopped = False
started = False


def stop(*_):
    global stopped
    stopped = True


def sample():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[1] != postmaster or not cmd.startswith("postgres: "):
            continue
        words = cmd.replace("\0", " ").split()
        # "postgres: USER DATABASE HOST(PORT) STATE" for a backend, "postgres: checkpointer" …
        backend = len(words) >= 4 and (words[3].endswith(")") or words[3] == "[local]")
        who = words[2] if backend else " ".join(words[1:3])
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        # Processes there at the start count from their reading then, later ones from zero.
        base.setdefault((pid, who), 0.0 if started else cpu)
        last[(pid, who)] = max(last.get((pid, who), 0.0), cpu)


signal.signal(signal.SIGTERM, stop)
sample()
started = True
while not stopped:
    time.sleep(0.2)
    sample()
total = {}
for (pid, who), cpu in last.items():
    total[who] = total.get(who, 0.0) + cpu - base[(pid, who)]
for who, cpu in sorted(total.items(), key=lambda t: -t[1]):
    print(f"{cpu:.2f} {who}")
