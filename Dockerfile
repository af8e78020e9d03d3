# MI Admin's image: one image, one process per container, chosen by the entrypoint's
# subcommand (migrate, web, worker, beat; see scripts/entrypoint.py and compose.yaml).
# Kept thin on purpose: everything it runs is in the repository and tested there
# (tests/deploy/ runs the same entrypoint script).

# --- build: dependencies into a virtualenv, static files collected -------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /venv
COPY requirements.txt /tmp/requirements.txt
RUN /venv/bin/pip install -r /tmp/requirements.txt
WORKDIR /app
COPY . .
# Settings refuse to load without their secrets when DEBUG is off; these placeholders exist
# only for this one command and are not in the final image's environment.
RUN SECRET_KEY=collectstatic-only AUDIT_CHECKPOINT_KEY=collectstatic-only \
    OIDC_ISSUER=https://build.invalid/oauth2/default OIDC_RP_CLIENT_ID=build \
    OIDC_RP_CLIENT_SECRET=build MI_VAR_DIR=/tmp/build-var \
    /venv/bin/python manage.py collectstatic --noinput \
 && rm -rf /tmp/build-var

# --- runtime: the virtualenv and the code, run as a user without privileges ----------------
FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=mi_admin.settings \
    MI_VAR_DIR=/tmp/mi-admin \
    PORT=8000
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin mi-admin
COPY --from=build /venv /venv
# Owned by root and read-only for the app's user: the code cannot be changed at run time.
COPY --from=build /app /app
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# The web's readiness (/readyz: the database and the broker answer). Worker and beat
# containers override it (compose.yaml): they serve no HTTP.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "scripts/entrypoint.py", "healthcheck"]
ENTRYPOINT ["python", "scripts/entrypoint.py"]
CMD ["web"]
