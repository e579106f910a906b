# Build: dependencies first (cached while only src/ changes), then the binary.
FROM rust:1-bookworm AS build
WORKDIR /app
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin/roompulse-bench && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > src/bin/roompulse-bench/main.rs \
    && cargo build --release --locked || true
COPY src src
COPY migrations_data_provider migrations_data_provider
COPY migrations_dashboard migrations_dashboard
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin roompulse

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 roompulse
COPY --from=build /app/target/release/roompulse /usr/local/bin/roompulse
COPY data /data
USER roompulse
ENV BIND_ADDR=0.0.0.0:8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8000/health || exit 1
ENTRYPOINT ["roompulse"]
CMD ["serve"]
