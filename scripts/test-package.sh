#!/usr/bin/env bash
# Build the Debian package (scripts/package.sh) and test it on this machine, for real:
#   - the file is named ocsp_<version>_<arch>.deb, and lintian reports no error and no
#     warning (overrides, each with its reason, are in dist/debian/lintian-overrides);
#   - dpkg -i installs it: the ocsp system user and group exist, `ocsp --version` and
#     `man ocsp-serve` / `man 5 ocsp.toml` work from the installed files, the
#     completions load, /etc/ocsp/ocsp.toml is a conffile owned root:ocsp 0640,
#     `systemd-analyze verify` accepts the unit, and nothing is enabled or started;
#   - dpkg -r removes every file but the conffile; dpkg --purge leaves nothing whose
#     path names ocsp under /etc, /usr, /var/lib or /lib, and no ocsp user or group.
# Needs root (dpkg), lintian, man-db, systemd (for systemd-analyze); scripts/test-all.sh
# installs them. Refuses to run over an ocsp package already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-package: FAIL: $*" >&2; exit 1; }
step() { echo "test-package: $*"; }

[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i / -r / --purge): run it with sudo"
for tool in dpkg lintian man systemd-analyze; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool is not installed: apt-get install lintian man-db systemd (scripts/test-all.sh does)"
done
if dpkg-query -W -f='${Status}' ocsp 2>/dev/null | grep -qv "not-installed"; then
  fail "an ocsp package is already on this machine: dpkg --purge ocsp first"
fi

deb=$(./scripts/package.sh)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
[ "$(basename "$deb")" = "ocsp_${version}_${arch}.deb" ] || fail "package named $deb"
step "built $deb ($(du -k "$deb" | cut -f1) KiB)"

step "lintian $deb"
lint=$(lintian --display-info "$deb" 2>&1) || true
echo "${lint:-  (lintian printed nothing)}" | sed 's/^/  /'
if echo "$lint" | grep -qE '^[EW]: '; then
  fail "lintian reports errors or warnings (above)"
fi

# Everything on the machine whose path names ocsp, before and after.
scan() {
  find /etc /usr /var/lib /lib -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt \) -prune \
    -o -iname '*ocsp*' -print 2>/dev/null | grep -v '^/usr/share/doc/ocsp-' | sort
}
before=$(mktemp); after=$(mktemp)
trap 'rm -f "$before" "$after"; dpkg --purge ocsp >/dev/null 2>&1 || true' EXIT
scan >"$before"

step "dpkg -i"
dpkg -i "$deb"
getent passwd ocsp | grep -q ':/usr/sbin/nologin$' || fail "no ocsp system user with nologin"
getent group ocsp >/dev/null || fail "no ocsp group"
out=$(/usr/bin/ocsp --version)
echo "  $out"
case "$out" in "ocsp $version (commit "*", features: "*")") ;; *) fail "ocsp --version: $out" ;; esac
man_serve=$(MANPAGER=cat MANWIDTH=100 man ocsp-serve 2>&1) || fail "man ocsp-serve: $man_serve"
echo "$man_serve" | grep -q -- "--metrics-listen" || fail "man ocsp-serve lacks --metrics-listen"
[ "$(man -w ocsp-serve)" = /usr/share/man/man1/ocsp-serve.1.gz ] || fail "man ocsp-serve is not the packaged page"
man_toml=$(MANPAGER=cat man 5 ocsp.toml 2>&1) || fail "man 5 ocsp.toml: $man_toml"
echo "$man_toml" | grep -q "refresh_fraction" || fail "man 5 ocsp.toml lacks refresh_fraction"
for page in $(dpkg -L ocsp | grep '^/usr/share/man/man[15]/.*\.gz$'); do
  warn=$(man --warnings -l "$page" 2>&1 >/dev/null) || fail "man -l $page"
  [ -z "$warn" ] || fail "man --warnings $page: $warn"
done
step "man ocsp-serve and man 5 ocsp.toml render without warnings ($(dpkg -L ocsp | grep -c '^/usr/share/man/man[15]/.*\.gz$') pages)"
bash -c 'source /usr/share/bash-completion/completions/ocsp && complete -p ocsp' >/dev/null ||
  fail "the bash completion does not load"
[ -s /usr/share/zsh/vendor-completions/_ocsp ] || fail "no zsh completion"
[ -s /usr/share/fish/vendor_completions.d/ocsp.fish ] || fail "no fish completion"
dpkg-query -W -f='${Conffiles}\n' ocsp | grep -q '^ /etc/ocsp/ocsp.toml ' || fail "/etc/ocsp/ocsp.toml is not a conffile"
[ "$(stat -c '%U:%G %a' /etc/ocsp/ocsp.toml)" = "root:ocsp 640" ] || fail "/etc/ocsp/ocsp.toml is $(stat -c '%U:%G %a' /etc/ocsp/ocsp.toml)"
[ "$(stat -c '%U:%G %a' /etc/ocsp)" = "root:ocsp 750" ] || fail "/etc/ocsp is $(stat -c '%U:%G %a' /etc/ocsp)"
unit=$(dpkg -L ocsp | grep '/systemd/system/ocsp.service$') || fail "no unit in the package"
grep -q '^ExecStart=/usr/bin/ocsp serve --config /etc/ocsp/ocsp.toml$' "$unit" || fail "$unit does not run /usr/bin/ocsp"
grep -q '^User=ocsp$' "$unit" || fail "$unit does not run as ocsp"
verify=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $verify"
if echo "$verify" | grep -i 'ocsp.service' | grep -qv 'Cannot add dependency job'; then
  fail "systemd-analyze verify $unit: $verify"
fi
step "systemd-analyze verify $unit: accepted"
if [ -e /etc/systemd/system/multi-user.target.wants/ocsp.service ] ||
  deb-systemd-helper --quiet is-enabled ocsp.service 2>/dev/null; then
  fail "the unit was enabled by the package"
fi
if pgrep -f '^/usr/bin/ocsp' >/dev/null; then fail "the package started ocsp"; fi
step "installed: user, man pages, completions, conffile, unit (not enabled, not started)"

step "dpkg -r"
installed=$(dpkg -L ocsp | grep -v '^/\.$')
dpkg -r ocsp
left=""
for f in $installed; do
  [ "$f" = /etc/ocsp/ocsp.toml ] && continue
  if [ -f "$f" ] || [ -L "$f" ]; then left="$left $f"; fi
done
[ -z "$left" ] || fail "dpkg -r left:$left"
[ -f /etc/ocsp/ocsp.toml ] || fail "dpkg -r removed the conffile (only --purge may)"
step "removed: every file gone but the conffile /etc/ocsp/ocsp.toml"

step "dpkg --purge"
dpkg --purge ocsp
scan >"$after"
extra=$(comm -13 "$before" "$after")
[ -z "$extra" ] || fail "dpkg --purge left: $extra"
if getent passwd ocsp >/dev/null || getent group ocsp >/dev/null; then
  fail "dpkg --purge left the ocsp user or group"
fi
step "purged: no file, user or group left"
step "PASS"
