"""`python -m workers`: one ARQ worker process."""

from __future__ import annotations

import logging

from arq.worker import Worker

from settings import get_settings
from workers.settings import worker_options


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    Worker(**worker_options(settings)).run()


if __name__ == "__main__":
    main()
