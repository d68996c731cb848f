"""Sample inputs shared by the CI tests (a module of its own: conftest is not importable)."""

from __future__ import annotations

VALID_MATRIX = """\
[experiment]
seed = 42
data = "builtin"
target = "target"
variants = ["default-optimizer", "adam"]

[pins]
python = "3.9.2"

[pins.packages]
tensorflow = "2.12.0"
numpy = "1.23.5"

[platforms.macos-arm64]
replace = { tensorflow = "tensorflow-macos" }

[platforms.windows-x86_64]
pulls = ["tensorflow-intel"]

[variants.default-optimizer]
optimizer = "default"

[variants.adam]
optimizer = "adam"
env = { TF_ENABLE_ONEDNN_OPTS = "0" }

[[runners]]
label = "ubuntu-24.04"
os = "linux"
arch = "x86_64"
python = "uv"
repeat = 2

[[runners]]
label = "windows-2025"
os = "windows"
arch = "x86_64"
python = "setup-python"

[[runners]]
label = "macos-15"
os = "macos"
arch = "arm64"
python = "uv"

[[excluded]]
label = "windows-11-arm"
os = "windows"
arch = "arm64"
reason = "no tensorflow 2.12.0 wheel"

[lab]
rows = 8
variants = ["adam"]

[[lab.cells]]
id = "lab-native"
"""
