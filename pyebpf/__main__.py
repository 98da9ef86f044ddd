import sys

from pyebpf.cli import main

sys.exit(main())
