"""`python -m workers`: one ARQ worker process."""

from __future__ import annotations

import logging

from settings import get_settings
from workers.runtime import NumborsWorker
from workers.settings import worker_options


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    NumborsWorker(**worker_options(settings)).run()


if __name__ == "__main__":
    main()
