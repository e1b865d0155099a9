# weft/orderer: the statically linked orderer binary and its default orderer.yaml, nothing else (no base image,
# so nothing is pulled). Built by `make images`, which stages the binary in this file's build context.
FROM scratch
COPY orderer /usr/local/bin/orderer
COPY orderer.yaml /etc/hyperledger/fabric/orderer.yaml
ENV FABRIC_CFG_PATH=/etc/hyperledger/fabric
EXPOSE 7050 9443
ENTRYPOINT ["/usr/local/bin/orderer"]
