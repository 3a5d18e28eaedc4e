#!/usr/bin/env python3
"""Names the functions a run executed, for link/symbol-order.txt (see
bench/symbol_order.sh). Python's standard library only.

    symbol_order.py MAP CALLGRIND_OUT BINARY_NAME [PREVIOUS]

MAP is the linker's map of the release binary (`-Wl,-Map`, which names
every input section even though the binary itself is stripped);
CALLGRIND_OUT a `valgrind --tool=callgrind --dump-instr=yes
--compress-strings=no --compress-pos=no` profile of that same binary. Each
instruction the run executed in BINARY_NAME falls in one `.text.<symbol>`
section of the map; the symbols are printed once each, in the order the
map lays them out. Since the map's binary was itself linked in the order of
the file being replaced, a new file keeps the old one's order and adds what
is new after it: regenerating changes only the lines that must change.
With PREVIOUS (the file being replaced), the names it lists that the map
still has are kept even if this run did not execute them: what runs
depends a little on timing (a flush of "last used" notes, a thread parking),
and the list should not lose it on a quiet run.
"""

import bisect
import re
import sys

SECTION = re.compile(
    r"\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+\S+:\(\.text\.([^)]+)\)\s*$"
)
# LLVM and GCC put cold, hot and start-up code in `.text.unlikely.<symbol>`
# and the like; the ordering file names the symbol.
PREFIX = re.compile(r"^(?:unlikely|hot|startup|exit|split)\.(?=.)")


def sections(map_path):
    found = []
    with open(map_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = SECTION.match(line)
            if m and int(m.group(2), 16) > 0:
                found.append((int(m.group(1), 16), int(m.group(2), 16), PREFIX.sub("", m.group(3))))
    found.sort()
    return found


def executed(profile_path, binary_name):
    """Instruction addresses executed in the binary (its link addresses:
    valgrind reports a position-independent executable's as linked)."""
    obj = None
    with open(profile_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("ob="):
                obj = line[3:].strip()
            elif line.startswith("0x") and obj and obj.rsplit("/", 1)[-1] == binary_name:
                yield int(line.split()[0], 16)


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    secs = sections(sys.argv[1])
    starts = [s[0] for s in secs]
    hit, outside = set(), 0
    if len(sys.argv) == 5:
        with open(sys.argv[4], encoding="utf-8") as f:
            kept = {line.strip() for line in f if line.strip()}
        hit.update(i for i, s in enumerate(secs) if s[2] in kept)
    for addr in executed(sys.argv[2], sys.argv[3]):
        i = bisect.bisect_right(starts, addr) - 1
        if i < 0 or addr >= secs[i][0] + secs[i][1]:
            outside += 1
            continue
        hit.add(i)
    seen, order = set(), []
    for i in sorted(hit):
        name = secs[i][2]
        if name not in seen:
            seen.add(name)
            order.append(name)
    if not order:
        sys.exit("no executed function found: is the map from the profiled binary?")
    print("\n".join(order))
    size = sum(s[1] for s in secs if s[2] in seen)
    print(
        f"{len(order)} functions, {size // 1024} KiB of {sum(s[1] for s in secs) // 1024} KiB "
        f"of code; {outside} addresses outside named sections",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
