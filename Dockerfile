# syntax=docker/dockerfile:1
# Build: the browser bundles with Node, then a static Go binary.
FROM node:20-bookworm-slim AS web
WORKDIR /src/inject/web
COPY inject/web/package.json inject/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY inject/web/ ./
RUN node build.mjs
WORKDIR /src/viewer/web
COPY viewer/web/package.json viewer/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY viewer/web/ ./
RUN node build.mjs

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/inject/web/dist/ inject/web/dist/
COPY --from=web /src/viewer/web/dist/ viewer/web/dist/
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/replaygate ./cmd/replaygate

# Run: distroless static, non-root, data in a volume.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/replaygate /usr/local/bin/replaygate
USER nonroot:nonroot
ENV REPLAYGATE_DATA_DIR=/var/lib/replaygate \
    REPLAYGATE_LISTEN=:8080 \
    REPLAYGATE_ADMIN_LISTEN=:9090
VOLUME ["/var/lib/replaygate"]
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/replaygate"]
CMD ["serve"]
