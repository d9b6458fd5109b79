# roster in a small image: built static (musl) in the Rust image, run from distroless's static
# base as its non-root user — no shell, no package manager, only the binary and CA certificates.
#   docker build -t roster .
#   docker run --rm -v "$PWD:/work" -w /work -e AZURE_CLIENT_SECRET -e SF_CLIENT_SECRET roster plan
FROM rust:1.95-alpine AS build
RUN apk add --no-cache musl-dev make
WORKDIR /src
COPY . .
RUN cargo build --release --locked && cp target/release/roster /roster

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /roster /usr/local/bin/roster
USER nonroot
ENTRYPOINT ["/usr/local/bin/roster"]
CMD ["--help"]
