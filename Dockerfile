# syntax=docker/dockerfile:1
# Build weir in a Go image, ship it in distroless as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=v0.0.0-dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/weirgitops/weir/internal/version.Version=${VERSION} -X github.com/weirgitops/weir/internal/version.Commit=${COMMIT}" \
    -o /out/weir ./cmd/weir

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/weir /usr/local/bin/weir
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/weir"]
CMD ["controller"]
