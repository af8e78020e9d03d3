"""``python -m mi_cli``: the same as the ``mi`` console script."""

import sys

from mi_cli.main import main

sys.exit(main())
