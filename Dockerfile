# The timenet node image. No registry is reachable from the machines this
# runs on, so there is no base image: the static `timed` binary (built with
# `-C target-feature=+crt-static`, see .cargo/config.toml) is the only file.
# `harness image` builds this through the Docker API from an in-memory context
# holding this Dockerfile and the binary; `docker build` with `timed` copied
# next to it works too.
FROM scratch
COPY timed /timed
# 24100: P2P, 24101: HTTP API.
EXPOSE 24100 24101
ENTRYPOINT ["/timed"]
