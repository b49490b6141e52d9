"""Name the best model on the leaderboard and describe its files in words (with humanize)."""

import argparse
import json
import sys
from pathlib import Path

import humanize

parser = argparse.ArgumentParser()
parser.add_argument("--leaderboard", required=True)
args = parser.parse_args()

print(f"Python {sys.version.split()[0]} from {sys.prefix}")
folder = Path(args.leaderboard)
board = json.loads((folder / "leaderboard.json").read_text())
best, runner_up = board["models"][0], board["models"][1]
metric = board["metric"]
margin = float(best[metric]) - float(runner_up[metric])
print(f"Best by {metric}: {best['model']} ({best[metric]}), ahead of {runner_up['model']} by {margin:.3f}.")
print(f"{humanize.apnumber(len(board['models'])).capitalize()} models ranked.")
for path in sorted(folder.iterdir()):
    print(f"{path.name}: {humanize.naturalsize(path.stat().st_size)}")
