#!/bin/bash
# sudo make run: start watchqd with its defaults and, as the user who ran
# sudo, a consumer printing that user's key events.  Ctrl-C stops both.
set -u
out=$1
if [ "$(id -u)" != 0 ]; then
	echo "watchq: the loader needs root: sudo make run" >&2
	exit 1
fi
sock=${WATCHQ_SOCKET:-/run/watchq/watchq.sock}
"$out/watchqd" --socket "$sock" &
daemon=$!
trap 'kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null' EXIT
trap 'exit 0' INT TERM
for _ in $(seq 100); do
	[ -S "$sock" ] && break
	kill -0 "$daemon" 2>/dev/null || exit 1
	sleep 0.1
done

user=${SUDO_USER:-root}
cat >&2 <<MSG
watchq: printing the key events of $user's user keyring (@u).
In another shell, as $user, try:
    id=\$(keyctl add user demo hello @u); keyctl update \$id world
    keyctl revoke \$id; keyctl unlink \$id @u
Ctrl-C stops the consumer and the loader.
MSG
if [ "$user" = root ]; then
	WATCHQ_SOCKET=$sock "$out/watchq" key:@u
else
	cli=$out/watchq
	# The checkout may not be readable by that user (under /root, say).
	if ! runuser -u "$user" -- test -x "$cli"; then
		tmp=$(mktemp -d) && chmod 755 "$tmp" && install -m 755 "$cli" "$tmp/" &&
			cli=$tmp/watchq
	fi
	runuser -u "$user" -- env WATCHQ_SOCKET="$sock" "$cli" key:@u
fi
