import sys

from rackscan.cli import main

sys.exit(main())
