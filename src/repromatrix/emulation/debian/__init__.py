"""Fetching files from Debian's archive without root and without changing the machine's apt setup.

One mechanism for every binary the lab borrows from Debian (qemu-user-static today, an arm64
sysroot's packages later): ``sources`` finds the archive (the machine's apt configuration, else
``REPROMATRIX_DEBIAN_MIRROR``), ``archive`` reads and verifies the suite's Release and Packages
index, ``download`` fetches a file with progress and checks its SHA-256, ``deb`` unpacks chosen
members of a ``.deb`` in Python, and ``cache`` keeps the verified result so that a second run needs
no network. See docs/debian-fetch.md for what is and is not verified.
"""
