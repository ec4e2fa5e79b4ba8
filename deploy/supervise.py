"""Keep a few processes running, as the systemd units (Restart=always) do: `make prod` on one machine.

    python deploy/supervise.py NAME=COMMAND [NAME=COMMAND ...]

Each COMMAND (split like a shell would) is started at once, in a process group of its own. One that
exits is started again after 1 s, then 2, 4 … 30 s while it keeps dying within a minute of starting;
what it started is stopped with it (SIGTERM, SIGKILL when the restart is due); the others are never
touched.
SIGTERM or SIGINT stops them all (SIGTERM to each one's process group, SIGKILL after 10 s) and ends
the supervisor.
Standard library only: it must outlive whatever it runs.
"""
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

STABLE_SECONDS = 60  # a process that ran this long starts again after 1 s
MAX_DELAY = 30


def say(message):
    print(f"supervise: {message}", file=sys.stderr, flush=True)


class Program:
    def __init__(self, name, command):
        self.name, self.command = name, shlex.split(command)
        self.process, self.started, self.delay, self.restart_at = None, 0.0, 1, None

    def start(self):
        self.started, self.restart_at = time.monotonic(), None
        try:
            self.process = subprocess.Popen(self.command, start_new_session=True)  # its own group: signal()
        except OSError as exc:
            say(f"{self.name} could not start ({exc}); trying again in {self.delay} s")
            self.restart_at = self.started + self.delay
            self.delay = min(MAX_DELAY, self.delay * 2)
            return
        say(f"{self.name} started (pid {self.process.pid})")

    def check(self):
        """Start it again when it is due; note when it has exited."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                if self.process:
                    self.signal(signal.SIGKILL)  # whatever of it outlived the grace below
                self.start()
        elif self.process.poll() is not None:
            # As systemd does with a unit's cgroup: what the dead process started goes too (gunicorn's
            # orphaned workers would keep the port and, under load, never notice their master is gone).
            self.signal(signal.SIGTERM)
            if now - self.started >= STABLE_SECONDS:
                self.delay = 1
            self.restart_at = now + self.delay
            say(f"{self.name} (pid {self.process.pid}) exited with {self.process.returncode}; "
                f"starting it again in {self.delay} s")
            self.delay = min(MAX_DELAY, self.delay * 2)

    def signal(self, sig):
        """To the process and what it started (gunicorn's workers), so none is left behind."""
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass


def main(specs):
    programs = [Program(*spec.split("=", 1)) for spec in specs]
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    for program in programs:
        program.start()
    while not stopping.wait(0.2):
        for program in programs:
            program.check()
    say("stopping")
    started = [program for program in programs if program.process]
    for program in started:
        program.signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for program in started:
        try:
            program.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        program.signal(signal.SIGKILL)  # what is left of its group
        program.process.wait()


if __name__ == "__main__":
    if not sys.argv[1:] or not all("=" in spec for spec in sys.argv[1:]):
        sys.exit(__doc__)
    main(sys.argv[1:])
