#!/usr/bin/env python3
"""Backup benchmark driver: Cairn against restic and borg on the same corpus.

Usually started by bench/run.sh, which installs restic and borg and builds Cairn first.

Steps, for each tool (Cairn, restic, borg, in that order):
  v1        initial backup of the corpus
  nochange  the same backup again, nothing changed
  (then the corpus is edited once into version 2: bench/corpus.py edit)
  v2        backup of version 2
  restore   full restore of the v2 snapshot (verified against the corpus afterwards, untimed)

Before each step, untimed, dirty pages are written out (os.sync) and, for backups, the
corpus is read once, so that every tool starts from the same page-cache state. Measured per step: wall time, peak RSS of the client process
(cairn-agent, restic, borg) from wait4() in a small launcher process, peak RSS of cairn-server during the step (VmHWM after resetting it through
/proc/PID/clear_refs), CPU time of the client, and the repository size after the step.

Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MiB = 1024 * 1024
TOOLS = ("cairn", "restic", "borg")
STEPS = ("v1", "nochange", "v2", "restore")
STEP_TITLES = {
    "v1": "backup v1",
    "nochange": "backup again (no change)",
    "v2": "backup v2 (after edit)",
    "restore": "restore v2",
}
MARKER = ".cairn-bench-workdir"
# When a run last deleted its corpus and restores (seconds since the epoch), kept in the work folder.
DELETED_AT = "deleted-at"
DIRECTORY_PORT = 7400
PASSWORD = "granite harbor ledger 2026"


def say(msg: str) -> None:
    print(msg, flush=True)


class BenchError(Exception):
    pass


def tail(path: str, limit: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            n = f.tell()
            f.seek(max(0, n - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# Running commands.
# ---------------------------------------------------------------------------


class Runner:
    def __init__(self, logs: str):
        self.logs = logs
        self.n = 0

    def _files(self, name: str) -> tuple[str, str]:
        self.n += 1
        base = os.path.join(self.logs, f"{self.n:02d}-{name}")
        return base + ".out", base + ".err"

    def run(self, name: str, cmd: list[str], env: dict[str, str], cwd: str | None = None,
            ok_codes: tuple[int, ...] = (0,)) -> str:
        """Runs an unmeasured command; aborts with its stderr when it fails."""
        out, err = self._files(name)
        with open(out, "wb") as fo, open(err, "wb") as fe:
            try:
                rc = subprocess.call(cmd, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
            except OSError as e:
                raise BenchError(f"cannot run {cmd[0]}: {e}") from e
        if rc not in ok_codes:
            raise BenchError(
                f"command failed (exit {rc}): {' '.join(cmd)}\n--- stderr ({err}) ---\n{tail(err)}"
                f"\n--- stdout ({out}) ---\n{tail(out, 2000)}"
            )
        with open(out, encoding="utf-8", errors="replace") as f:
            return f.read()

    def measure(self, name: str, cmd: list[str], env: dict[str, str], cwd: str | None = None,
                server_pid: int | None = None, ok_codes: tuple[int, ...] = (0,)) -> dict:
        """Runs a measured command: wall time, the client's peak RSS and CPU time from
        wait4(), and the server's peak RSS during the command when server_pid is given.

        The command is started by a small launcher (LAUNCHER), not from this process: a
        child's ru_maxrss counts the memory of the process it was forked from (Linux keeps
        the larger of the two across exec), and this one holds the corpus manifests, about
        100 MiB at scale 4. The launcher's own few MiB are the floor of the figure instead."""
        out, err = self._files(name)
        report = out[: -len(".out")] + ".rusage"
        if server_pid is not None:
            reset_hwm(server_pid)
            server_before = server_counters(server_pid)
        with open(out, "wb") as fo, open(err, "wb") as fe:
            try:
                p = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, report] + cmd, stdout=fo, stderr=fe,
                                     stdin=subprocess.DEVNULL, env=env, cwd=cwd, start_new_session=True)
            except OSError as e:
                raise BenchError(f"cannot run {sys.executable}: {e}") from e
            try:
                p.wait()
            except BaseException:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                raise
        try:
            with open(report, encoding="utf-8") as f:
                fields = f.read().split(maxsplit=4)
        except OSError as e:
            raise BenchError(f"the launcher of {cmd[0]} left no report ({e}); its stderr ({err}):\n{tail(err)}") from e
        if fields[0] == "error":
            raise BenchError(f"cannot run {cmd[0]}: {' '.join(fields[1:])}")
        wall, maxrss, cpu, status = float(fields[0]), int(fields[1]), float(fields[2]), int(fields[3])
        rc = os.waitstatus_to_exitcode(status)
        server_kib = read_hwm(server_pid) if server_pid is not None else None
        server_used = {}
        if server_pid is not None:
            server_after = server_counters(server_pid)
            server_used = {k: server_after[k] - server_before[k] for k in server_after if k in server_before}
        if rc not in ok_codes:
            raise BenchError(
                f"command failed (exit {rc}): {' '.join(cmd)}\n--- stderr ({err}) ---\n{tail(err)}"
                f"\n--- stdout ({out}) ---\n{tail(out, 2000)}"
            )
        with open(out, encoding="utf-8", errors="replace") as f:
            stdout = f.read()
        return {
            "wall_s": wall,
            "client_rss_kib": maxrss,
            "client_cpu_s": cpu,
            "server_rss_kib": server_kib,
            "server_cpu_s": server_used.get("cpu_s"),
            "server_disk_read_bytes": server_used.get("read_bytes"),
            "exit": rc,
            "stdout": stdout,
            "stderr_tail": tail(err, 1000),
        }


