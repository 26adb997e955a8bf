"""The client library stands alone: an application linking `BasaltClient` builds neither the
storage engine nor the cluster coordinator.

Checked on the package graph SwiftPM itself reports (`swift package describe --type json`), so
it cannot pass by accident: the transitive target closure of the `BasaltClient` product must not
contain a server-side target, and every module the client and protocol sources import must be in
that closure. No server is started; the check takes a few seconds.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

SERVER_SIDE = {"BasaltStorage", "BasaltCluster", "BasaltIndex", "BasaltVector", "BasaltCQL", "BasaltServer", "CCrypt"}


@pytest.fixture(scope="module")
def package():
    swift = shutil.which("swift")
    if swift is None:
        pytest.skip("swift is not on PATH")
    with tempfile.TemporaryDirectory(prefix="basalt-describe-") as scratch:
        out = subprocess.run([swift, "package", "--scratch-path", scratch, "describe", "--type", "json"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300, check=True).stdout
    return json.loads(out[out.index("{"):])


def closure(targets, start):
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(targets[name].get("target_dependencies", []) if name in targets else [])
    return seen


def test_client_product_builds_no_server_target(package):
    targets = {t["name"]: t for t in package["targets"]}
    product = next(p for p in package["products"] if p["name"] == "BasaltClient")
    reached = closure(targets, product["targets"])
    assert "BasaltProtocol" in reached and "BasaltCore" in reached and "BasaltNet" in reached
    assert reached & SERVER_SIDE == set(), f"BasaltClient pulls in {sorted(reached & SERVER_SIDE)}"
    assert set(targets["BasaltClient"]["target_dependencies"]) == {"BasaltCore", "BasaltNet", "BasaltProtocol"}
    assert set(targets["BasaltProtocol"]["target_dependencies"]) <= {"BasaltCore", "CLZ4", "CSnappy"}
    # The server's CQL front end shares the same codec.
    assert "BasaltProtocol" in targets["BasaltCQL"]["target_dependencies"]


def test_client_sources_import_only_their_closure(package):
    targets = {t["name"]: t for t in package["targets"]}
    allowed = closure(targets, ["BasaltClient"]) | {"Logging", "Synchronization", "Foundation", "Glibc", "Darwin", "Dispatch"}
    for target in ("BasaltClient", "BasaltProtocol"):
        base = os.path.join(ROOT, targets[target]["path"])
        for dirpath, _, files in os.walk(base):
            for name in files:
                if not name.endswith(".swift"):
                    continue
                with open(os.path.join(dirpath, name)) as f:
                    for module in re.findall(r"^(?:@\w+\s+)?(?:public |internal )?import\s+(\w+)", f.read(), re.M):
                        assert module in allowed, f"{target}/{name} imports {module}"


def test_readme_swift_example_is_the_compiled_one():
    """README.md's Swift example is, line for line, the body ReadmeExampleTests compiles and runs."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    block = readme.split("### The Swift client", 1)[1].split("```swift\n", 1)[1].split("```", 1)[0]
    readme_lines = [l.strip() for l in block.splitlines() if l.strip() and l.strip() != "import BasaltClient"]
    with open(os.path.join(ROOT, "Tests", "BasaltClientTests", "ReadmeExampleTests.swift")) as f:
        source = f.read()
    body = source.split("// README example begins\n", 1)[1].split("// README example ends", 1)[0]
    test_lines = [l.strip() for l in body.splitlines() if l.strip()]
    assert test_lines[0] == "var config = SessionConfiguration(contactPoints: [host])"
    assert readme_lines == test_lines
