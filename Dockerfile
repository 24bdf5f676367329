# auditstream image: docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t auditstream .
# (VERSION, default dev, is what `auditstream version` and auditstream_build_info report;
# .dockerignore keeps .git and data/ out of the build context).
# A static binary (CGO_ENABLED=0) with the zone database embedded (time/tzdata is
# imported by cmd/auditstream), on distroless static, running as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/auditstream/auditstream/cmd/auditstream/app.Version=${VERSION}" \
      -o /out/auditstream ./cmd/auditstream \
 && /out/auditstream version \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/auditstream /usr/local/bin/auditstream
COPY configs /etc/auditstream
COPY deploy/config/auditstream.yaml /etc/auditstream/auditstream.yaml
# A named volume mounted here inherits this ownership, so the file sink can write.
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/auditstream"]
CMD ["--help"]
