# The Airbyte connector image: `docker build -t tap-stripe/source-stripe:0.1.0 .`, then add it in
# Airbyte as a custom connector (Settings → Sources → New connector → Add a new Docker connector).
# Stage 1 builds the static-TLS (rustls) binary; stage 2 is a small runtime with only the binary.
#
# scripts/oci-image.sh builds the same image without Docker (an OCI layout: the binary, Debian's
# libc6, libgcc-s1 and CA certificates). Its user, uid/gid, /airbyte, WORKDIR, ENV, ENTRYPOINT and
# LABELs must stay what this file says: tests/image/test_image.py parses this file and compares.
# Airbyte's own connector base images use the same user: `airbyte`, uid and gid 1000, owning
# /airbyte.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p tap-stripe --bin tap-stripe

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 airbyte \
    && useradd --uid 1000 --gid 1000 --home-dir /airbyte --no-create-home --shell /usr/sbin/nologin airbyte \
    && mkdir --mode 755 /airbyte \
    && chown airbyte:airbyte /airbyte
COPY --from=build /src/target/release/tap-stripe /usr/local/bin/tap-stripe
WORKDIR /airbyte
USER airbyte
ENV AIRBYTE_ENTRYPOINT="/usr/local/bin/tap-stripe"
ENTRYPOINT ["/usr/local/bin/tap-stripe"]
LABEL io.airbyte.name="tap-stripe/source-stripe"
LABEL io.airbyte.version="0.1.0"
