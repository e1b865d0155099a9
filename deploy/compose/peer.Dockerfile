# weft/peer: the statically linked peer binary and its default core.yaml, nothing else (no base image, so
# nothing is pulled). Built by `make images`, which stages the binary next to this file's context.
FROM scratch
COPY peer /usr/local/bin/peer
COPY core.yaml /etc/hyperledger/fabric/core.yaml
ENV FABRIC_CFG_PATH=/etc/hyperledger/fabric
EXPOSE 7051 9443
ENTRYPOINT ["/usr/local/bin/peer"]
CMD ["node", "start"]
