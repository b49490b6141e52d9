"""Write summary.md for a folder: each file with its size, and small JSON files in full."""

import argparse
import json
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--folder", required=True)
parser.add_argument("--max_json_bytes", type=int, default=4096)
parser.add_argument("--title")
parser.add_argument("--out", required=True)
args = parser.parse_args()

folder = Path(args.folder)
files = sorted(p for p in folder.rglob("*") if p.is_file())
total = sum(p.stat().st_size for p in files)
lines = [
    f"# {args.title or folder.name}",
    "",
    f"{len(files)} file{'' if len(files) == 1 else 's'}, {total} bytes",
    "",
]
for path in files:
    size = path.stat().st_size
    lines.append(f"- `{path.relative_to(folder)}` ({size} bytes)")
    if path.suffix == ".json" and size <= args.max_json_bytes:
        content = json.dumps(json.loads(path.read_text()), indent=2)
        lines += ["", "```json", content, "```", ""]

text = "\n".join(lines) + "\n"
(Path(args.out) / "summary.md").write_text(text)
print(text)
