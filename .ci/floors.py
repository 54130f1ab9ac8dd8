"""Print the lower bound of every dependency in pyproject.toml as ``name==version``.

The floors live in one place, pyproject.toml; CI installs exactly these
versions in a fresh virtual environment and runs the test suite on them.
torch is left out: CI uses the pinned local CPU wheel (see README, "Tested
versions").

    python .ci/floors.py            # runtime and test-extra floors, one per line
"""

import re
import sys
from pathlib import Path

import tomllib

SKIP = {"torch"}


def floors(pyproject):
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    requirements = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    pins = []
    for requirement in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+)\s*", requirement)
        if match is None:
            sys.exit(f"floors.py: {requirement!r} has no plain '>=' lower bound; every dependency needs one")
        name, extras, version = match.groups()
        if name.lower() not in SKIP:
            pins.append(f"{name}{extras or ''}=={version}")
    return pins


if __name__ == "__main__":
    print("\n".join(floors(Path(__file__).resolve().parent.parent / "pyproject.toml")))
