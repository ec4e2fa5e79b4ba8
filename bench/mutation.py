"""Mutation bench: plant each small, realistic bug of bench/mutants.py in a copy of the project, run only the
tests that cover it, and print which bugs the tests let through and the kill rate.

    .venv/bin/python bench/mutation.py                 # every mutant, SQLite
    .venv/bin/python bench/mutation.py --only codes    # mutants whose id contains "codes"
    .venv/bin/python bench/mutation.py --list

A mutant is *killed* when its tests fail, *survives* when they pass, and is *stale* when its original text is
no longer in the file exactly once (the code moved: fix the mutant, the bench exits 2). Every run first
checks that the covering tests pass on the unchanged copy. The working tree is never touched.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from mutants import MUTANTS  # noqa: E402

IGNORE = shutil.ignore_patterns(".venv", ".git", "instance", "test-artifacts", "__pycache__", ".hypothesis", "*.egg-info")


def run_tests(copy, tests, database_url):
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    env.pop("TEST_DATABASE_URL", None)
    if database_url:
        env["TEST_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", "-m", "not e2e",
               "-W", "ignore::pytest.PytestUnknownMarkWarning", *tests]
    started = time.monotonic()
    result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
    return result.returncode, time.monotonic() - started, result.stdout[-3000:]


def apply(copy, mutant):
    """Plant the mutant; the original texts to restore, or None when it is stale."""
    originals = {}
    for path, find, replace in mutant["edits"]:
        file = copy / path
        text = originals.get(path) or file.read_text()
        current = file.read_text()
        if current.count(find) != 1:
            for restore_path, restore_text in originals.items():
                (copy / restore_path).write_text(restore_text)
            return None
        originals.setdefault(path, text)
        file.write_text(current.replace(find, replace))
    return originals


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="run the mutants whose id contains this")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--database-url", help="run the tests on PostgreSQL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    args = parser.parse_args()
    mutants = [m for m in MUTANTS if not args.only or args.only in m["id"]]
    if args.list:
        for m in mutants:
            print(f"{m['id']:<40} {m['why']}")
        return 0
    copy = Path(tempfile.mkdtemp(prefix="kabinet-mutants-"))
    try:
        shutil.copytree(ROOT, copy, dirs_exist_ok=True, ignore=IGNORE)
        tests = sorted({t for m in mutants for t in m["tests"]})
        code, seconds, output = run_tests(copy, tests, args.database_url)
        if code != 0:
            print(output)
            print(f"The covering tests fail on the unchanged code ({seconds:.0f} s): fix them first.")
            return 1
        print(f"baseline: {len(tests)} test files pass on the unchanged code ({seconds:.0f} s)\n")
        results = {"killed": [], "survived": [], "stale": []}
        for m in mutants:
            originals = apply(copy, m)
            if originals is None:
                results["stale"].append(m)
                print(f"STALE     {m['id']}")
                continue
            try:
                code, seconds, output = run_tests(copy, m["tests"], args.database_url)
            finally:
                for path, text in originals.items():
                    (copy / path).write_text(text)
            outcome = "survived" if code == 0 else "killed"
            results[outcome].append(m)
            print(f"{outcome.upper():<9} {m['id']:<40} {seconds:5.1f} s")
        killed, survived = len(results["killed"]), len(results["survived"])
        print()
        for m in results["survived"]:
            print(f"SURVIVOR {m['id']}: {m['why']}\n  tests: {' '.join(m['tests'])}")
        for m in results["stale"]:
            print(f"STALE {m['id']}: its original text is not in {', '.join(e[0] for e in m['edits'])} exactly once")
        total = killed + survived
        print(f"\nkill rate: {killed}/{total} = {100 * killed / total:.1f}% "
              f"({len(results['stale'])} stale)" if total else "no mutant ran")
        return 2 if results["stale"] else 0
    finally:
        shutil.rmtree(copy, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
