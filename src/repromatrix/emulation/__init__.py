"""qemu-user and the Debian files it needs, fetched and verified; Python 3.9-safe."""
