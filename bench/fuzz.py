"""Schema-driven fuzzing of ``brushwork serve``: schemathesis generates requests from the app's own
OpenAPI document (every endpoint, every field of the settings form) and checks that no answer is a
server error (5xx).

    pip install schemathesis   # not in the dev extra: its pytest plugin slows every test run
    python bench/fuzz.py [--examples 40]

A server with a tiny random VGG is started on a free loopback port with a fresh data folder.
Writes bench/results/fuzz.json (the command, the exit status and schemathesis's summary).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

from load import RESULTS, free_port, start_server, tiny_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=40, help="generated requests per operation and phase")
    parser.add_argument("--output", type=Path, default=RESULTS / "fuzz.json")
    parser.add_argument("--schemathesis", default="schemathesis",
                        help="the command that runs schemathesis (e.g. 'env PYTHONPATH=DIR python -m schemathesis.cli')")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        server = start_server(Path(scratch) / "data", tiny_weights(Path(scratch)), port, "--max-queue", "1000",
                              "--max-size", "64")
        command = [*shlex.split(args.schemathesis), "--no-color", "run",
                   f"http://127.0.0.1:{port}/openapi.json", "--checks", "not_a_server_error",
                   "--max-examples", str(args.examples), "--generation-deterministic"]
        began = time.monotonic()
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=3600)
        finally:
            server.terminate()
            server.wait(30)
    output = run.stdout + run.stderr
    print(output)
    summary = [line for line in output.splitlines() if line.strip()][-25:]
    report = {"command": " ".join(["schemathesis", *command[command.index("--no-color"):]]), "examples_per_operation": args.examples,
              "seconds": round(time.monotonic() - began, 1), "exit_status": run.returncode,
              "no_server_errors": run.returncode == 0, "summary": summary}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    raise SystemExit(run.returncode)


if __name__ == "__main__":
    main()
