# The naive single-stage build the benchmark compares against: what most tutorials
# write. One image with the compilers and headers (as the official full python image
# has), pip's cache, the tests and the build machine's CA files.
ARG BASE_IMAGE=python:3.11.14-bookworm
FROM ${BASE_IMAGE}
RUN apt-get update && apt-get install -y build-essential python3-dev python3-pip git curl
COPY . /app
WORKDIR /app
RUN cp build-ca/*.crt /usr/local/share/ca-certificates/ 2>/dev/null; update-ca-certificates \
 && PIP_CERT=/etc/ssl/certs/ca-certificates.crt pip3 install --break-system-packages -r requirements.txt
ENV PYTHONPATH=/app/src PORT=8080
CMD ["python3", "-m", "fragments"]
