# One Dockerfile, one target per deployable: `intake`, `worker`, `emulator`.
# The migration job runs from the intake image.
FROM python:3.11-slim AS base
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --create-home --uid 10001 plants \
    && mkdir -p /var/lib/plants/images \
    && chown plants /var/lib/plants/images
COPY pyproject.toml README.md ./
COPY protos ./protos
COPY shared ./shared
COPY intake_service ./intake_service
COPY ai_worker ./ai_worker
COPY gemini_emulator ./gemini_emulator
RUN pip install .
USER plants
ENV IMAGE_STORE_DIR=/var/lib/plants/images

FROM base AS intake
EXPOSE 50051
CMD ["python", "-m", "intake_service"]

FROM base AS worker
# Exec form, so SIGTERM reaches Dramatiq, which lets in-flight plants finish
# within --worker-shutdown-timeout (milliseconds).
CMD ["dramatiq", "ai_worker.actors", "--processes", "1", "--threads", "16", "--worker-shutdown-timeout", "70000"]

FROM base AS emulator
EXPOSE 18080
CMD ["python", "-m", "gemini_emulator", "--host", "0.0.0.0", "--port", "18080"]
