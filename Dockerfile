# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/stockpile ./cmd/stockpile && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/stockpile /usr/local/bin/stockpile
# The volume starts owned by the non-root user (distroless nonroot is 65532).
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME /data
EXPOSE 8080
ENV STOCKPILE_DATA_DIR=/data STOCKPILE_LISTEN=0.0.0.0:8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/stockpile", "serve"]
