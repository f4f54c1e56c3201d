"""Start or stop the PostgreSQL that CI's tests use (.ci/run): `start DIR` prints its URL."""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.pgserver_ci start|stop DATA_DIR", file=sys.stderr)
        return 2
    import pgserver

    command, folder = argv
    if command == "start":
        # cleanup_mode=None: the server outlives this process, until `stop`.
        print(pgserver.get_server(Path(folder), cleanup_mode=None).get_uri())
    else:
        pgserver.get_server(Path(folder), cleanup_mode="stop").cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
