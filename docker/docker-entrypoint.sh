#!/bin/sh
# Entry point of the shoal image, with the redis image's conventions:
#   docker run shoal                          -> shoal-server (defaults)
#   docker run shoal --port 7000 ...          -> shoal-server --port 7000 ...
#   docker run shoal /conf/shoal.conf [opts]  -> shoal-server /conf/shoal.conf ...
#   docker run shoal redis-cli -h ...         -> any other command as given
# The server is exec'd, so it is PID 1 and receives docker stop's SIGTERM
# itself (Shoal handles SIGTERM: it saves if save points are set, then exits).
set -e
case "$1" in
  -*|*.conf) set -- shoal-server "$@" ;;
esac
if [ "$1" = shoal-server ] || [ "$1" = redis-server ]; then
  # The redis image ships with protected-mode off, since a container is only
  # reachable through its published ports and networks. Do the same unless a
  # config file is given (it decides) or the flag is passed explicitly.
  case "$2" in
    -*|"")
      explicit=no
      for a in "$@"; do [ "$a" = --protected-mode ] && explicit=yes; done
      [ "$explicit" = no ] && set -- "$@" --protected-mode no
      ;;
  esac
  # Tell the health probe which port to ping (last --port wins, as in Redis).
  prev=
  for a in "$@"; do
    [ "$prev" = --port ] && echo "$a" >/tmp/.shoal-port
    prev=$a
  done
fi
exec "$@"
