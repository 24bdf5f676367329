# Build: docker build -t auditstream .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/auditstream ./cmd/auditstream && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/auditstream /usr/local/bin/auditstream
COPY configs /etc/auditstream
# A named volume mounted here inherits this ownership, so the file sink can write.
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot
ENTRYPOINT ["/usr/local/bin/auditstream"]
CMD ["--help"]
