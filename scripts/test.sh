#!/usr/bin/env bash
# Install everything the tests need and run all of them: the Rust core's
# cargo tests and the Python suite. One release build serves both (maturin
# and `cargo test --release` share target/ and the release profile).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e ".[test]"
cargo test --release -p mixedmodels --quiet
python -m ruff check python tests benches tools
python -m mypy.stubtest mixedmodels._core
python -m pytest tests
