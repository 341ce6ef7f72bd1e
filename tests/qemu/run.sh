#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boots Debian's newest 6.1 kernel in QEMU with the given static test
# programs and exits with the guest suite's verdict. The kernel is fetched
# with apt-get download into a cache outside the source tree (never
# installed) and reused; the initramfs is busybox-static, /init, the modules
# and the programs. Facts behind the choices: /work/shared/qemu.md.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tests/qemu/run.sh [options] [--] TEST... 
  Runs each static TEST program in a 6.1 guest (guest-suite.sh) and exits
  0 when none failed, 1 otherwise.
  --add FILE      put FILE in the guest's /tests without running it (repeatable)
  --share DIR     mount host DIR at /host in the guest (9p)
  --cache DIR     kernel cache (default $WATCHQ_QEMU_CACHE, else
                  ${XDG_CACHE_HOME:-~/.cache}/watchq-qemu)
  --out DIR       keep the initramfs and console.log in DIR (implies --keep)
  --keep          keep the temporary work folder and say where it is
  --kernel VER    use this cached or downloadable kernel, e.g. 6.1.0-56-amd64
  --modules LIST  modules to load (space separated; default in this script)
  --smp N         guest CPUs (default 1: faster under TCG, see README)
  --timeout S     kill the guest after S seconds (default 300)
  --append ARGS   extra kernel command line
  -v, --verbose   show the kernel console too
Environment: WATCHQ_QEMU_CACHE, WATCHQ_QEMU_ACCEL=tcg|kvm, WATCHQ_QEMU_SMP,
WATCHQ_QEMU_TIMEOUT, WATCHQ_QEMU_MODULES.
EOF
}

die() { echo "qemu: $*" >&2; exit 1; }
say() { if [ "$verbose" = 1 ]; then echo "qemu: $*" >&2; fi; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${WATCHQ_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/watchq-qemu}
# qemu.md's list: block error injection (null_blk, scsi_debug, dm; dm-zero
# for tests/host_guestblock.c's good I/O around the dm error target) and 9p;
# then loop, ext4 and quota_v2 for tests/host_sbext4.c's EDQUOT test (the
# kernel's own module requests would need a /sbin/modprobe, which the guest
# lacks).
modules=${WATCHQ_QEMU_MODULES:-configfs null_blk dm-mod dm-flakey dm-zero crc64 \
crc64-rocksoft crct10dif_common crc-t10dif t10-pi scsi_common scsi_mod sd_mod \
scsi_debug virtio_pci_legacy_dev virtio_pci_modern_dev virtio_ring virtio \
virtio_pci 9pnet 9pnet_virtio netfs fscache 9p loop ext4 quota_v2}
smp=${WATCHQ_QEMU_SMP:-1}
timeout_s=${WATCHQ_QEMU_TIMEOUT:-300}
accel=${WATCHQ_QEMU_ACCEL:-}
out="" keep=0 verbose=0 share="" kernel="" append=""
adds=() tests=()

while [ $# -gt 0 ]; do
	case $1 in
	--add) adds+=("${2:?--add needs a file}"); shift 2 ;;
	--share) share=${2:?--share needs a folder}; shift 2 ;;
	--cache) cache=${2:?--cache needs a folder}; shift 2 ;;
	--out) out=${2:?--out needs a folder}; keep=1; shift 2 ;;
	--keep) keep=1; shift ;;
	--kernel) kernel=${2:?--kernel needs a version}; shift 2 ;;
	--modules) modules=${2?--modules needs a list}; shift 2 ;;
	--smp) smp=${2:?--smp needs a number}; shift 2 ;;
	--timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
	--append) append=${2?--append needs arguments}; shift 2 ;;
	-v|--verbose) verbose=1; shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; tests+=("$@"); break ;;
	-*) usage >&2; die "unknown option '$1'" ;;
	*) tests+=("$1"); shift ;;
	esac
