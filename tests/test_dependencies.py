"""The dependency set is locked: Python packages with hashes, vendored front-end files by checksum."""
from __future__ import annotations

import hashlib
import json
import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ("requirements.txt", "requirements-local-model.txt", "requirements-dev.txt")
VENDOR = ROOT / "static" / "vendor"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(lock: str) -> dict[str, tuple[str, int]]:
    """{package: (version, number of hashes)} of one lock file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / lock).read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = _normal(match.group(1))
            pins[current] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif line and not line.startswith((" ", "#")):
            pytest.fail(f"{lock}: a line that is neither a pin nor a comment: {line!r}")
    return pins


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_is_pinned_with_hashes(lock):
    pins = _locked(lock)
    assert pins, f"{lock} locks nothing"
    assert not [name for name, (_, hashes) in pins.items() if hashes == 0]


@pytest.mark.parametrize("lock", LOCKS)
def test_each_direct_requirement_is_locked_at_its_pin(lock):
    source = (ROOT / lock).with_suffix(".in")
    pins = _locked(lock)
    for line in source.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            assert pins.get(_normal(match.group(1)), (None,))[0] == match.group(2), line


def test_the_locks_agree_with_each_other():
    seen: dict[str, tuple[str, str]] = {}
    for lock in LOCKS:
        for name, (version, _) in _locked(lock).items():
            first = seen.setdefault(name, (version, lock))
            assert first[0] == version, f"{name}: {first[0]} in {first[1]}, {version} in {lock}"


def test_the_installed_packages_are_the_locked_ones():
    """What runs is what the lock says (the environment was installed from it)."""
    locked = {}
    for lock in LOCKS:
        locked.update({name: version for name, (version, _) in _locked(lock).items()})
    installed = {_normal(d.metadata["Name"]): d.version for d in metadata.distributions()}
    runtime = _locked("requirements.txt")
    assert not [name for name in runtime if name not in installed and name not in ("pip", "setuptools")]
    drift = {name: (installed[name], version) for name, version in locked.items()
             if name in installed and installed[name] != version and name not in ("pip", "setuptools")}
    assert not drift, f"installed ≠ locked: {drift}"


def _manifest() -> dict:
    return json.loads((VENDOR / "manifest.json").read_text())


def test_vendored_files_match_their_checksums():
    for library, entry in _manifest().items():
        for path, file in entry["files"].items():
            digest = hashlib.sha256((VENDOR / path).read_bytes()).hexdigest()
            assert digest == file["sha256"], f"{library}: {path} differs from manifest.json"


def test_every_vendored_file_is_in_the_manifest():
    listed = {path for entry in _manifest().values() for path in entry["files"]}
    present = {
        str(path.relative_to(VENDOR)) for path in VENDOR.rglob("*")
        if path.is_file() and path.name not in ("README.md", "manifest.json")
    }
    assert present == listed


def test_the_vendor_readme_names_the_manifest_versions():
    readme = (VENDOR / "README.md").read_text()
    for library, entry in _manifest().items():
        assert f"| {library} | {entry['version']} | `{entry['npm']}` |" in readme


def test_vendored_scripts_carry_their_version():
    """A file replaced without updating the manifest is caught by its checksum; this catches a
    manifest whose version was bumped without replacing the file."""
    banners = {"DOMPurify": "dompurify/purify.min.js", "highlight.js": "highlight.js/highlight.min.js"}
    manifest = _manifest()
    for library, path in banners.items():
        head = (VENDOR / path).read_text()[:400]
        assert manifest[library]["version"] in head, f"{path} is not {library} {manifest[library]['version']}"
