"""Messages shown to users and API clients say what went wrong without saying where things live on the server:
an absolute path becomes its last part ("/srv/runboard/examples/train/pipeline.yml:12" becomes "pipeline.yml:12").
The whole message still goes to the server's log where it is logged."""

from __future__ import annotations

import re

# Two or more /-separated parts, not inside a URL (after a word character, ':' or '/') nor a relative path.
_PATH = re.compile(r"(?<![\w:/.~-])(?:/[\w.@+~-]+){2,}/?")


def public_message(text: str) -> str:
    return _PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], text or "")
