"""Profile a CSV table (a file, or every .csv in a folder): its rows, then each numeric column's mean, minimum and
maximum for every value of a label column. Writes profile.json; prints the first rows and the profile."""

import argparse
import csv
import json
from pathlib import Path


def tables(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(path.rglob("*.csv"))


def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--names", type=Path, help="a CSV of id,name to show labels by name")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    rows = []
    for table in tables(args.data):
        with table.open(newline="") as fh:
            rows.extend(csv.DictReader(fh))
    if not rows:
        raise SystemExit(f"no rows in {args.data}")
    print(f"{len(rows)} rows from {args.data}; the first:")
    for row in rows[:3]:
        print("  " + ",".join(row.values()))

    names = {}
    if args.names:
        with args.names.open(newline="") as fh:
            names = {r["id"]: r["name"] for r in csv.DictReader(fh)}
    columns = [c for c in rows[0] if c != args.label and all(number(r[c]) is not None for r in rows)]
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row.get(args.label, "all"), []).append(row)

    profile = {}
    for label, members in sorted(groups.items()):
        shown = f"{names[label]} ({label})" if label in names else label
        stats = {}
        for column in columns:
            values = [number(r[column]) for r in members]
            stats[column] = {
                "mean": round(sum(values) / len(values), 3),
                "min": min(values),
                "max": max(values),
            }
        profile[shown] = {"rows": len(members), "columns": stats}
        means = ", ".join(f"{c} {s['mean']}" for c, s in stats.items())
        print(f"{shown}: {len(members)} rows; mean {means}")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile.json").write_text(json.dumps(profile, indent=2) + "\n")


if __name__ == "__main__":
    main()
