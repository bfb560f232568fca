"""``python -m benchmarks``: run every benchmark beside its baseline and print the table."""

import sys
from pathlib import Path

# Run from the repository root or not: the benchmarks import ``storage`` from there.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import main  # noqa: E402

sys.exit(main())
