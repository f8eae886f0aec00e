"""`python -m seqflow_dispatcher`."""

import sys

from seqflow.settings import Settings
from seqflow_dispatcher.main import run

sys.exit(run(Settings.from_env("dispatcher")))
