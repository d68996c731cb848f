"""repromatrix: does a training run give bit-identical results across CPUs, and if not, why?

Layers, lowest first; a layer imports only from the ones above it in this list:

- shared leaves (this folder): errors, floats, files, arguments, contract (the user's import
  path), artifact (the artifact format), resources (shipped files);
- config/     matrix.toml -> the model: loading, checks, the package defaults layer;
- emulation/  qemu-user and the Debian files it needs, fetched and verified;
- cell/       what runs inside the pinned venv (Python 3.9 + TensorFlow): one cell -> one artifact;
- report/     artifacts -> groups, verdicts, root causes, tables and charts;
- host/       orchestration on the host: the lab, interpreters, preflight;
- ci/         GitHub glue: the plan, outputs, the sticky comment, what `init` writes;
- cli/        the `repromatrix` command line;
- entry points: __main__ (`python -m repromatrix`) and sessions (the nox sessions a
  noxfile registers), which may use every layer.

tests/test_layers.py holds the code to this.
"""

__version__ = "0.1.0"
