"""Keep a few processes running, as the systemd units (Restart=always) do: `make prod` on one machine.

    python deploy/supervise.py NAME=COMMAND [NAME=COMMAND ...]

Each COMMAND (split like a shell would) is started at once. One that exits is started again after 1 s,
then 2, 4 … 30 s while it keeps dying within a minute of starting; the others are never touched.
SIGTERM or SIGINT stops them all (SIGTERM, then SIGKILL after 10 s) and ends the supervisor.
Standard library only: it must outlive whatever it runs.
"""
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
            self.process = subprocess.Popen(self.command)
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
                self.start()
        elif self.process.poll() is not None:
            if now - self.started >= STABLE_SECONDS:
                self.delay = 1
            self.restart_at = now + self.delay
            say(f"{self.name} (pid {self.process.pid}) exited with {self.process.returncode}; "
                f"starting it again in {self.delay} s")
            self.delay = min(MAX_DELAY, self.delay * 2)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()


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
    for program in programs:
        program.stop()
    deadline = time.monotonic() + 10
    for program in programs:
        if program.process:
            try:
                program.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                program.process.kill()
                program.process.wait()


if __name__ == "__main__":
    if not sys.argv[1:] or not all("=" in spec for spec in sys.argv[1:]):
        sys.exit(__doc__)
    main(sys.argv[1:])
