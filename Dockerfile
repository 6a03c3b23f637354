# The netmon image: runs as an unprivileged user; raw ICMP sockets come from one file capability
# (cap_net_raw on the Python interpreter), which docker-compose keeps in the bounding set with
# `cap_add: [NET_RAW]` after dropping everything else. Do not add `no-new-privileges`: it would
# stop the interpreter from gaining that capability.
FROM python:3.11.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY probes/ probes/
COPY collectors/ collectors/
COPY exporters/ exporters/
COPY netmon/ netmon/
RUN pip install --no-cache-dir . \
 && setcap cap_net_raw+ep "$(readlink -f "$(command -v python3)")" \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/netmon --create-home netmon

COPY config/communes.yaml /etc/netmon/communes.yaml
# Everything netmon writes (the history store, history.db) goes to NETMON_DATA_DIR: a volume, so the
# container's root filesystem can be read-only (docker-compose.yml) and the history survives upgrades.
ENV NETMON_DATA_DIR=/var/lib/netmon
VOLUME /var/lib/netmon
USER netmon
WORKDIR /var/lib/netmon
EXPOSE 9813
ENTRYPOINT ["netmon"]
CMD ["run", "--config", "/etc/netmon/communes.yaml", "--listen", "0.0.0.0:9813"]