done
[ ${#tests[@]} -gt 0 ] || { usage >&2; die "no test programs given"; }
for f in "${tests[@]}" "${adds[@]}"; do
	[ -f "$f" ] || die "no such file: $f"
	case ${f##*/} in *[[:space:]]*) die "file names with spaces are not supported: $f" ;; esac
done
[ -z "$share" ] || [ -d "$share" ] || die "no such folder: $share"
for tool in qemu-system-x86_64 busybox apt-get dpkg-deb depmod modprobe xz flock readelf; do
	command -v "$tool" >/dev/null ||
		die "'$tool' not found: install qemu-system-x86 busybox-static kmod xz-utils binutils"
done
# The guest has no libc or loader: an ELF asking for one cannot run there.
dynamic() { readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; }
busybox=$(command -v busybox)
! dynamic "$busybox" || die "$busybox is dynamically linked: install busybox-static"
for f in "${tests[@]}" "${adds[@]}"; do
	! dynamic "$f" || die "$f is dynamically linked: the guest has no libc, link it with -static"
done

# ---------------------------------------------------------------- kernel
# Old 6.1.0-NN packages leave the mirror, so the name comes from the local
# package lists; apt-get update runs only when they have none or are stale.
newest_pkg() {
	apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' |
		awk '{ print $1 }' | sort -V | tail -n 1
}

newest_cached() {
	local d
	for d in "$cache"/6.1.0-*-amd64; do
		[ -e "$d/.ready" ] && echo "${d##*/}"
	done | sort -V | tail -n 1
}

# Unpacks the .deb into $cache/VER: modules with a modules.dep, System.map
# and the ELF vmlinux that QEMU boots directly (PVH), skipping the
# decompressor, which costs seconds under TCG.
prepare_kernel() {
	local deb=$1 ver=$2 tmp off
	tmp=$(mktemp -d "$cache/unpack.XXXXXX")
	dpkg-deb -x "$deb" "$tmp/root"
	[ -d "$tmp/root/lib/modules/$ver" ] || die "$deb has no lib/modules/$ver"
	depmod -b "$tmp/root" -F "$tmp/root/boot/System.map-$ver" "$ver"
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$tmp/root/boot/vmlinuz-$ver" |
		head -n 1 | cut -d: -f1)
	[ -n "$off" ] || die "no xz payload in vmlinuz-$ver"
	# --single-stream: the bzImage goes on after the xz stream.
	tail -c +$((off + 1)) "$tmp/root/boot/vmlinuz-$ver" |
		xz -dc --single-stream > "$tmp/root/vmlinux" 2>/dev/null || true
	head -c 4 "$tmp/root/vmlinux" | grep -q ELF || die "could not extract vmlinux from vmlinuz-$ver"
	rm -rf "$tmp/root/usr"	# documentation only
	touch "$tmp/root/.ready"
	rm -rf "${cache:?}/$ver"
	mv "$tmp/root" "$cache/$ver"
	rm -rf "$tmp"
}

fetch_kernel() {
	local pkg ver dl deb
	pkg=$(newest_pkg)
	if [ -z "$pkg" ]; then
		echo "qemu: updating the package lists" >&2
		apt-get update -qq >&2 || true
		pkg=$(newest_pkg)
	fi
	[ -n "$pkg" ] || return 1
	ver=${pkg#linux-image-}; ver=${ver%-unsigned}
	if [ ! -e "$cache/$ver/.ready" ]; then
		echo "qemu: fetching $pkg" >&2
		dl=$(mktemp -d "$cache/download.XXXXXX")
		# apt-get download writes to the current folder; as root it warns
		# that _apt cannot write there, which is harmless.
		if ! (cd "$dl" && apt-get download -qq "$pkg" 2>/dev/null); then
			echo "qemu: $pkg is gone from the mirror, updating the package lists" >&2
			apt-get update -qq >&2 || true
			pkg=$(newest_pkg)
			ver=${pkg#linux-image-}; ver=${ver%-unsigned}
			(cd "$dl" && apt-get download -qq "$pkg" 2>/dev/null) || { rm -rf "$dl"; return 1; }
		fi
		deb=$(ls "$dl"/*.deb)
		prepare_kernel "$deb" "$ver"
		rm -rf "$dl"
		# Each unpacked kernel takes ~430 MB: keep only the newest.
		for d in "$cache"/6.1.0-*-amd64; do
			[ "${d##*/}" = "$ver" ] || rm -rf "$d"
		done
	fi
	echo "$ver"
}

mkdir -p "$cache"
# One fetch at a time per cache; the boot itself needs no lock.
exec 9>"$cache/lock"
flock 9
if [ -n "$kernel" ]; then
	if [ ! -e "$cache/$kernel/.ready" ]; then
		dl=$(mktemp -d "$cache/download.XXXXXX")
		(cd "$dl" && apt-get download -qq "linux-image-$kernel-unsigned" 2>/dev/null) ||
			die "cannot download linux-image-$kernel-unsigned"
		prepare_kernel "$dl"/*.deb "$kernel"
		rm -rf "$dl"
	fi
	ver=$kernel
elif ! ver=$(fetch_kernel) || [ -z "$ver" ]; then
	ver=$(newest_cached)
	[ -n "$ver" ] || die "cannot download a linux-image-6.1.0-*-amd64-unsigned and none is cached in $cache"
	echo "qemu: download failed, using the cached $ver" >&2
fi
kdir=$cache/$ver
say "kernel $ver from $kdir"

# ---------------------------------------------------------------- modules
# The module part of the initramfs depends only on the kernel and the list,
# so it is built once into its own cpio; the kernel unpacks concatenated
# archives in order.
# shellcheck disable=SC2086 # split: one module a line
modkey=$(printf '%s\n' $modules | md5sum | cut -c1-12)
modcpio=$kdir/modules-$modkey.cpio
if [ ! -e "$modcpio" ]; then
	stage=$(mktemp -d "$cache/modules.XXXXXX")
	order=$stage/etc/watchq-qemu/modules
	mkdir -p "${order%/*}"
	for m in $modules; do
		# Dependencies first, as modules.dep says; built-ins print
		# "builtin NAME" and need nothing.
		modprobe -d "$kdir" -S "$ver" --show-depends "$m" ||
			die "no module '$m' in $ver"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' |
		sed "s|^$kdir||" > "$order"
	while read -r path; do
		mkdir -p "$stage${path%/*}"
		cp "$kdir$path" "$stage$path"
	done < "$order"
	# A modules.dep for what is there, so tests can modprobe with options.
	mdir=/lib/modules/$ver
	mkdir -p "$stage$mdir"
	sed "s|$mdir/||" "$order" |
		awk -F: 'NR == FNR { want[$0] = 1; next } want[$1]' - "$kdir$mdir/modules.dep" \
		> "$stage$mdir/modules.dep"
	(cd "$stage" && find . -mindepth 1 | "$busybox" cpio -o -H newc 2>/dev/null) > "$modcpio.tmp"
	mv "$modcpio.tmp" "$modcpio"
	rm -rf "$stage"
fi
flock -u 9

# -------------------------------------------------------------- initramfs
if [ -n "$out" ]; then
	mkdir -p "$out"
	work=$(cd "$out" && pwd)
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/watchq-qemu.XXXXXX")
fi
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ "$keep" = 1 ]; then
		say "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
# --out reuses its folder: no verdict may come from an earlier run.
rm -f "$work"/{status,closing,no-closing,console.log,kernel-bad.log,qemu.err}

stage=$work/initramfs
rm -rf "$stage"
mkdir -p "$stage"/{bin,dev,etc/watchq-qemu,proc,sys,tmp,run,tests}
cp "$busybox" "$stage/bin/busybox"
install -m 0755 "$here/init" "$stage/init"
install -m 0755 "$here/guest-suite.sh" "$stage/guest-suite.sh"
: > "$stage/etc/watchq-qemu/tests"
for f in "${tests[@]}" "${adds[@]}"; do
	[ ! -e "$stage/tests/${f##*/}" ] || die "two files named ${f##*/}"
	cp "$f" "$stage/tests/"
done
for f in "${tests[@]}"; do
	echo "${f##*/}" >> "$stage/etc/watchq-qemu/tests"
done
(cd "$stage" && find . -mindepth 1 | "$busybox" cpio -o -H newc 2>/dev/null) > "$work/base.cpio"
cat "$work/base.cpio" "$modcpio" > "$work/initramfs.cpio"
rm -rf "$stage" "$work/base.cpio"

# ------------------------------------------------------------------- boot
# KVM only with hardware virtualisation: /dev/kvm alone is not enough here.
if [ -z "$accel" ]; then
	if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then accel=kvm; else accel=tcg; fi
fi
case $accel in
kvm) cpu=host ;;
tcg) cpu=max ;;
*) die "WATCHQ_QEMU_ACCEL must be kvm or tcg, not '$accel'" ;;
esac
say "booting: $accel, $smp cpu(s)"

# shellcheck disable=SC2054 # the commas belong to QEMU's options
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -no-reboot
	-machine pc -accel "$accel" -cpu "$cpu" -smp "$smp" -m 1G
	-display none -serial stdio
	-device isa-debug-exit,iobase=0xf4,iosize=0x04
	-kernel "$kdir/vmlinux" -initrd "$work/initramfs.cpio"
	# quiet: only errors reach the console; /init dumps dmesg at the end.
	# panic=-1 and -no-reboot turn a panic into QEMU exiting with 0.
	-append "console=ttyS0 quiet printk.time=1 panic=-1 mitigations=off $append")
