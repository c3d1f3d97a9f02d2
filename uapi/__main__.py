"""`python -m uapi`: the same command line as `uapi`, for environments without the script on PATH."""
import sys

from uapi.cli import main

sys.exit(main())
