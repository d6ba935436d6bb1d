#!/usr/bin/env bash
# Builds the Airbyte connector image without a Docker engine or a container registry, then checks
# it. The image (an OCI image layout, tag = the binary's version) holds one layer: the tap-stripe
# binary, what it links against (Debian's libc6 and libgcc-s1, fetched with `apt-get download`),
# Mozilla's CA certificates (Debian's ca-certificates, as /etc/ssl/certs/ca-certificates.crt, the
# system store the tap's TLS reads), /etc/passwd and /etc/group with the non-root user `airbyte`
# (uid and gid 1000), /airbyte owned by it, and /tmp. Its config: User airbyte, WorkingDir /airbyte,
# Entrypoint ["/usr/local/bin/tap-stripe"], Env PATH and AIRBYTE_ENTRYPOINT (equal to the
# entrypoint), Labels io.airbyte.name and io.airbyte.version. The Dockerfile builds the equivalent
# image for Docker users; tests/image/test_image.py checks that the two agree.
#
# Steps: apt-get update, install umoci and oci-image-tool (Debian), download the three packages,
# assemble the root filesystem, write the layout with umoci, validate it with
# `oci-image-tool validate`, unpack it again from its layer, run the binary in it with
# `chroot --userspec=1000:1000`, then the tests of tests/image (pytest, in .venv-e2e made by
# scripts/python-env.sh): the layout's digests, the config, the layer's files and owners, the
# Dockerfile and metadata.yaml against the image, and spec, check, discover and read run inside the
# image (chroot, the image's user, Env, WorkingDir and Entrypoint) against the fake Stripe server on
# 127.0.0.1. Exits non-zero on any failure.
#
# Needs root (apt-get, file owners, chroot) on Debian 12 (bookworm), as CI has; scripts/test runs
# it as the `image` suite. The binary is TAP_STRIPE_BIN, by default the debug build scripts/test
# makes (target/debug/tap-stripe: quick to build; it also has the test-only hooks of debug builds,
# see README "Guarantees and exit codes"). For an image to ship, build the release binary and run
#   cargo build --release && TAP_STRIPE_BIN=target/release/tap-stripe scripts/oci-image.sh
# then hand the layout to any OCI tool: Debian's skopeo pushes it to a registry
# (`skopeo copy oci:target/oci-image/layout:0.1.0 docker://REGISTRY/tap-stripe/source-stripe:0.1.0`)
# or makes a file for `docker load`
# (`skopeo copy oci:target/oci-image/layout:0.1.0 docker-archive:image.tar:tap-stripe/source-stripe:0.1.0`).
# Output, kept for inspection: target/oci-image/ (layout/ the image, run/rootfs the unpacked copy
# the checks ran in).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

say() { echo "oci-image.sh: $*" >&2; }
fail() {
  say "FAILED: $*"
  exit 1
}

# The image's definition (the Dockerfile says the same).
user=airbyte
uid=1000
gid=1000
workdir=/airbyte
entrypoint=/usr/local/bin/tap-stripe
name=tap-stripe/source-stripe
# PATH as Debian's images set it (the Dockerfile inherits it from debian:bookworm-slim).
path_env=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
packages=(libc6 libgcc-s1 ca-certificates)

[ "$(id -u)" = 0 ] || fail "needs root (apt-get, file owners, chroot); run it as root, as CI does"

