import sys

from charla_cli.main import main

sys.exit(main())