if [ -n "$share" ]; then
	qemu+=(-virtfs "local,path=$share,mount_tag=host0,security_model=none")
fi

log=$work/console.log
bad=$work/kernel-bad.log
: > "$bad"
# Splat markers; each is enough to fail the run.
badre='WARNING:|BUG:|kernel BUG|Oops|Kernel panic|general protection|Call Trace:|UBSAN:|KASAN:|soft lockup|hard LOCKUP|rcu_(sched|preempt) detected stall|blocked for more than|refcount_t:|list_(add|del) corruption'

# Shows the guest's own lines as they come; kernel lines (timestamped) only
# with -v. Keeps the guest's closing line and status for the end.
filter() {
	local line closing="" status="" in_dmesg=0 np=0 nf=0 ns=0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		printf '%s\n' "$line" >> "$log"
		case $line in
		"watchq-qemu: dmesg begin") in_dmesg=1; continue ;;
		"watchq-qemu: dmesg end") in_dmesg=0; continue ;;
		"watchq-qemu: status "*) status=${line#watchq-qemu: status }; continue ;;
		esac
		if [ $in_dmesg = 1 ] || [[ $line =~ ^\[\ *[0-9]+\.[0-9]+\] ]]; then
			[[ $line =~ $badre ]] && printf '%s\n' "$line" >> "$bad"
			[ "$verbose" = 1 ] && printf '%s\n' "$line"
			continue
		fi
		if [[ $line =~ ^[0-9]+\ passed,\ [0-9]+\ failed ]]; then
			closing=$line
			continue
		fi
		case $line in
		"ok "*) np=$((np + 1)) ;;
		"not ok "*) nf=$((nf + 1)) ;;
		"skip "*) ns=$((ns + 1)) ;;
		esac
		printf '%s\n' "$line"
	done
	printf '%s\n' "$status" > "$work/status"
	# Without the guest's closing line (a panic, a timeout), count what came.
	printf '%s\n' "${closing:-$np passed, $nf failed, $ns skipped}" > "$work/closing"
	[ -n "$closing" ] || : > "$work/no-closing"
}

