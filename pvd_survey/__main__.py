"""`python -m pvd_survey`: the operator command line."""

import sys

from pvd_survey.cli import main

sys.exit(main())
