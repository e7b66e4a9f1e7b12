"""A process that writes a journal, run by ``test_journal.py``: ``python _journal_child.py
COMMAND PATH [ARGS]``.

- ``add PATH START COUNT``: open the journal and add COUNT reports named ``r{START}``,
  ``r{START+1}``, ...; after each ``add()`` returns, print ``ack NAME`` (flushed), so the
  parent knows exactly which adds were acknowledged before it kills this process.
- ``hold PATH``: open the journal for writing, print ``held PID``, then wait for stdin to close.
- ``efbig PATH LIMIT``: with ``RLIMIT_FSIZE`` = LIMIT bytes (SIGXFSZ ignored, so a write
  past it fails with EFBIG), add reports until an add fails; print ``ack NAME`` per add, then
  ``failed ERRNO LEN SIZE MESSAGE`` (errno, len(history) and journal size after the failure).
- ``exit PATH COUNT``: add COUNT reports and leave without closing the journal.
- ``dump PATH``: open it read-only and print the names and metric values as JSON lines.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from typing import Any

from fasttrial.optimization import History, Metric, Trial

LOSS = Metric("loss", minimize=True)
ACC = Metric("acc", minimize=False, bounds=(0.0, 1.0))


def report(i: int) -> Trial.Report:
    """Report ``r{i}``: a few layouts (an extra config key, a summary key, failures)."""
    config: dict[str, Any] = {"i": i, "kind": ["a", "b", "c"][i % 3], "x": i / 7}
    if i % 4 == 0:
        config["extra"] = f"e{i % 5}"
    trial: Trial[Any] = Trial(name=f"r{i}", config=config, metrics=[LOSS, ACC], seed=i)
    with trial.begin():
        pass
    if i % 6 == 5:
        trial.summary["note"] = "x" * (i % 11)
    if i % 9 == 4:
        return trial.fail()
    return trial.success(loss=(i * 37 % 101) / 10, acc=(i % 10) / 10)


def main(argv: list[str]) -> int:
    command, path = argv[0], argv[1]
    out = sys.stdout
    if command == "add":
        start, count = int(argv[2]), int(argv[3])
        history = History.open(path)
        for i in range(start, start + count):
            history.add(report(i))
            out.write(f"ack r{i}\n")
            out.flush()
        history.close()
        out.write("done\n")
        out.flush()
    elif command == "hold":
        history = History.open(path)
        out.write(f"held {os.getpid()}\n")
        out.flush()
        sys.stdin.read()
        history.close()
    elif command == "efbig":
        limit = int(argv[2])
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        history = History.open(path)
        i = 0
        while True:
            try:
                history.add(report(i))
            except OSError as error:
                size = os.path.getsize(path)
                message = str(error).replace("\n", " ")
                out.write(f"failed {error.errno} {len(history)} {size} {message}\n")
                break
            out.write(f"ack r{i}\n")
            out.flush()
            i += 1
        history.close()
    elif command == "exit":
        history = History.open(path)
        for i in range(int(argv[2])):
            history.add(report(i))
        # no close(): leaving the interpreter must lose nothing
    elif command == "dump":
        history = History.open(path, mode="r")
        for r in history:
            out.write(json.dumps([r.name, r.status.value, r.values]) + "\n")
    else:
        raise SystemExit(f"unknown command {command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
