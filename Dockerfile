# One image for every deployment: a single SQLite process or many replicas on PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    JIFEN_HTTP_HOST=0.0.0.0 JIFEN_DATABASE_URL=sqlite+aiosqlite:////data/jifen.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY core ./core
COPY cards ./cards
COPY config ./config
COPY migrations ./migrations
RUN pip install . && useradd --create-home --uid 10001 jifen && mkdir /data && chown jifen /data

USER jifen
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')"
CMD ["jifen", "run"]
