"""Count the words in every record's text; independent of the check, so it completes."""

import argparse
import collections
import json
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--records", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

counts = collections.Counter()
with open(Path(args.records) / "records.jsonl") as f:
    for line in f:
        counts.update(json.loads(line)["text"].split())
(Path(args.out) / "counts.json").write_text(json.dumps(dict(counts.most_common()), indent=2))
print(", ".join(f"{word}: {n}" for word, n in counts.most_common(5)))
