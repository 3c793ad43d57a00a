#!/usr/bin/env bash
# Install everything the tests need and run all of them: the Rust core's
# cargo tests, the linters (ruff, rustfmt, clippy) and the Python suite. One release build serves both (maturin
# and `cargo test --release` share target/ and the release profile).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e ".[test,docs,dask,spark]"
# Spark's tests need Java: Debian's headless JRE when it is missing and we may install it;
# otherwise tests/outofcore skips them and says so.
if ! command -v java >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null) \
            || echo "openjdk-17-jre-headless could not be installed: the Spark tests will be skipped"
    else
        echo "java is not installed: the Spark tests will be skipped"
    fi
fi
cargo test --release -p mixedmodels --quiet
python -m ruff check python tests benches tools
python -m ruff format --check --quiet python tests benches tools
# Rust lints, when the toolchain has them (rustup components rustfmt, clippy).
if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all -- --check; else echo "rustfmt not installed: skipped"; fi
if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --release --workspace --all-targets --quiet -- -D warnings
else
    echo "clippy not installed: skipped"
fi
python -m mypy.stubtest mixedmodels._core
# The documentation site (mkdocs.yml): strict, so a broken link or reference fails; the gallery's images are drawn.
site="$(mktemp -d)"
NO_MKDOCS_2_WARNING=1 MPLBACKEND=Agg python -m mkdocs build --strict --quiet --site-dir "$site"
rm -rf "$site"
python -m pytest tests
