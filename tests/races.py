"""Two requests racing through a check-then-write (SECURITY issue, item 5): both read before either
writes, unless the first holds a lock the second must wait for (models.write_transaction)."""
import threading


def hold_after(monkeypatch, owner, name, timeout=1.0):
    """Replace `owner.name` (the read a check depends on) so that, after its first call in each thread, it
    waits until the other thread has made that read too. When the other is waiting for a lock this one
    holds, that never happens: after `timeout` both go on, one after the other."""
    real, waited = getattr(owner, name), set()
    barrier = threading.Barrier(2, timeout=timeout)

    def read_then_wait(*args, **kwargs):
        result = real(*args, **kwargs)
        if threading.get_ident() not in waited:  # the check, not a page rendered afterwards
            waited.add(threading.get_ident())
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
        return result

    monkeypatch.setattr(owner, name, read_then_wait)


def run_together(*functions):
    """Call the functions in threads released at once; their results (an exception's repr for a raise)."""
    start, results = threading.Barrier(len(functions)), [None] * len(functions)

    def run(n):
        start.wait()
        try:
            results[n] = functions[n]()
        except Exception as exc:  # noqa: BLE001 (the caller's assertion shows it)
            results[n] = repr(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results
