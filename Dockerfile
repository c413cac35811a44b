# The livebot image used by docker-compose.yml for consumers and workers.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY pipeline ./pipeline
COPY tasks ./tasks
COPY consumers ./consumers
COPY models ./models
COPY migrations ./migrations
COPY livebot ./livebot
COPY alembic.ini ./
# On a GPU host PyPI's torch 2.13.0 wheel brings its CUDA runtime; the editable install keeps
# migrations/ and the shipped models next to the code, where livebot looks for them.
RUN pip install torch==2.13.0 && pip install -e .
USER nobody
CMD ["livebot", "--help"]
