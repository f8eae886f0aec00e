"""`python -m rollup_sync`."""

import sys

from rollup_sync.main import run
from seqflow.settings import Settings

sys.exit(run(Settings.from_env("rollup-sync")))
