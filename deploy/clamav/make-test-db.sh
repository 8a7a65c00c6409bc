#!/usr/bin/env bash
# Regenerate the tiny signature database shipped for development and tests.
# Official databases are fetched by freshclam in production; they are not
# available offline, and clamd refuses to start without any database.
#
#   deploy/clamav/make-test-db.sh   (needs sigtool from Debian's clamav package
#                                    and the clamav-testfiles package)
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)/db"
TESTFILES=/usr/share/clamav-testfiles
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
printf '%s' "$EICAR" > "$tmp/eicar"

# Hash signatures (MD5:size:name): the exact EICAR file and ClamAV's own test binary,
# which every sample in clamav-testfiles wraps (zip, 7z, tar.gz, packers, mail, ...).
{
  sigtool --md5 "$tmp/eicar" | sed 's/:[^:]*$/:Atrium.Test.EICAR.Hash/'
  sigtool --md5 "$TESTFILES/clam.exe" | sed 's/:[^:]*$/:Atrium.Test.ClamAV-TestFile/'
} > "$DIR/atrium-test.hdb"

# Body signature (name:target:offset:hex): the EICAR string anywhere in any file,
# so padded copies and copies inside archives are found too.
printf 'Atrium.Test.EICAR:0:*:%s\n' "$(printf '%s' "$EICAR" | xxd -p | tr -d '\n')" \
  > "$DIR/atrium-test.ndb"
sigtool --info "$DIR/atrium-test.ndb" >/dev/null 2>&1 || true
echo "wrote $DIR/atrium-test.hdb and $DIR/atrium-test.ndb"
