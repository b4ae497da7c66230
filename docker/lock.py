"""Turn a ``pip install --dry-run --report`` into requirements.lock (exact pins).

pip install --dry-run --ignore-installed --quiet --report report.json .
python docker/lock.py report.json > requirements.lock
"""

from __future__ import annotations

import json
import sys

HEADER = """\
# Pinned runtime dependencies of minhu (docker/Dockerfile installs exactly these).
# Regenerate after changing [project] dependencies in pyproject.toml:
#   pip install --dry-run --ignore-installed --quiet --report report.json .
#   python docker/lock.py report.json > requirements.lock
"""


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    pins = sorted(
        f"{item['metadata']['name'].lower().replace('_', '-')}=={item['metadata']['version']}"
        for item in report["install"]
        if item["metadata"]["name"].lower() != "minhu"
    )
    sys.stdout.write(HEADER + "\n" + "\n".join(pins) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
