"""``python -m brushwork``: the same as the ``brushwork`` command."""

import sys

from brushwork.cli import main

sys.exit(main())
