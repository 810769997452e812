"""Measuring a child process: wall seconds, CPU seconds, peak RSS.

Every benchmark here times whole processes the same way, peer or pipe:
wall clock from start to exit, user and system CPU seconds from the kernel's
rusage of that one child (os.wait4), so no numbers come from a peer's or
pipe's own clock unless a row says so.

Peak RSS comes from /usr/bin/time (%M) around the command, not from this
rusage: a child started from this (large) Python process by fork or vfork
inherits the parent's high-water RSS through exec, so its ru_maxrss would be
at least this process's size. /usr/bin/time is small, and reports the
rusage of the command it starts itself.
"""
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass


@dataclass
class Run:
    wall: float  # seconds from start to exit
    user: float  # user CPU seconds, all threads
    sys: float  # system CPU seconds, all threads
    rss_mib: float  # peak resident set size
    stdout: bytes  # empty unless asked for
    stderr: str

    @property
    def cpu(self):
        return self.user + self.sys


def run(cmd, stdout=None, env=None):
    """Run cmd to completion; stdout goes to the file named by stdout
    (/dev/null when None), or is kept when stdout is subprocess.PIPE."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        keep = stdout is subprocess.PIPE
        out = tempfile.TemporaryFile() if keep else open(stdout or os.devnull, "wb")
        with out:
            start = time.perf_counter()
            p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss.name] + cmd, stdout=out, stderr=err, env=env)
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - start
            p.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace")
            if p.returncode != 0:
                raise RuntimeError("%s exited %d:\n%s" % (" ".join(cmd), p.returncode, stderr[-4000:]))
            data = b""
            if keep:
                out.seek(0)
                data = out.read()
        rss_kib = int(rss.read().split()[-1])
    return Run(wall, ru.ru_utime, ru.ru_stime, rss_kib / 1024, data, stderr)


def best(runs):
    """The least disturbed of repeated runs: the one with the least wall time.
    On a shared machine the fastest run is the one others disturbed least."""
    return min(runs, key=lambda r: r.wall)


def slog_field(stderr, msg, key):
    """A number from one of pipe's log lines (log/slog text: msg=... key=value)."""
    for line in stderr.splitlines():
        if " %s " % msg in line or "msg=%s " % msg in line:
            for f in line.split():
                if f.startswith(key + "="):
                    return float(f[len(key) + 1:])
    raise ValueError("no %s %s= in pipe's log:\n%s" % (msg, key, stderr))


def load():
    """The 1-minute load average, the measure of how busy the shared machine was."""
    return os.getloadavg()[0]
