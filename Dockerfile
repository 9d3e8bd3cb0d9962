# The torch-grader image: the web app (gunicorn), the grading worker and `grader db upgrade`.
#   docker build -t torch-grader .        (compose.yaml builds it too)
FROM python:3.11-slim

# libseccomp2: the sandbox's seccomp layer (pyseccomp loads the system library).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libseccomp2 \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The CPU build first, from PyTorch's own index: the plain `torch==2.13.0` from PyPI would
# pull several GB of CUDA wheels. The project's pin (==2.13.0) accepts 2.13.0+cpu.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /srv/torch-grader
COPY pyproject.toml README.md ./
COPY grader ./grader
COPY migrations ./migrations
# Editable on purpose: grader/store/migrate.py finds the Alembic scripts in migrations/
# next to the package, which a plain `pip install .` into site-packages would lose.
RUN pip install -e '.[deploy]'
# The exercise bank (exercises/ and solutions/): the web app serves the stubs, the worker
# grades against the checks. The sandbox is forbidden to read either.
COPY exercises ./exercises
COPY solutions ./solutions

ENV GRADER_BANK=/srv/torch-grader \
    GRADER_INSTANCE_PATH=/srv/instance
VOLUME ["/srv/instance"]
EXPOSE 8000

# compose.yaml sets the command of each service; alone, the image serves the web app.
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "8", "--no-control-socket", \
     "--access-logfile", "-", "grader.web.wsgi:create()"]
