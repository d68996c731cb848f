"""matrix.toml -> the model: loading, checks, the package defaults layer."""
