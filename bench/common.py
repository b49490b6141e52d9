"""What bench/seed.py and bench/run.py share: where data goes, the environment, and the seeded rows' names."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK_DIR = Path("/tmp/runboard-bench")

# The rows run.py looks for. Fixed names, so both databases seed the same shape and run.py finds them again.
BIG_RUN_EXTERNAL_ID = "bench_big_dag_1000"
LOG_RUN_ID = "bench_log_run"  # the local engine's run id; its step logs live under the engine dir
LOG_NODE_ID = "write"
RARE_WORD = "overflow"  # appears in the 1 GB log a few hundred times and nowhere else
BENCH_USER = "bench-admin"


def default_database_url(work_dir: Path) -> str:
    return f"sqlite:///{work_dir / 'bench.sqlite3'}"


def sqlite_path(url: str) -> Path | None:
    parsed = urlparse(url)
    if parsed.scheme != "sqlite":
        return None
    # sqlite:////abs/path → "//abs/path"; sqlite:///rel → "/rel" (dj-database-url's reading)
    path = parsed.path[1:] if parsed.path.startswith("//") else parsed.path.lstrip("/")
    return Path(path).resolve()


def configure(database_url: str | None, work_dir: Path) -> str:
    """Point Django at the bench database and keep every file it writes out of the repository."""
    work_dir = work_dir.resolve()
    if work_dir == REPO or REPO in work_dir.parents:
        sys.exit(f"--work-dir {work_dir} is inside the repository; use a path outside it (e.g. /tmp)")
    url = database_url or os.environ.get("BENCH_DATABASE_URL") or default_database_url(work_dir)
    path = sqlite_path(url)
    if path is not None and (path == REPO or REPO in path.parents):
        sys.exit(f"the SQLite database {path} is inside the repository; put it under {work_dir}")
    work_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = url
    # settings.py writes a secret key and a static folder under RUNBOARD_VAR_DIR: not in the repo's var/.
    os.environ["RUNBOARD_VAR_DIR"] = str(work_dir / "var")
    os.environ["RUNBOARD_LOCAL_ENGINE_DIR"] = str(work_dir / "engine")
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    os.environ.pop("DEBUG", None)  # DEBUG keeps every query in memory: not what production does
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()
    return url


def describe_database() -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version} ({connection.settings_dict['NAME']})"
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
    return f"PostgreSQL {version} ({connection.settings_dict['NAME']})"


def database_size() -> int:
    from django.db import connection

    if connection.vendor == "sqlite":
        name = Path(connection.settings_dict["NAME"])
        return sum(p.stat().st_size for p in name.parent.glob(name.name + "*") if p.is_file())
    with connection.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database())")
        return cur.fetchone()[0]


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"