target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
bin="${TAP_STRIPE_BIN:-$target/debug/tap-stripe}"
fake_bin="${FAKE_STRIPE_BIN:-$target/debug/fake-stripe}"
case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
case "$fake_bin" in /*) ;; *) fake_bin="$repo/$fake_bin" ;; esac
[ -x "$bin" ] || fail "$bin does not exist: cargo build --workspace --bins (or set TAP_STRIPE_BIN)"
[ -x "$fake_bin" ] || fail "$fake_bin does not exist: cargo build --workspace --bins (or set FAKE_STRIPE_BIN)"
version="$("$bin" --version | awk '{print $2}')"
[ -n "$version" ] || fail "$bin --version printed no version"

say "tools: apt-get update, then umoci and oci-image-tool from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || fail "apt-get update"
apt-get install -y -qq --no-install-recommends umoci oci-image-tool >/dev/null || fail "apt-get install umoci oci-image-tool"

out="$target/oci-image"
rm -rf "$out"
mkdir -p "$out/debs"
layout="$out/layout"

say "OCI layout: umoci init, new, unpack (an empty bundle to fill)"
umoci init --layout "$layout"
umoci new --image "$layout:$version"
umoci unpack --image "$layout:$version" "$out/bundle" >/dev/null
rootfs="$out/bundle/rootfs"

say "packages: apt-get download ${packages[*]}"
# apt downloads as its own user `_apt` when it can write the directory (no warning as root).
if id _apt >/dev/null 2>&1; then chown _apt "$out/debs"; fi
(cd "$out/debs" && apt-get download -qq "${packages[@]}") || fail "apt-get download ${packages[*]}"
for deb in "$out"/debs/*.deb; do
  say "  $(dpkg-deb --show --showformat='${Package} ${Version}' "$deb")"
  dpkg-deb --extract "$deb" "$rootfs"
done

say "root filesystem"
# What update-ca-certificates makes: every certificate of the package in one PEM file.
mkdir -p "$rootfs/etc/ssl/certs"
find "$rootfs/usr/share/ca-certificates" -name '*.crt' -print0 | sort -z | xargs -0 cat >"$rootfs/etc/ssl/certs/ca-certificates.crt"
[ -s "$rootfs/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA certificate in ca-certificates"
install -D -m 0755 "$bin" "$rootfs$entrypoint"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n%s:x:%s:%s:%s:%s:/usr/sbin/nologin\n' "$user" "$uid" "$gid" "$user" "$workdir" >"$rootfs/etc/passwd"
printf 'root:x:0:\n%s:x:%s:\n' "$user" "$gid" >"$rootfs/etc/group"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"
install -d -m 0755 -o "$uid" -g "$gid" "$rootfs$workdir"
install -d -m 1777 "$rootfs/tmp"
# Everything else belongs to root (dpkg-deb keeps the packages' owners, root).
chown root:root "$rootfs"

say "OCI layout: umoci repack (one layer), config, gc"
# Not `umoci insert`: Debian's umoci 0.4.7 writes its layer without the tar's end (test_image.py's
# layer checks found it).
umoci repack --image "$layout:$version" --history.created_by "scripts/oci-image.sh: ${packages[*]}, tap-stripe" "$out/bundle"
rm -rf "$out/bundle"
umoci config --image "$layout:$version" \
  --history.created_by "scripts/oci-image.sh: config" \
  --config.user "$user" \
  --config.workingdir "$workdir" \
  --config.entrypoint "$entrypoint" \
  --config.env "PATH=$path_env" \
  --config.env "AIRBYTE_ENTRYPOINT=$entrypoint" \
  --config.label "io.airbyte.name=$name" \
  --config.label "io.airbyte.version=$version"
umoci gc --layout "$layout"

say "validate: oci-image-tool validate --type image --ref name=$version"
oci-image-tool validate --type image --ref "name=$version" "$layout" || fail "oci-image-tool validate"

say "unpack the image again (from its layer) and run it: chroot --userspec=$uid:$gid"
umoci unpack --image "$layout:$version" "$out/run" >/dev/null
got="$(chroot --userspec="$uid:$gid" "$out/run/rootfs" "$entrypoint" --version)" || fail "the binary does not run in the image"
[ "$got" = "tap-stripe $version" ] || fail "the image's binary says '$got', expected 'tap-stripe $version'"

say "tests/image (pytest)"
scripts/python-env.sh || fail "scripts/python-env.sh"
OCI_LAYOUT="$layout" OCI_REF="$version" OCI_ROOTFS="$out/run/rootfs" TAP_STRIPE_BIN="$bin" FAKE_STRIPE_BIN="$fake_bin" \
  PYTHONDONTWRITEBYTECODE=1 .venv-e2e/bin/python -m pytest tests/image -q || fail "tests/image"
say "image $layout:$version checked"
