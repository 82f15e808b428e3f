#!/bin/sh
# HEALTHCHECK probe of the shoal image: healthy when the server answers PING.
# The port is the one the entry point saw in --port, else $SHOAL_PORT (set it
# when the port comes from a config file), else 6379.
port=${SHOAL_PORT:-6379}
[ -r /tmp/.shoal-port ] && read -r port </tmp/.shoal-port
[ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]
