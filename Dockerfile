# The API and the worker share one image; the command picks the role.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv PATH=/app/.venv/bin:$PATH PYTHONPATH=/app
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev
COPY . .
RUN useradd --system --uid 10001 numbors && mkdir -p /app/var && chown numbors /app/var
USER numbors
ENV NUMBORS_ENV=production NUMBORS_HOST=0.0.0.0
EXPOSE 8000
CMD ["sh", "-c", "uvicorn --factory api.app:app_factory --host $NUMBORS_HOST --port ${NUMBORS_PORT:-8000} --no-access-log --proxy-headers"]
