import sys

from controller.cli.commands import main

sys.exit(main())
