# Basalt node image. Build from the repository root:
#   docker build -t basalt:local .
# Run one node (settings come from BASALT_<YAML_KEY> variables, flags or a mounted --config file):
#   docker run --rm -e BASALT_LISTEN_ADDRESS=<container ip> -e BASALT_SEEDS=<seed ip> basalt:local
# A three-node cluster: cluster/compose.yaml; on Kubernetes: cluster/k8s/ (kubectl apply -k cluster/k8s).

FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libuv1-dev libsnappy-dev liblz4-dev libcrypt-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The manifest names every target, so sources and tests both have to be present.
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product basalt --static-swift-stdlib \
    && install -D "$(swift build -c release --show-bin-path)/basalt" /out/basalt

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libuv1 libsnappy1v5 liblz4-1 libcrypt1 libssl3 libstdc++6 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 999 --create-home --home-dir /var/lib/basalt basalt
COPY --from=build /out/basalt /usr/local/bin/basalt
USER basalt
WORKDIR /var/lib/basalt
VOLUME /var/lib/basalt
ENV BASALT_DATA_DIRECTORY=/var/lib/basalt/data
# internode, CQL native protocol, admin HTTP
EXPOSE 7000 9042 7199
# Probes: GET /health (alive) and GET /ready (up, normal, serving CQL) on the admin port, or
# `basalt admin health|ready --host ADDR`, which exit non-zero when not.
# SIGTERM (docker stop) stops the node gracefully: it tells its peers it is going down.
STOPSIGNAL SIGTERM
ENTRYPOINT ["basalt", "server"]
