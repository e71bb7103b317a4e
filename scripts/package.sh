#!/usr/bin/env bash
# Build the Debian package target/debian/ocsp_<version>_<arch>.deb with cargo-deb
# (installed with `cargo install cargo-deb --locked` when absent).
#
# What goes in it is declared in crates/ocsp/Cargo.toml ([package.metadata.deb]); this
# script first generates what is made from the binary itself, into target/deb-staging/:
# the manual pages (`ocsp man`, gzipped), the bash/zsh/fish completions
# (`ocsp completions`), the packaged systemd unit (dist/ocsp.service with the package's
# paths) and the changelog (dist/debian/changelog, gzipped). The maintainer scripts are in
# dist/debian/. Prints the .deb's path.
#
# SOURCE_DATE_EPOCH (default: the last commit's time) dates the man pages and the
# archive's files, so the same commit gives the same package.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "package: installing cargo-deb (cargo install cargo-deb --locked)" >&2
  cargo install cargo-deb --locked
fi

export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
target="${CARGO_TARGET_DIR:-target}"
stage=target/deb-staging

cargo build --release --locked -p ocsp
bin="$target/release/ocsp"

rm -rf "$stage"
mkdir -p "$stage/man" "$stage/completions" "$stage/systemd"
gzip -9n <dist/debian/changelog >"$stage/changelog.gz"
"$bin" man --out "$stage/man" >/dev/null
touch -d "@$SOURCE_DATE_EPOCH" "$stage"/man/*
gzip -9n "$stage"/man/*
"$bin" completions bash >"$stage/completions/ocsp"
"$bin" completions zsh >"$stage/completions/_ocsp"
"$bin" completions fish >"$stage/completions/ocsp.fish"

# The unit as packaged: /usr/bin/ocsp, and the package's install note in place of the
# manual install steps.
awk '
  /^# Install:/ { skip = 1
    print "# Installed by the ocsp package, neither enabled nor started. Configure, then start:"
    print "#   editor /etc/ocsp/ocsp.toml          # root:ocsp 0640; see ocsp.toml(5)"
    print "#   ocsp check-config /etc/ocsp/ocsp.toml"
    print "#   systemctl enable --now ocsp"
    next }
  skip && /^#$/ { skip = 0 }
  skip { next }
  { gsub("/usr/local/bin/ocsp", "/usr/bin/ocsp") }
  /^Documentation=/ { print; print "Documentation=man:ocsp-serve(1) man:ocsp.toml(5)"; next }
  { print }
' dist/ocsp.service >"$stage/systemd/ocsp.service"
if grep -q /usr/local "$stage/systemd/ocsp.service"; then
  echo "package: the packaged unit still names /usr/local" >&2
  exit 1
fi

cargo deb -p ocsp --no-build --locked --strip --output target/debian/ 2>&1 |
  { grep -v "^warning: Only source paths starting with exactly 'target/release/'" >&2 || true; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
deb="target/debian/ocsp_${version}_$(dpkg --print-architecture).deb"
if [ ! -f "$deb" ]; then
  echo "package: cargo deb did not write $deb" >&2
  exit 1
fi
echo "$deb"
