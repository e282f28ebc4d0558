# The image deploy/cronjob.yaml runs: one static binary on distroless, as a numeric non-root user.
#
#   docker build -t kubectl-alertmend:dev \
#     --build-arg VERSION=$(git describe --tags --always --dirty) --build-arg COMMIT=$(git rev-parse --short HEAD) .
#
# The build stage runs on the builder's platform and cross-compiles for the target's, so
# `docker buildx build --platform linux/amd64,linux/arm64` needs no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
ARG TARGETOS
ARG TARGETARCH
# No cgo: the binary needs no libc, so it runs on an image that has none. The -X flags are the
# Makefile's.
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
      -ldflags "-s -w -X github.com/alertmend/kubectl-alertmend/pkg/version.Version=${VERSION} -X github.com/alertmend/kubectl-alertmend/pkg/version.Commit=${COMMIT}" \
      -o /out/kubectl-alertmend ./cmd/kubectl-alertmend

# No shell, no package manager: only CA certificates, time zones and /etc/passwd's nonroot.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kubectl-alertmend /kubectl-alertmend
# Numeric, so the kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/kubectl-alertmend"]
