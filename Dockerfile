# Expansion Radar: a slim, non-root image. Build: docker build -t expansion-radar .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scoring ./scoring
COPY db ./db
COPY bot ./bot
COPY sources ./sources
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 radar
COPY --from=build /install /usr/local
USER radar
WORKDIR /home/radar
ENV PYTHONUNBUFFERED=1 PORT=3000 LOG_FORMAT=json
EXPOSE 3000
# /healthz answers in HTTP mode and, on the same port, in Socket Mode too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"
# Migrations first (idempotent, safe with several replicas), then the bot and its scheduler.
CMD ["sh", "-c", "expansion-radar db upgrade && exec expansion-radar run"]
