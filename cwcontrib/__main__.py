import sys

from cwcontrib.cli import main

sys.exit(main())
