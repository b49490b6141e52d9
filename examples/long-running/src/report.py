"""Say how many ticks the previous step wrote."""

import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--progress", required=True)
args = parser.parse_args()
ticks = (Path(args.progress) / "ticks.txt").read_text().splitlines()
print(f"{len(ticks)} ticks recorded; last: {ticks[-1] if ticks else 'none'}")
