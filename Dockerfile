# Rouge: build the release binary, then run it as a non-root user on a slim
# image. Configuration comes from the environment (ROUGE_*, TELEGRAM_BOT_TOKEN);
# the catalog lives in the /data volume.

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
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data rouge \
    && mkdir -p /data && chown rouge /data
COPY --from=build /src/target/release/rouge /usr/local/bin/rouge
USER rouge
WORKDIR /data
VOLUME /data
ENV ROUGE_DATA_DIR=/data \
    ROUGE_SECRETS_FILE=/data/secrets.toml
# rouge handles SIGTERM (docker stop): it stops taking updates, finishes or
# re-queues sends in flight and flushes the store.
STOPSIGNAL SIGTERM
ENTRYPOINT ["rouge"]
CMD ["serve"]
