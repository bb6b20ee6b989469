"""The bundled app's entry point: the ``assistant`` command (no arguments: the GUI)."""

import sys

from assistant.cli import main

if __name__ == "__main__":
    sys.exit(main())
