FROM python:3.11-slim

# NiceGUI keeps per-browser storage under NICEGUI_STORAGE_PATH (default `.nicegui` in the working directory, which
# uid 10001 cannot write in /app): it goes with the rest of the data under /data.
# MALLOC_ARENA_MAX=2: glibc would keep up to 8 arenas per core for the DB/storage/HTTP threads, memory it rarely
# returns; two arenas keep the RSS of a process holding hundreds of tabs lower (README "Docker", issue 18).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MALLOC_ARENA_MAX=2 \
    NANOGEN_DATA_DIR=/data NICEGUI_STORAGE_PATH=/data/nicegui PORT=8080

RUN useradd --create-home --uid 10001 nanogen && mkdir -p /data/nicegui && chown -R nanogen:nanogen /data
WORKDIR /app

# Dependencies first, from pyproject.toml alone: a source change reuses this layer instead of reinstalling them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt

# Then the sources, and the package itself without touching the dependencies.
COPY README.md app.py ./
COPY nanogen ./nanogen
COPY pages ./pages
RUN pip install --no-cache-dir --no-deps .

USER nanogen
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8080\")}/healthz')"
CMD ["python", "app.py"]
