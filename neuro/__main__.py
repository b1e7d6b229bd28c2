import sys

from neuro.cli import main

sys.exit(main())
