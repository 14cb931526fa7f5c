# DreamBot: the Discord bot, its GPU executor and the web gallery in one image.
# CUDA-capable PyTorch base; runs on CPU too when no GPU is passed through.
FROM pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DREAMBOT_DATA_DIR=/data \
    DREAMBOT_WEB_HOST=0.0.0.0 \
    DREAMBOT_WEB_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY dream_core ./dream_core
COPY bot ./bot
COPY migrations ./migrations
# torch/torchvision come from the base image; the range in pyproject admits them.
RUN pip install ".[ray]" \
    && useradd --create-home --uid 10001 dreambot \
    && mkdir -p /data && chown dreambot:dreambot /data

USER dreambot
VOLUME ["/data"]
EXPOSE 8080

# Healthy when the store answers and the executor's workers are alive.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os,sys,urllib.request; p=os.environ.get('DREAMBOT_WEB_PORT','8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=4).status == 200 else 1)"

CMD ["dreambot", "run"]