# Started (with -S) by Runner.measure as: REPORT CMD...; runs CMD, waits for it, and writes
# "WALL MAXRSS_KIB CPU_S WAIT_STATUS" to REPORT, or "error MESSAGE" when CMD cannot start.
LAUNCHER = """
import os, sys, time
report, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
try:
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
except OSError as e:
    open(report, "w").write(f"error {e}")
    sys.exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.monotonic() - t0
open(report, "w").write(f"{wall} {ru.ru_maxrss} {ru.ru_utime + ru.ru_stime} {status}")
"""


def reset_hwm(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def server_counters(pid: int) -> dict:
    """The server's CPU seconds so far and the bytes it has read from disk (not the
    page cache), for what one step cost it; missing where /proc does not tell."""
    counters: dict = {}
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        counters["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("read_bytes:"):
                    counters["read_bytes"] = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return counters


def read_hwm(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def tree_bytes(path: str) -> int:
    """Sum of the sizes of the files under path (like du -sb, without directory sizes)."""
    total = 0
    if os.path.isfile(path):
        return os.path.getsize(path)
    for dirpath, _dirs, files in os.walk(path):
        for fn in files:
            try:
                total += os.lstat(os.path.join(dirpath, fn)).st_size
            except FileNotFoundError:
                pass
    return total


def settle(secs: float = 3.0) -> None:
    """Lets a few seconds pass after the corpus was written: files modified within the
    last second or two are not trusted by their timestamps alone (a write in the same
    timestamp tick could go unnoticed), so a backup started at once would read them
    again next time. Real files are rarely written the instant a backup starts."""
    time.sleep(secs)


def quiesce(root: str | None = None) -> None:
    """Untimed, before each step: writes out what earlier steps (and the corpus generator)
    left dirty in the page cache, so no tool's fsyncs wait behind another's writeback, and
    reads every file under `root` once, so each backup starts with the corpus cached (the
    kernel may have evicted parts of it while another tool ran)."""
    os.sync()
    if root is None:
        return
    buf = bytearray(1 << 20)
    for dirpath, _dirs, names in os.walk(root):
        for fn in names:
            path = os.path.join(dirpath, fn)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            try:
                with open(path, "rb", buffering=0) as f:
                    while f.readinto(buf):
                        pass
            except OSError:
                pass


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


# ---------------------------------------------------------------------------
# Verification.
# ---------------------------------------------------------------------------


def manifest(root: str) -> dict[str, tuple]:
    """relative path -> ("f", size, sha256) for files, ("d",) for directories,
    ("l", target) for symlinks."""
    out: dict[str, tuple] = {}
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for d in dirs:
            p = os.path.join(dirpath, d)
            rel = os.path.normpath(os.path.join(rel_dir, d))
            out[rel] = ("l", os.readlink(p)) if os.path.islink(p) else ("d",)
        for fn in files:
            p = os.path.join(dirpath, fn)
            rel = os.path.normpath(os.path.join(rel_dir, fn))
            if os.path.islink(p):
                out[rel] = ("l", os.readlink(p))
                continue
            with open(p, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            out[rel] = ("f", os.path.getsize(p), digest)
    return out


def compare(expected: dict[str, tuple], root: str) -> list[str]:
    if not os.path.isdir(root):
        return [f"restored folder {root} does not exist"]
    got = manifest(root)
    problems = []
    for rel in sorted(expected.keys() - got.keys()):
        problems.append(f"missing: {rel}")
    for rel in sorted(got.keys() - expected.keys()):
        problems.append(f"unexpected: {rel}")
    for rel in sorted(expected.keys() & got.keys()):
        if expected[rel] != got[rel]:
            e, g = expected[rel], got[rel]
            what = "content differs" if e[:2] == g[:2] else f"expected {e[:2]}, got {g[:2]}"
            problems.append(f"different: {rel} ({what})")
    return problems


# ---------------------------------------------------------------------------
# The tools.
# ---------------------------------------------------------------------------


@dataclass
class Tool:
    name: str
    work: str
    corpus: str
    runner: Runner
    env: dict[str, str] = field(default_factory=dict)

    server_pid: int | None = None

    def setup(self) -> None: ...

    def backup(self, step: str) -> dict: ...

    def restore(self, target: str) -> tuple[dict, str]: ...

    def repo_bytes(self) -> int: ...

    def extra_sizes(self) -> dict[str, int]:
        return {}

    def version(self) -> str: ...

    def stop(self) -> None:
        pass


class Restic(Tool):
    def __init__(self, work: str, corpus: str, runner: Runner):
        super().__init__("restic", work, corpus, runner)
        self.repo = os.path.join(work, "restic-repo")
        self.cache = os.path.join(work, "restic-cache")
        self.env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, RESTIC_CACHE_DIR=self.cache)
        self.env.pop("RESTIC_REPOSITORY", None)

    def version(self) -> str:
        return first_line(self.runner.run("restic-version", ["restic", "version"], self.env))

    def setup(self) -> None:
        self.runner.run("restic-init", ["restic", "-r", self.repo, "init"], self.env)

    def backup(self, step: str) -> dict:
        return self.runner.measure(f"restic-{step}", ["restic", "-r", self.repo, "backup", self.corpus], self.env)

    def restore(self, target: str) -> tuple[dict, str]:
        os.makedirs(target)
        r = self.runner.measure(
            "restic-restore", ["restic", "-r", self.repo, "restore", "latest", "--target", target], self.env)
        # restic recreates the absolute path of what it backed up under the target.
        return r, os.path.join(target, self.corpus.lstrip("/"))

    def repo_bytes(self) -> int:
        return tree_bytes(self.repo)

    def extra_sizes(self) -> dict[str, int]:
        return {"client_cache_bytes": tree_bytes(self.cache)}


class Borg(Tool):
    ARCHIVES = {"v1": "v1", "nochange": "v1b", "v2": "v2"}

    def __init__(self, work: str, corpus: str, runner: Runner):
        super().__init__("borg", work, corpus, runner)
        self.repo = os.path.join(work, "borg-repo")
        self.base = os.path.join(work, "borg-base")
        self.env = dict(
            os.environ,
            BORG_PASSPHRASE=PASSWORD,
            BORG_BASE_DIR=self.base,
            BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes",
            BORG_RELOCATED_REPO_ACCESS_IS_OK="yes",
        )
        self.env.pop("BORG_REPO", None)

    def version(self) -> str:
        return first_line(self.runner.run("borg-version", ["borg", "--version"], self.env))

    def setup(self) -> None:
        os.makedirs(self.base, exist_ok=True)
        self.runner.run("borg-init", ["borg", "init", "--encryption=repokey", self.repo], self.env)

    def backup(self, step: str) -> dict:
        # Exit code 1 is borg's "warning: the operation reached its normal end".
        r = self.runner.measure(
            f"borg-{step}", ["borg", "create", f"{self.repo}::{self.ARCHIVES[step]}", self.corpus], self.env,
            ok_codes=(0, 1))
        if r["exit"] == 1:
            say(f"  borg warned: {r['stderr_tail'].strip()}")
        return r

    def restore(self, target: str) -> tuple[dict, str]:
        os.makedirs(target)
        r = self.runner.measure(
            "borg-restore", ["borg", "extract", f"{self.repo}::v2"], self.env, cwd=target, ok_codes=(0, 1))
        if r["exit"] == 1:
            say(f"  borg warned: {r['stderr_tail'].strip()}")
        # borg stores the path without its leading slash and extracts it under the cwd.
        return r, os.path.join(target, self.corpus.lstrip("/"))

    def repo_bytes(self) -> int:
        return tree_bytes(self.repo)

    def extra_sizes(self) -> dict[str, int]:
        return {"client_cache_bytes": tree_bytes(self.base)}


class Cairn(Tool):
    REGION = "us"

    def __init__(self, work: str, corpus: str, runner: Runner, bin_dir: str):
        super().__init__("cairn", work, corpus, runner)
        self.bin_dir = bin_dir
        self.server_bin = os.path.join(bin_dir, "cairn-server")
        self.agent = os.path.join(bin_dir, "cairn-agent")
        self.ctl = os.path.join(bin_dir, "cairnctl")
        self.dir = os.path.join(work, "cairn")
        self.data = os.path.join(self.dir, "cairn-data")
        self.home = os.path.join(work, "home")
        self.env = dict(os.environ, HOME=self.home, CAIRN_PASSWORD=PASSWORD)
        for k in ("CAIRN_DIRECTORY", "CAIRN_SESSION", "CAIRN_AGENT_STATE", "CAIRN_CONFIG"):
            self.env.pop(k, None)
        self.server: subprocess.Popen | None = None
        self.server_log = os.path.join(runner.logs, "cairn-server.log")
        self.snapshots: dict[str, str] = {}

    def version(self) -> str:
        v = first_line(self.runner.run("cairn-version", [self.agent, "--version"], self.env))
        try:
            rev = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                                 capture_output=True, text=True, check=True).stdout.strip()
            v += f" ({rev})"
        except (OSError, subprocess.CalledProcessError):
            pass
        return v

    def _port_open(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", DIRECTORY_PORT), timeout=0.5):
                return True
        except OSError:
            return False

    def start_server(self) -> None:
        for b in (self.server_bin, self.agent, self.ctl):
            if not os.access(b, os.X_OK):
                raise BenchError(f"{b} is missing: build Cairn first (bench/run.sh does)")
        if self._port_open():
            raise BenchError(f"something already listens on 127.0.0.1:{DIRECTORY_PORT}; stop it first")
        os.makedirs(self.dir, exist_ok=True)
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("CAIRN_"):
                del env[k]
        log = open(self.server_log, "wb")
        self.server = subprocess.Popen([self.server_bin], cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=env)
        log.close()
        self.server_pid = self.server.pid
        deadline = time.monotonic() + 180
        while True:
            if self.server.poll() is not None:
                raise BenchError(f"cairn-server exited with {self.server.returncode}:\n{tail(self.server_log)}")
            text = tail(self.server_log, 100000)
            if ("directory listening on" in text and f"cell {self.REGION} listening" in text
                    and self._port_open()):
                break
            if time.monotonic() > deadline:
                raise BenchError(f"cairn-server did not start listening within 180 s:\n{tail(self.server_log)}")
            time.sleep(0.2)
        say(f"  cairn-server running (pid {self.server_pid}), data in {self.data}")

    def stop(self) -> None:
        if self.server is None or self.server.poll() is not None:
            return
        self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            say("  cairn-server did not stop within 60 s of SIGTERM; killing it")
            self.server.kill()
            self.server.wait()

    def _confirmation_code(self) -> str:
        outbox = os.path.join(self.data, self.REGION, "outbox")
        pattern = re.compile(rf"{self.REGION}-[0-9a-f]{{64}}")
        deadline = time.monotonic() + 60
        while True:
            names = sorted(os.listdir(outbox)) if os.path.isdir(outbox) else []
            for name in names:
                if not name.endswith(".eml"):
                    continue
                with open(os.path.join(outbox, name), "rb") as f:
                    raw = f.read()
                text = raw.decode("utf-8", "replace")
                # Undo quoted-printable soft line breaks in case the code was wrapped.
                m = pattern.search(text) or pattern.search(text.replace("=\r\n", "").replace("=\n", ""))
                if m:
                    return m.group(0)
            if time.monotonic() > deadline:
                raise BenchError(f"no confirmation code ({self.REGION}-<64 hex>) in {outbox} after 60 s")
            time.sleep(0.2)

    def setup(self) -> None:
        self.start_server()
        os.makedirs(self.home, exist_ok=True)
        ctl, run, env = self.ctl, self.runner.run, self.env
        email = "dana@granite-ledger.example"
        run("cairn-signup", [
            ctl, "signup", "--company", "Granite Ledger Bookkeeping", "--industry", "Accounting",
            "--employees", "14", "--phone", "+1 617 555 0134", "--city", "Boston", "--state", "MA",
            "--postal-code", "02110", "--country", "US", "--name", "Dana Whitfield",
            "--title", "Office Manager", "--username", "dana", "--email", email, "--seats", "5",
            "--i-am-13-or-older"], env)
        run("cairn-login", [ctl, "login", "--email", email], env)
        code = self._confirmation_code()
        run("cairn-confirm", [ctl, "account", "confirm", "--token", code], env)
        key = run("cairn-enrollment-key", [ctl, "enrollment-key", "create"], env).strip().splitlines()[-1].strip()
        out = run("cairn-enroll", [self.agent, "enroll", "--key", key, "--hostname", "bench-workstation"], env)
        say(f"  {out.strip()}")

    def backup(self, step: str) -> dict:
        r = self.runner.measure(f"cairn-{step}", [self.agent, "backup", self.corpus], self.env,
                                server_pid=self.server_pid)
        m = re.search(r"snapshot (\S+) saved", r["stdout"])
        if m:
            self.snapshots[step] = m.group(1)
        for line in r["stdout"].splitlines():
            if line.startswith("warning:"):
                say(f"  cairn-agent {line}")
        return r

    def latest_snapshot(self) -> str:
        """The newest snapshot of `cairn-agent snapshots` (it lists the oldest first)."""
        out = self.runner.run("cairn-snapshots", [self.agent, "snapshots"], self.env)
        rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
        rows = [r for r in rows if len(r) >= 2 and r[1].isdigit()]
        if not rows:
            raise BenchError(f"cairn-agent snapshots lists no snapshot:\n{out}")
        newest = max(int(r[1]) for r in rows)
        snap = [r[0] for r in rows if int(r[1]) == newest][-1]
        if "v2" in self.snapshots and self.snapshots["v2"] != snap:
            raise BenchError(
                f"the newest snapshot listed ({snap}) is not the one the v2 backup saved "
                f"({self.snapshots['v2']}):\n{out}")
        return snap

    def restore(self, target: str) -> tuple[dict, str]:
        snap = self.latest_snapshot()
        r = self.runner.measure("cairn-restore", [self.agent, "restore", snap, "--target", target], self.env,
                                server_pid=self.server_pid)
        # Cairn restores the backed-up folder under its own name.
        return r, os.path.join(target, os.path.basename(self.corpus.rstrip("/")))

    def bucket(self) -> str:
        return os.path.join(self.data, self.REGION, "bucket")

    def repo_bytes(self) -> int:
        return tree_bytes(self.bucket())

    def extra_sizes(self) -> dict[str, int]:
        return {
            "data_dir_bytes": tree_bytes(self.data),
            "client_cache_bytes": tree_bytes(os.path.join(self.home, ".config", "cairn-agent")),
        }


# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------


def mib(n: int | float | None) -> str:
    return "-" if n is None else f"{n / MiB:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "-"
    if b <= 0:
        return "-"
    return f"{a / b:.2f}x"


def table(results: list[dict], tools: list[str]) -> str:
    by = {(r["step"], r["tool"]): r for r in results}
    head = ["step", "tool", "wall s", "CPU s", "client RSS MiB", "server RSS MiB", "repo MiB", "growth MiB",
            "wall/restic", "wall/borg", "growth/restic", "growth/borg", "verify"]
    rows = []
    for step in STEPS:
        for tool in tools:
            r = by.get((step, tool))
            if r is None:
                continue
            row = [
                STEP_TITLES[step], tool, f"{r['wall_s']:.1f}", f"{r['client_cpu_s']:.1f}",
                mib(r["client_rss_kib"] * 1024),
                mib(r["server_rss_kib"] * 1024) if r.get("server_rss_kib") is not None else "-",
                mib(r["repo_bytes"]), mib(r["growth_bytes"]),
            ]
            if tool == "cairn":
                rs, bg = by.get((step, "restic")), by.get((step, "borg"))
                row += [ratio(r["wall_s"], rs and rs["wall_s"]), ratio(r["wall_s"], bg and bg["wall_s"])]
                if step in ("v1", "v2"):
                    row += [ratio(r["growth_bytes"], rs and rs["growth_bytes"]),
                            ratio(r["growth_bytes"], bg and bg["growth_bytes"])]
                else:
                    row += ["-", "-"]
            else:
                row += ["", "", "", ""]
            row.append(r.get("verify", ""))
            rows.append(row)
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    left = {0, 1, 12}

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    lines = [fmt(head), fmt(["-" * w for w in widths])]
    prev = None
    for row in rows:
        if prev is not None and row[0] != prev:
            lines.append("")
        prev = row[0]
        lines.append(fmt(row))
    return "\n".join(lines)


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f"{kib / MiB:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "memory": mem, "kernel": os.uname().release}


def corpus_stats(path: str) -> dict:
    files = 0
    total = 0
    for dirpath, _dirs, names in os.walk(path):
        for fn in names:
            files += 1
            total += os.lstat(os.path.join(dirpath, fn)).st_size
    return {"files": files, "bytes": total}


# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------


# How long ext4 steps over freed inodes whose inode-table block is still dirty (5 min + 5 s).
RECENTLY_DELETED_S = 310.0


def prepare_work(work: str) -> float | None:
    """Makes an empty work folder. Returns when many files of an earlier run were last
    deleted (at its end, or now by this wipe), or None if none were."""
    work = os.path.abspath(work)
    if work in ("/", os.path.expanduser("~"), REPO) or REPO.startswith(work + "/"):
        raise BenchError(f"refusing to use {work} as the work folder")
    if os.path.exists(work):
        if os.listdir(work) and not os.path.exists(os.path.join(work, MARKER)):
            raise BenchError(f"{work} is not empty and was not made by this benchmark ({MARKER} missing); "
                             "remove it or choose another --work")
        deleted_at = None
        try:
            with open(os.path.join(work, DELETED_AT)) as f:
                deleted_at = float(f.read().strip())
        except (OSError, ValueError):
            pass
        # Results and logs alone are a handful of files; a kept corpus or restore is thousands.
        if sum(len(names) for _, _, names in os.walk(work)) > 10_000:
            deleted_at = time.time()
        shutil.rmtree(work)
    else:
        deleted_at = None
    os.makedirs(work)
    with open(os.path.join(work, MARKER), "w") as f:
        f.write("work folder of bench/run.py; wiped at the start of every run\n")
    return deleted_at


def main() -> int:
    ap = argparse.ArgumentParser(description="Cairn vs restic vs borg backup benchmark.")
    ap.add_argument("--scale", type=float, default=1.0, help="corpus scale (1.0: ~1.5 GB, ~60,000 files)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--only", nargs="+", action="extend", metavar="TOOL",
                    help="run only these tools (cairn, restic, borg; several allowed)")
    ap.add_argument("--work", default="/tmp/cairn-bench", help="work folder, wiped at the start")
    ap.add_argument("--keep", action="store_true", help="keep corpus and repositories at the end")
    ap.add_argument("--bin-dir", default=os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target"), "release"),
                    help="where cairn-server, cairn-agent and cairnctl are")
    args = ap.parse_args()

    tools: list[str] = list(TOOLS)
    if args.only:
        chosen = {t.strip().lower() for item in args.only for t in item.split(",") if t.strip()}
        unknown = chosen - set(TOOLS)
        if unknown:
            ap.error(f"unknown tool(s) for --only: {', '.join(sorted(unknown))} (choose from cairn, restic, borg)")
        tools = [t for t in TOOLS if t in chosen]
    if args.scale <= 0:
        ap.error("--scale must be positive")

    work = os.path.abspath(args.work)
    corpus = os.path.join(work, "corpus")
    try:
        deleted_at = prepare_work(work)
    except BenchError as e:
        print(f"run.py: {e}", file=sys.stderr)
        return 2
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    runner = Runner(logs)

    free = shutil.disk_usage(work).free
    need = int(1.6e9 * args.scale * (2.2 + 1.1 * len(tools)))
    say(f"work folder {work}: {free / 1e9:.1f} GB free, about {need / 1e9:.1f} GB needed")
    if free < need:
        print(f"run.py: not enough disk space in {work}", file=sys.stderr)
        return 2

    objs: dict[str, Tool] = {}
    for t in tools:
        if t == "cairn":
            objs[t] = Cairn(work, corpus, runner, os.path.abspath(args.bin_dir))
        elif t == "restic":
            objs[t] = Restic(work, corpus, runner)
        else:
            objs[t] = Borg(work, corpus, runner)

    mach = machine()
    results: list[dict] = []
    info: dict = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scale": args.scale, "seed": args.seed, "work": work, "machine": mach, "tools": {},
    }
    failures: list[str] = []
    exit_code = 0
    aborted = ""
    try:
        for t, o in objs.items():
            info["tools"][t] = o.version()

        say(f"generating the corpus (seed {args.seed}, scale {args.scale}) ...")
        say("  " + runner.run("corpus-generate", [sys.executable, os.path.join(HERE, "corpus.py"), "generate",
                                                  "--seed", str(args.seed), "--scale", str(args.scale), corpus],
                              dict(os.environ)).strip())
        info["corpus_v1"] = corpus_stats(corpus)
        settle()

        last_repo: dict[str, int] = {}

        def record(tool: str, step: str, r: dict) -> dict:
            o = objs[tool]
            repo = o.repo_bytes()
            row = {
                "step": step, "tool": tool,
                "wall_s": round(r["wall_s"], 3), "client_cpu_s": round(r["client_cpu_s"], 3),
                "client_rss_kib": r["client_rss_kib"], "server_rss_kib": r["server_rss_kib"],
                "server_cpu_s": r.get("server_cpu_s"), "server_disk_read_bytes": r.get("server_disk_read_bytes"),
                "repo_bytes": repo, "growth_bytes": repo - last_repo.get(tool, 0),
                **o.extra_sizes(),
                "output": first_line(r["stdout"]) if tool != "restic" else
                " | ".join(l.strip() for l in r["stdout"].splitlines() if l.startswith(("Files:", "Added to the repo", "processed"))),
            }
            last_repo[tool] = repo
            results.append(row)
            srv = f", server {mib(row['server_rss_kib'] * 1024)} MiB" if row["server_rss_kib"] is not None else ""
            if row["server_cpu_s"] is not None:
                srv += f" ({row['server_cpu_s']:.1f} s CPU"
                if row["server_disk_read_bytes"] is not None:
                    srv += f", {mib(row['server_disk_read_bytes'])} MiB read from disk"
                srv += ")"
            say(f"  {tool:<6} {STEP_TITLES[step]:<26} {row['wall_s']:8.1f} s, client {mib(row['client_rss_kib'] * 1024)} MiB"
                f"{srv}, repo {mib(repo)} MiB (+{mib(row['growth_bytes'])})")
            if row["output"]:
                say(f"         {row['output']}")
            return row

        for t, o in objs.items():
            say(f"{t}: setting up")
            o.setup()
            last_repo[t] = o.repo_bytes()
            for step in ("v1", "nochange"):
                quiesce(corpus)
                record(t, step, o.backup(step))

        say("editing the corpus into version 2 ...")
        say("  " + runner.run("corpus-edit", [sys.executable, os.path.join(HERE, "corpus.py"), "edit",
                                              "--seed", str(args.seed), "--scale", str(args.scale), corpus],
                              dict(os.environ)).strip())
        info["corpus_v2"] = corpus_stats(corpus)
        settle()

        for t, o in objs.items():
            quiesce(corpus)
            record(t, "v2", o.backup("v2"))

        if deleted_at is not None:
            # An earlier run's files were deleted lately: creating files stays slow on ext4
            # for a while after, which would land on whichever restore comes first.
            left = RECENTLY_DELETED_S - (time.time() - deleted_at)
            if left > 0:
                say(f"waiting {left:.0f} s before the restores: an earlier run's files were deleted "
                    "lately, and ext4 creates files slowly for five minutes after a mass delete")
                time.sleep(left)
        say("hashing the corpus (version 2) for verification ...")
        expected = manifest(corpus)
        for t, o in objs.items():
            target = os.path.join(work, f"restore-{t}")
            quiesce()
            r, root = o.restore(target)
            row = record(t, "restore", r)
            problems = compare(expected, root)
            if problems:
                row["verify"] = f"FAILED ({len(problems)})"
                row["verify_problems"] = problems[:200]
                failures.append(f"{t}: restore differs from the corpus in {len(problems)} places, e.g.\n    "
                                + "\n    ".join(problems[:10]))
                with open(os.path.join(logs, f"verify-{t}.txt"), "w") as f:
                    f.write("\n".join(problems) + "\n")
                say(f"  {t}: restore verification FAILED: {len(problems)} differences (see {logs}/verify-{t}.txt)")
            else:
                row["verify"] = "ok"
                say(f"  {t}: restore verified: {len(expected)} entries identical")
            # Each restore stays until the end of the run. ext4 passes over inodes freed in the
            # last 5 seconds when it allocates new ones, and over those freed in the last 5 minutes
            # while their inode table block is dirty, which the next restore's own creations make
            # it: deleting one tool's restore here made the next tool's restore spend most of its
            # time in the kernel's inode allocator (a restore run right after another was deleted
            # took two to three times as long, nearly all of it system time).
    except BenchError as e:
        print(f"\nrun.py: {e}", file=sys.stderr)
        aborted = str(e).splitlines()[0]
        exit_code = 1
    except KeyboardInterrupt:
        print("\nrun.py: interrupted", file=sys.stderr)
        aborted = "interrupted"
        exit_code = 130
    finally:
        for o in objs.values():
            try:
                o.stop()
            except Exception as e:  # noqa: BLE001 - stopping is best effort
                print(f"run.py: could not stop {o.name}: {e}", file=sys.stderr)

    info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    c1, c2 = info.get("corpus_v1"), info.get("corpus_v2")
    header = [
        f"Backup benchmark: {', '.join(tools)}; scale {args.scale}, seed {args.seed}; {info['started']}",
        f"machine: {mach['nproc']} CPUs, {mach['cpu']}, {mach['memory']} RAM, Linux {mach['kernel']}",
    ]
    if c1:
        header.append(f"corpus v1: {c1['files']} files, {mib(c1['bytes'])} MiB"
                      + (f"; v2: {c2['files']} files, {mib(c2['bytes'])} MiB" if c2 else ""))
    for t, v in info["tools"].items():
        header.append(f"{t}: {v}")
    text = "\n".join(header) + "\n\n" + table(results, tools) + "\n"
    if "cairn" in objs:
        text += (f"\nCairn repo = the us cell's bucket ({objs['cairn'].bucket()}); "
                 "server RSS = cairn-server's peak during the step.\n")
    if aborted:
        text += f"\nRUN ABORTED (results above are incomplete): {aborted}\n"
    if failures:
        text += "\nVERIFICATION FAILURES:\n" + "\n".join(failures) + "\n"
    say("\n" + text)
    with open(os.path.join(work, "results.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({**info, "results": results, "failures": failures, "aborted": aborted,
                   "complete": exit_code == 0}, f, indent=2)
    say(f"results: {work}/results.txt, {work}/results.json; logs in {logs}")

    if not args.keep:
        deleted = 0
        for name in ("corpus", "restic-repo", "restic-cache", "borg-repo", "borg-base", "cairn", "home",
                     *(f"restore-{t}" for t in TOOLS)):
            path = os.path.join(work, name)
            deleted += sum(len(names) for _, _, names in os.walk(path))
            shutil.rmtree(path, ignore_errors=True)
        if deleted > 10_000:
            with open(os.path.join(work, DELETED_AT), "w") as f:
                f.write(f"{time.time():.0f}\n")
    if failures and exit_code == 0:
        exit_code = 1
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
