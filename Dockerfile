# syntax=docker/dockerfile:1
# ordersite's image: every process of the Procfile runs from it (docker-compose.yml).
# The base is pinned to an exact Python and Debian release (the Python the lock files were
# compiled for); bump it on purpose, together with `make lock`.
ARG PYTHON_IMAGE=python:3.12.12-slim-bookworm

# --- build: the virtualenv, installed from the hashed lock only, and the static files --------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /venv
COPY requirements.lock /tmp/requirements.lock
RUN /venv/bin/pip install --require-hashes -r /tmp/requirements.lock
WORKDIR /app
COPY . .
# Static files are collected here, so a DEBUG=false web serves the admin with its CSS
# (whitenoise); this secret exists only for this command.
RUN DEBUG=false SECRET_KEY=collectstatic-only /venv/bin/python manage.py collectstatic --noinput -v 0

# --- runtime: the virtualenv and the code, run by an unprivileged user -----------------------
FROM ${PYTHON_IMAGE}
# XDG_RUNTIME_DIR: where gunicorn puts its control socket (its default, $HOME/.gunicorn, is the
# read-only /app here).
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH=/venv/bin:$PATH DEBUG=false XDG_RUNTIME_DIR=/tmp
RUN groupadd --system --gid 10001 ordersite \
 && useradd --system --uid 10001 --gid ordersite --home-dir /app --no-create-home ordersite
COPY --from=build /venv /venv
COPY --from=build /app /app
WORKDIR /app
# var/ (admin password, demo logins, Flower's history) is the only place the app writes; compose
# mounts a volume here, which starts out owned by this user.
RUN mkdir -p var && chown ordersite:ordersite var
USER ordersite
EXPOSE 8000 5555
# Liveness of the web process; compose gives every other service a check of its own.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4)"]
CMD ["gunicorn", "ordersite.wsgi", "--access-logfile", "-", "--bind", "0.0.0.0:8000"]
