# Multi-stage build: a static opsbot binary (modernc.org/sqlite needs no cgo) on a minimal,
# non-root base that carries CA certificates for Slack, GitHub and the other vendors.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# -tags nosandbox: the production binary carries no vendor fakes (and idles ~4 MB lighter).
RUN CGO_ENABLED=0 go build -trimpath -tags nosandbox -ldflags "-s -w -X main.version=${VERSION}" -o /out/opsbot ./cmd/opsbot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/opsbot /usr/local/bin/opsbot
# SQLite lives in a volume; the health, readiness and metrics listener on 9090.
WORKDIR /var/lib/opsbot
VOLUME ["/var/lib/opsbot"]
EXPOSE 9090
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/opsbot"]
CMD ["serve", "--config", "/etc/opsbot/opsbot.yaml"]
