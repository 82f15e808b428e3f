#!/usr/bin/env bash
# Assemble the build context for the `shoal` image (docker/Dockerfile).
#   docker/stage-rootfs.sh [SHOAL_BIN] [OUT_DIR]
# No base image can be pulled here, so the image is FROM scratch: this script
# copies shoal-server, redis-cli (for cluster creation and the health check),
# a POSIX shell (dash) and sleep, plus every shared library they load (read
# from ldd), into OUT_DIR/rootfs, keeping the host's paths. The binaries stay
# glibc-dynamic; the image therefore carries the host's glibc.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release/shoal-server}
out=${2:-$here/../target/docker}
[ -x "$bin" ] || { echo "stage-rootfs: no shoal-server at $bin (run make release)" >&2; exit 1; }
cli=$(command -v redis-cli) || { echo "stage-rootfs: redis-cli not installed (make deps)" >&2; exit 1; }
sh_bin=$(readlink -f "$(command -v dash || command -v sh)")
sleep_bin=$(readlink -f "$(command -v sleep)")

rm -rf "$out"
root=$out/rootfs
mkdir -p "$root/usr/local/bin" "$root/bin" "$root/etc" "$root/tmp" "$root/usr/local/etc/shoal"
# /data is copied on its own with --chown (an empty directory would not carry it).
mkdir -p "$out/data"
touch "$out/data/.keep"
chmod 1777 "$root/tmp"

# Copy one executable and the libraries it needs (ldd lists the loader too).
copy_with_libs() {
  local src=$1 dst=$2
  cp -L "$src" "$root$dst"
  ldd "$src" | awk '/=> \//{print $3} /^\s*\/[^ ]+/{print $1}' | while read -r lib; do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
copy_with_libs "$bin" /usr/local/bin/shoal-server
copy_with_libs "$cli" /usr/local/bin/redis-cli
copy_with_libs "$sh_bin" /bin/sh
copy_with_libs "$sleep_bin" /bin/sleep
# Drop-in name, as scripts written for the redis image call redis-server.
ln -s shoal-server "$root/usr/local/bin/redis-server"
# Programs on a 64-bit Debian look for the loader here.
if [ -e /lib64/ld-linux-x86-64.so.2 ] && [ ! -e "$root/lib64/ld-linux-x86-64.so.2" ]; then
  mkdir -p "$root/lib64"
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
fi
strip --strip-unneeded "$root/usr/local/bin/shoal-server" 2>/dev/null || true

install -m 0755 "$here/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
install -m 0755 "$here/healthcheck.sh" "$root/usr/local/bin/healthcheck.sh"
install -m 0755 "$here/cluster-init.sh" "$root/usr/local/bin/cluster-init.sh"
install -m 0644 "$here/cluster-node.conf" "$root/usr/local/etc/shoal/cluster-node.conf"
printf 'root:x:0:0:root:/root:/bin/sh\nredis:x:999:999:redis:/data:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nredis:x:999:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
cp "$here/Dockerfile" "$out/Dockerfile"
echo "staged $(du -sh "$root" | cut -f1) in $out"
