#!/usr/bin/python3
"""Count individual TAP results in a meson testlog.json.

Prints "PASSED FAILED SKIPPED" on the first line, then one line per failure.
A test program that fails without reporting a failing TAP case (it crashed,
bailed out or broke its plan) counts as one failure; one that is skipped as
a whole counts as one skip.
"""
import json
import re
import sys

TAP = re.compile(r'^(not ok|ok)\b\s*\d*\s*(.*?)\s*(?:#\s*(SKIP|TODO)\b.*)?$',
                 re.IGNORECASE)
passed = failed = skipped = 0
failures = []
with open(sys.argv[1]) as log:
    for line in log:
        t = json.loads(line)
        ok = nok = skip = 0
        for out in (t.get('stdout') or '').splitlines():
            m = TAP.match(out)
            if not m:
                continue
            status, desc, directive = m.groups()
            if directive:
                skip += 1
            elif status == 'ok':
                ok += 1
            else:
                nok += 1
                failures.append(f"{t['name']}: {desc}")
        if t['result'] in ('FAIL', 'ERROR', 'TIMEOUT', 'UNEXPECTEDPASS') and not nok:
            nok = 1
            failures.append(f"{t['name']}: {t['result'].lower()} "
                            f"(exit status {t.get('returncode')})")
        if t['result'] == 'SKIP' and not (ok or nok or skip):
            skip = 1
        passed += ok
        failed += nok
        skipped += skip
print(passed, failed, skipped)
for f in failures:
    print(f)
