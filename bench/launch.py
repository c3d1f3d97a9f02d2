"""Run one benchmark server in this process: the real app or its bare-Starlette twin.

    python bench/launch.py {server|twin} --directory FILE --database URL --port PORT

Both run under uvicorn with one worker and the same settings (uvloop and httptools when
installed, as `uapi serve` gets them; access log off, log level warning), so the only
difference between them is the app. `server` is exactly what `uapi serve` runs:
``uapi.app.create_app(Settings(...), Directory.load(FILE))``.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("app", choices=["server", "twin"])
    parser.add_argument("--directory", type=Path, required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    import uvicorn

    from uapi.accounts import Directory
    from uapi.settings import Settings

    settings = Settings(database_url=args.database, directory_path=args.directory)
    directory = Directory.load(args.directory)
    if args.app == "server":
        from uapi.app import create_app
        app = create_app(settings, directory)
    else:
        from twin import create_twin
        app = create_twin(settings, directory)
    from uapi import heap
    heap.settle()   # as `uapi serve` does once the app is built
    uvicorn.run(app, host="127.0.0.1", port=args.port, workers=1, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
