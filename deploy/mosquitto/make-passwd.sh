#!/bin/sh
# Writes the Mosquitto password file from the environment (deploy/.env through
# docker-compose.yml), so no password is kept in this repository or typed twice:
#   roomctl   ← ROOMCTL_MQTT_PASSWORD   (roomctl's mqtt.password in site.yaml)
#   node-red  ← NODE_RED_MQTT_PASSWORD  (the flows' MQTT_PASSWORD)
# Logins added by hand (devices: `docker compose exec mosquitto mosquitto_passwd -b
# /mosquitto/passwd/passwd NAME PASSWORD`) are kept: only these two lines are replaced.
# Usage: make-passwd.sh FILE
set -eu
file=${1:?usage: make-passwd.sh PASSWORD_FILE}
: "${ROOMCTL_MQTT_PASSWORD:?is not set: put it in deploy/.env}"
: "${NODE_RED_MQTT_PASSWORD:?is not set: put it in deploy/.env}"
mkdir -p "$(dirname "$file")"
[ -f "$file" ] || : > "$file"
mosquitto_passwd -b "$file" roomctl "$ROOMCTL_MQTT_PASSWORD"
mosquitto_passwd -b "$file" node-red "$NODE_RED_MQTT_PASSWORD"
# Mosquitto reads it as its own user and warns about a file others can read.
chmod 0600 "$file"
if [ -n "${MOSQUITTO_UID:-}" ]; then chown "$MOSQUITTO_UID" "$file"; fi
echo "make-passwd.sh: $file has logins roomctl and node-red"
