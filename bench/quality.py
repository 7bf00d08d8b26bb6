"""Quality on the labeled sets: OCR per class and engine (and the router), then search per
query language, before and after the ranking changes of issue 20.

    .venv/bin/python bench/quality.py [--only ocr|search]

Each part runs alone too (`bench/quality_ocr.py`, `bench/quality_search.py`); their module
docstrings say what they measure and how the labeled sets were made.
"""

from __future__ import annotations

# isort: off
import scopix.server  # noqa: F401  # first: it caps numpy's threads as the server does

# isort: on
import argparse

import quality_ocr  # beside this script, which Python puts first on sys.path
import quality_search

PARTS = {"ocr": quality_ocr.report, "search": quality_search.report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(PARTS), help="run one part")
    args = parser.parse_args()
    for name, report in PARTS.items():
        if args.only in (None, name):
            print(f"== {name} ==", flush=True)
            report()


if __name__ == "__main__":
    main()
