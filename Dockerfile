FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MALLOC_ARENA_MAX=2 \
    NANOGEN_DATA_DIR=/data PORT=8080

RUN useradd --create-home --uid 10001 nanogen && mkdir -p /data && chown nanogen:nanogen /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY nanogen ./nanogen
COPY pages ./pages
COPY app.py ./
RUN pip install --no-cache-dir .

USER nanogen
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8080\")}/healthz')"
CMD ["python", "app.py"]
