# Rouge: build the release binary, then run it as a non-root user on a slim
# image. Configuration comes from the environment (ROUGE_*, TELEGRAM_BOT_TOKEN,
# DISCORD_TOKEN); the catalog, outbox and backups live in the /data volume.
# scripts/check-dockerfile lints this file and builds the same binary.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, in their own layer, so code changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && for b in lookup import fanout; do echo 'fn main() {}' > "benches/$b.rs"; done \
    && cargo build --release --locked \
    && rm -rf src benches
COPY src src
COPY config config
COPY benches benches
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

FROM debian:bookworm-slim
# ca-certificates follows the distribution's security updates; pinning it
# would hold the image on an old trust store.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data rouge \
    && mkdir -p /data && chown 10001 /data
COPY --from=build /src/target/release/rouge /usr/local/bin/rouge
USER 10001
WORKDIR /data
VOLUME /data
# The secrets file is a path, not a secret; the tokens come from the environment or that file.
# hadolint ignore=DL3064
ENV ROUGE_DATA_DIR=/data \
    ROUGE_SECRETS_FILE=/data/secrets.toml \
    ROUGE_HTTP__LISTEN=127.0.0.1:9464
# /healthz: the store opens, the adapters are connected, the dispatchers run.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["rouge", "health"]
# rouge handles SIGTERM (docker stop): it stops taking updates, finishes or
# re-queues sends in flight and flushes the store.
STOPSIGNAL SIGTERM
ENTRYPOINT ["rouge"]
CMD ["serve"]
