"""Measure this x86_64 CPU's rsqrtps/rcpps estimate tables and write them as a shipped table.

    python scripts/measure_estimates.py [FOLDER]   (default: src/repromatrix/resources/estimates)

The file is named by the CPU's vendor, family and model (Linux /proc/cpuinfo), e.g.
AuthenticAMD-25-17.json, so that `estimates = "AuthenticAMD-25-17"` in a lab cell replays it on
any machine. It holds what an artifact's ``fingerprint.cpu.estimates`` holds, plus who measured.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from repromatrix.cell import estimate_probe  # noqa: E402
from repromatrix.cell.fingerprint import cpuinfo_fields  # noqa: E402


def cpu_identity() -> dict[str, str]:
    fields = cpuinfo_fields(Path("/proc/cpuinfo").read_text(encoding="utf-8"))
    return {"vendor": fields.get("vendor_id", ""), "family": fields.get("cpu family", ""),
            "model_number": fields.get("model", ""), "model": fields.get("model name", "")}


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parents[1] / "src/repromatrix/resources/estimates"
    record = estimate_probe.fingerprint()
    if not record.get("measured") or record.get("mismatches"):
        print(f"not a table-driven estimate here: {record.get('reason') or record}", file=sys.stderr)
        return 1
    identity = cpu_identity()
    document = {**identity, "measured_on": datetime.date.today().isoformat(),
                "measured_with": "repromatrix cell/estimate_probe.py (packed SSE form)", **record}
    name = f"{identity['vendor']}-{identity['family']}-{identity['model_number']}.json"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(document, indent=1, sort_keys=True) + "\n",
                               encoding="utf-8")
    print(f"{folder / name}: sha256 {record['sha256']}, {record['checked']} inputs checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
