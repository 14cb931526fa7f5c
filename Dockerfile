# DreamBot: the Discord bot, its GPU executor and the web gallery in one image.
# CUDA-capable PyTorch base; runs on CPU too when no GPU is passed through.
FROM pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime

# Bake torchvision's GoogLeNet weights (the classic DeepDream net, ~50 MB) into the
# image so `--model googlenet` / DREAMBOT_DEFAULT_MODEL=googlenet work offline.
# Build with --build-arg BAKE_GOOGLENET_WEIGHTS=0 for a smaller image without them.
ARG BAKE_GOOGLENET_WEIGHTS=1

# NUMBA_CACHE_DIR: where numba's build of the CPU loops would be kept (on the data volume);
# the image builds the C loops at install (below), so numba's run only if that build failed.
ENV PYTHONDONTWRITEBYTECODE=1 \
    NUMBA_CACHE_DIR=/data/numba-cache \
    PYTHONUNBUFFERED=1 \
    TORCH_HOME=/opt/torch \
    PIP_NO_CACHE_DIR=1 \
    DREAMBOT_DATA_DIR=/data \
    DREAMBOT_WEB_HOST=0.0.0.0 \
    DREAMBOT_WEB_PORT=8080

WORKDIR /app
COPY pyproject.toml README.md ./
COPY dream_core ./dream_core
COPY bot ./bot
COPY migrations ./migrations
COPY setup.py MANIFEST.in ./
# torch/torchvision come from the base image; the range in pyproject admits them.
# gcc is there only while pip builds the compiled CPU loops (dream_core/models/native_loops.c,
# for AVX-512, AVX2 and the baseline; the CPU that runs the image picks), then removed;
# libgomp1 stays (OpenMP: torch's own copy is the one loaded at run time). CC/LDSHARED: the
# system gcc, whatever compiler the base image's conda Python was built with.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev libgomp1 \
    && CC=gcc LDSHARED="gcc -shared" pip install ".[ray,postgres]" \
    && python -c "import torch; from dream_core.models import native_loops; print('CPU loops built:', native_loops.isa())" \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 dreambot \
    && mkdir -p /data && chown dreambot:dreambot /data

# The weights go where torchvision's weights API looks (TORCH_HOME/hub/checkpoints),
# fetched and hash-checked by torchvision itself; the build fails if that fails.
RUN mkdir -p "$TORCH_HOME" \
    && if [ "$BAKE_GOOGLENET_WEIGHTS" = "1" ]; then \
        python -c "from torchvision.models import get_weight; get_weight('GoogLeNet_Weights.IMAGENET1K_V1').get_state_dict(progress=False, check_hash=True)" \
        && python -m dream_core models | grep -E '^googlenet +offline: yes'; \
    fi \
    && chown -R dreambot:dreambot "$TORCH_HOME"  # other models still download into it at run time

USER dreambot
VOLUME ["/data"]
EXPOSE 8080

# Healthy when the store answers and the executor's workers are alive.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os,sys,urllib.request; p=os.environ.get('DREAMBOT_WEB_PORT','8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=4).status == 200 else 1)"

CMD ["dreambot", "run"]
