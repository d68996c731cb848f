"""The `repromatrix` command line (argparse only; the logic lives in the layers)."""
