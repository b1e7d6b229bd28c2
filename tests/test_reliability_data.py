"""The real test files in tests/data: every folder documents its source and licence, and its
SHA-256 list matches the files exactly (nothing missing, changed or unlisted)."""

import hashlib
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
FOLDERS = sorted(p.parent for p in DATA.rglob("SHA256SUMS"))


def test_every_data_file_belongs_to_a_checked_folder():
    assert len(FOLDERS) == 6
    covered = {f for folder in FOLDERS for f in folder.rglob("*") if f.is_file()}
    top = {DATA / "README.md"} | set((DATA / "licenses").iterdir())
    stray = sorted(str(f.relative_to(DATA)) for f in DATA.rglob("*") if f.is_file()
                   and f not in covered and f not in top)
    assert stray == []


@pytest.mark.parametrize("folder", FOLDERS, ids=[str(f.relative_to(DATA)) for f in FOLDERS])
def test_checksums_match_and_the_readme_names_source_and_licence(folder):
    listed = {}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
               and p.name not in ("README.md", "SHA256SUMS")}
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    readme = (folder / "README.md").read_text()
    assert "**Source**" in readme and "**Licence**" in readme
