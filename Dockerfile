# The Airbyte connector image: `docker build -t tap-stripe:0.1.0 .`, then add it in Airbyte as a
# custom connector (Settings → Sources → New connector → Add a new Docker connector).
# Stage 1 builds the static-TLS (rustls) binary; stage 2 is a small runtime with only the binary.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p tap-stripe --bin tap-stripe

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home airbyte
COPY --from=build /src/target/release/tap-stripe /usr/local/bin/tap-stripe
USER airbyte
ENV AIRBYTE_ENTRYPOINT="/usr/local/bin/tap-stripe"
ENTRYPOINT ["/usr/local/bin/tap-stripe"]
LABEL io.airbyte.name="tap-stripe/source-stripe"
LABEL io.airbyte.version="0.1.0"
