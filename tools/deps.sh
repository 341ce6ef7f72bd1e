#!/bin/sh
# Install the Debian packages watchq needs to build and test, when missing.
# Quick and silent when everything is present.
set -eu

PKGS="make gcc clang llvm libclang-rt-14-dev libc6-dev pkg-config
bpftool libbpf-dev libelf-dev zlib1g-dev libzstd-dev keyutils
qemu-system-x86 busybox-static kmod xz-utils libfuse3-dev fuse3 e2fsprogs
libmount-dev"

missing=
for p in $PKGS; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "watchq: missing Debian packages:$missing" >&2
	echo "watchq: run 'sudo make deps' to install them" >&2
	exit 1
fi
echo "watchq: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
