#!/usr/bin/env python3
"""Checks the dependency rules of ARCHITECTURE.md that the compiler does not.

- Sources/RaftCore imports nothing: standard library only.
- The server executable (`keyraft`) never depends, even transitively, on the seeded
  entropy target or on the simulator: they cannot be picked up by accident.
- `@_spi(Canaries)` (deliberate bugs for the simulator) is imported only by the node
  driver (which passes them through), the simulator and the tests.
"""
import json
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
failures = []

imports = re.compile(r'^\s*(@\S+\s+)*import\s+\S+', re.M)
for path in sorted((root / "Sources/RaftCore").rglob("*.swift")):
    for match in imports.finditer(path.read_text()):
        failures.append(f"{path.relative_to(root)}: RaftCore must import nothing: {match.group(0).strip()}")

package = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=root, check=True,
                                    capture_output=True, text=True).stdout)
deps = {}
for target in package["targets"]:
    names = []
    for dep in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dep:
                names.append(dep[kind][0])
    deps[target["name"]] = names

def closure(name, seen=None):
    seen = set() if seen is None else seen
    for dep in deps.get(name, []):
        if dep not in seen:
            seen.add(dep)
            closure(dep, seen)
    return seen

forbidden_in_server = {"KeyraftCryptoDeterministic", "Simulation"}
for server in ("keyraft", "APIServer", "KeyraftNode", "Storage", "Transport"):
    if server in deps:
        bad = closure(server) & forbidden_in_server
        if bad:
            failures.append(f"target {server} depends on {sorted(bad)}, which only tests and the simulator may use")

allowed_spi = ("Sources/Simulation", "Sources/keyraft-sim", "Sources/KeyraftNode", "Tests/")
for path in sorted(root.glob("Sources/**/*.swift")):
    rel = str(path.relative_to(root))
    if "@_spi(Canaries) import" in path.read_text() and not rel.startswith(allowed_spi):
        failures.append(f"{rel}: only the simulator may import @_spi(Canaries)")

if failures:
    print("dependency rules violated:")
    for failure in failures:
        print("  " + failure)
    sys.exit(1)
print(f"ok: {len(deps)} targets checked")
