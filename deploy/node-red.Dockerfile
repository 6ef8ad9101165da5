# Node-RED 4 with roomctl's integration flows (flows/), for docker-compose.yml.
# Build context: the repository. Untested here (no container engine: deploy/README.md).
# Node-RED images are tagged <Node-RED version>-<Node.js major>; Node-RED 5 needs Node 22.
FROM nodered/node-red:4.1.15-20

# The flows, their settings and start.mjs, with the two modules the flows need
# (modbus-serial, node-red-node-email) installed from flows/package-lock.json.
COPY --chown=node-red:node-red flows/flows.json flows/settings.js flows/start.mjs flows/package.json flows/package-lock.json /usr/src/node-red/roomctl-flows/
RUN cd /usr/src/node-red/roomctl-flows && npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# start.mjs is what `npm run flows` runs: it checks the environment, writes the broker
# and mail logins from it into the encrypted credentials file of NODE_RED_USER_DIR
# (/data, a volume), then runs this image's Node-RED with flows/settings.js.
ENV NODE_RED_USER_DIR=/data NODE_RED_HOST=0.0.0.0 NODE_RED_PORT=1880
WORKDIR /usr/src/node-red
ENTRYPOINT ["node", "/usr/src/node-red/roomctl-flows/start.mjs"]
