"""Print progress once a second for --seconds seconds; on SIGTERM (a cancel) say so and stop."""

import argparse
import signal
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=int, required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()


def stop(signum, frame):
    print(f"received signal {signum} after {time.monotonic() - start:.0f}s; stopping", flush=True)
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, stop)
start = time.monotonic()
with open(Path(args.out) / "ticks.txt", "w") as log:
    for second in range(1, args.seconds + 1):
        # Sleep to the next whole second from the start, so the ticks do not drift.
        time.sleep(max(0.0, start + second - time.monotonic()))
        line = f"tick {second}/{args.seconds} ({100 * second // args.seconds}%)"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()
print(f"done after {time.monotonic() - start:.1f}s", flush=True)
