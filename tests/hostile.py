"""Files a user might hand the loaders by mistake or on purpose, each written fresh into a test's folder."""

from __future__ import annotations

from pathlib import Path

# The "billion laughs" in YAML: nine lists of nine aliases to the one before, 9**9 strings once expanded.
BILLION_LAUGHS = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def billion_laughs(folder: Path) -> Path:
    path = folder / "laughs.yml"
    path.write_text(BILLION_LAUGHS)
    return path


def deep(folder: Path, depth: int = 20_000) -> Path:
    path = folder / "deep.yml"
    path.write_text("[" * depth + "]" * depth + "\n")
    return path


def binary(folder: Path) -> Path:
    path = folder / "model.yml"
    path.write_bytes(b"type: pipeline\n" + bytes(range(256)) * 8)
    return path


def oversized(folder: Path, size: int = 50_000_000) -> Path:
    """Valid YAML of ``size`` bytes, padded with comments: only its size is wrong."""
    path = folder / "big.yml"
    line = "# a comment that pads the file out\n"
    path.write_text("type: pipeline\n" + line * (size // len(line) + 1))
    return path