start=$SECONDS
set +e
timeout -k 5 "$timeout_s" "${qemu[@]}" < /dev/null 2> "$work/qemu.err" | filter
qrc=${PIPESTATUS[0]}
set -e
say "guest ran for $((SECONDS - start)) s, QEMU exit $qrc"

# --------------------------------------------------------------- verdict
status=$(cat "$work/status")
closing=$(cat "$work/closing")
problems=()
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	problems+=("guest: timed out after $timeout_s s")
elif [ "$qrc" -eq 0 ]; then
	problems+=("guest: stopped without a status (kernel panic or plain poweroff)")
elif [ $((qrc & 1)) -eq 0 ] || [ -z "$status" ] || [ $((qrc >> 1)) != "$status" ]; then
	problems+=("guest: QEMU exited with $qrc, guest status '${status:-none}'")
	[ -s "$work/qemu.err" ] && sed 's/^/    /' "$work/qemu.err" >&2
elif [ "$status" != 0 ] && [ -e "$work/no-closing" ]; then
	problems+=("guest: suite exited with $status and no closing line")
fi
if [ -s "$bad" ]; then
	problems+=("guest-kernel-log: $(awk '!seen[$0]++' "$bad" | wc -l) warning/BUG lines")
	echo "guest kernel log:" >&2
	awk '!seen[$0]++' "$bad" | sed 's/^/    /' >&2
fi

for p in "${problems[@]}"; do
	echo "not ok $p"
done
# The closing line, counting the host's findings as failures.
if [[ $closing =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]]; then
	p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
else
	p=0 f=0 s=0
fi
echo "$p passed, $((f + ${#problems[@]})) failed, $s skipped"
if [ ${#problems[@]} -gt 0 ] || [ "$status" != 0 ]; then
	[ ${#problems[@]} -eq 0 ] || { keep=1; echo "qemu: console log kept in $log" >&2; }
	exit 1
fi
exit 0
