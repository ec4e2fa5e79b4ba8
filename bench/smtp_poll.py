"""One SMTP status-polling cycle over 200 targets on 127.0.0.1: live aiosmtpd servers, closed ports, silent sockets.

Prints the cycle's wall time against the probe timeout (goal: at most 1.5 timeouts) and against a serial
baseline measured in the same run. Figures only, no pass/fail. The peers run in a child process so their
CPU (aiosmtpd, TLS server side) does not share a GIL with the probes being measured.

    python bench/smtp_poll.py [--timeout 2] [--targets 200] [--closed 30] [--silent 20] [--workers 32]
"""
import argparse
import contextlib
import math
import multiprocessing
import random
import ssl
import tempfile
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: repo root importable

from services.smtp_probe import check_many, check_smtp  # noqa: E402
from tests.smtp_peers import closed_port, make_certificate, silent_peer, smtp_server  # noqa: E402

USER, PASSWORD = "poller@example.com", "bench-password"
# The live servers rotate through these, so the cycle covers every handshake the probe does.
SERVER_KINDS = [(None, "none", None), ("starttls", "starttls", (USER, PASSWORD)), ("implicit", "ssl", None),
                (None, "none", (USER, PASSWORD)), ("starttls", "starttls", None)]


@dataclass(frozen=True)
class Target:
    kind: str  # live | closed | silent
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    ssl_context: object = None
    listing: int = 0  # tells apart the several listings of one live server


def serve_peers(connection, servers, silent):
    """Child process: start the live servers and silent sockets, report their ports, wait for the word to stop."""
    with tempfile.TemporaryDirectory(prefix="kabinet-bench-") as directory, contextlib.ExitStack() as stack:
        certificate = make_certificate(Path(directory))
        live = []
        for i in range(servers):
            tls, security, auth = SERVER_KINDS[i % len(SERVER_KINDS)]
            server = stack.enter_context(smtp_server(tls=tls, auth=auth, certificate=certificate))
            live.append((server.host, server.port, security, auth))
        quiet = [stack.enter_context(silent_peer()) for _ in range(silent)]
        connection.send((str(certificate.ca_path), live, [(peer.host, peer.port) for peer in quiet]))
        connection.recv()


def probe_timed(target, timeout, durations):
    started = time.monotonic()
    result = check_smtp(target.host, target.port, target.security, target.username, target.password,
                        timeout=timeout, ssl_context=target.ssl_context)
    durations[target] = time.monotonic() - started
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=2.0, help="probe timeout in seconds (default 2)")
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--servers", type=int, default=10, help="live aiosmtpd servers the live targets share")
    parser.add_argument("--closed", type=int, default=30)
    parser.add_argument("--silent", type=int, default=20)
    parser.add_argument("--workers", type=int, default=32, help="check_many max_workers (default: its default)")
    parser.add_argument("--sample", type=int, default=5, help="live and closed targets probed serially for the baseline")
    args = parser.parse_args()
    live_count = args.targets - args.closed - args.silent
    if live_count < 0:
        parser.error("--closed + --silent exceed --targets")

    parent_end, child_end = multiprocessing.Pipe()
    peers = multiprocessing.Process(target=serve_peers, args=(child_end, args.servers, args.silent), daemon=True)
    started = time.monotonic()
    peers.start()
    try:
        ca_path, live, silent = parent_end.recv()
        setup = time.monotonic() - started
        trusting = ssl.create_default_context(cafile=ca_path)

        targets = []
        for i in range(live_count):
            host, port, security, auth = live[i % len(live)]
            user, password = auth or (None, None)
            # Equal fields but separate entries: a server listed several times is probed several times.
            targets.append(Target("live", host, port, security, user, password, trusting, i))
        targets += [Target("closed", "127.0.0.1", closed_port(), "none", None, None) for _ in range(args.closed)]
        targets += [Target("silent", host, port, "none", None, None) for host, port in silent]
        # A real table lists servers in no useful order; a fixed seed keeps runs comparable.
        random.Random(1).shuffle(targets)

        durations = {}
        started = time.monotonic()
        results = check_many(targets, lambda t: probe_timed(t, args.timeout, durations), max_workers=args.workers)
        cycle = time.monotonic() - started

        # Serial baseline: a few of each kind, one after another, extrapolated to the whole list.
        serial_per_kind = {}
        for kind in ("live", "closed", "silent"):
            # Every silent check costs exactly T, so two of them say all there is to say.
            sample = [t for t in targets if t.kind == kind][:args.sample if kind != "silent" else 2]
            if sample:
                sample_durations = {}
                for target in sample:
                    probe_timed(target, args.timeout, sample_durations)
                serial_per_kind[kind] = sum(sample_durations.values()) / len(sample)
    finally:
        parent_end.send("stop")
        peers.join(10)

    kinds = Counter(t.kind for t in targets)
    outcomes = Counter((t.kind, r.reason or "online") for t, r in results)
    serial_estimate = sum(serial_per_kind.get(kind, 0) * count for kind, count in kinds.items())
    summed = sum(durations.values())
    rounds = math.ceil(kinds["silent"] / args.workers) if kinds["silent"] else 1

    print(f"targets: {len(targets)}  live {kinds['live']} (on {args.servers} aiosmtpd servers)  "
          f"closed {kinds['closed']}  silent {kinds['silent']}   [peers started in {setup:.2f}s]")
    print("outcomes: " + ", ".join(f"{kind}->{reason} {n}" for (kind, reason), n in sorted(outcomes.items())))
    print(f"timeout T: {args.timeout:.2f}s   workers: {args.workers}   "
          f"expected floor: {rounds} x T (silent targets / workers, rounded up)")
    print(f"cycle wall time: {cycle:.3f}s   wall / T: {cycle / args.timeout:.2f} (goal <= 1.5)   "
          f"checks/s: {len(targets) / cycle:.1f}")
    print("serial per check, sampled: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in serial_per_kind.items()))
    print(f"serial baseline (sample x counts): {serial_estimate:.2f}s   concurrent speed-up: "
          f"{serial_estimate / cycle:.1f}x")
    print(f"sum of per-check times inside the cycle: {summed:.2f}s   (speed-up vs that sum: {summed / cycle:.1f}x)")


if __name__ == "__main__":
    main()
