"""`python -m workers`: one ARQ worker process."""

from __future__ import annotations

import logging

from settings import configure_logging, get_settings
from workers.runtime import NumborsWorker
from workers.settings import worker_options


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # ARQ logs two INFO lines for every job it runs (its start and its end), a third of a
        # no-op job's cost; the job's record and events say as much. Its warnings and errors
        # (a failed job's traceback, an expired job) still show; DEBUG brings the lines back.
        logging.getLogger("arq.worker").setLevel(logging.WARNING)
    NumborsWorker(**worker_options(settings)).run()


if __name__ == "__main__":
    main()
