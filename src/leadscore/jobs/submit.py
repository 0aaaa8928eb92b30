"""spark-submit's entry file: `spark-submit [options] src/leadscore/jobs/submit.py <command> [flags]`.

spark-submit runs a .py file, not a console script. This one hands its arguments to `leadscore <command>`, so the job
uses the session spark-submit configured (leadscore.spark.get_spark) and prints the same JSON last line.
"""

import sys

from leadscore.cli import main

if __name__ == "__main__":
    sys.exit(main())
