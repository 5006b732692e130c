"""Benchmark 4, ``letters``: response letters rendered and signed per second in one worker-like process.

The issue: "Letters rendered and signed per second per worker process, and peak RSS per worker ...
Aim: at least 20 signed letters per second per process."

Everything is measured in a fresh interpreter (``python -m bench.letters --child ...``, started by
:func:`run`, which prints one JSON document on stdout), so that its RSS is that of one process that has
imported the letters service's renderer and signer and nothing of the benchmark harness. The work is
done by a fork that this interpreter makes before any import (see :func:`main`), because ru_maxrss
would otherwise include the benchmark process's RSS. The child, one
phase after the other, each after a warm-up of 3 letters and then for ``seconds`` (10, ``--quick``: 2):

- ``render_only``: ``layout_response_letter`` of the one-page letter the worker produces
  (Pegantenan's letterhead, a 3-paragraph body, a ``verify_url`` QR code, a new number each letter);
- ``sign_only``: ``sign_pdf`` of one pre-rendered PDF, with the visible signature box on page 1;
- ``render_and_sign``: both, per letter, as ``services/letters/handlers.py`` does (the identity loaded
  once, before the loop);
- ``render_identity_and_sign``: the same plus an uncached load of the signing key for every letter
  (``DevelopmentCA(folder).identity(...)`` reads and parses the key and certificates). The worker
  (``SigningKeys.identity``, services/letters/adapters/keys.py) caches the key per kecamatan for an hour, so this phase shows what that cache
  saves, not the worker's steady state, which is ``render_and_sign``.

Reported per phase: letters per second, p50/p90/p99/max ms per letter, CPU ms per letter (the child's
own user+system time) and ``cpu.other_share`` (what other processes took of the machine meanwhile);
for the process: RSS after the imports (baseline), the peak RSS (``ru_maxrss``) after each phase and at
the end. Ratios: ``render_and_sign_over_render_only`` (same-run baseline) and
``signed_letters_per_second_over_target_20`` (against the issue's aim, *not* a same-run baseline).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from bench.cpu import CpuMeter
from bench.stats import latency_summary_ms, ratio

log = logging.getLogger("bench.letters")

ROOT = Path(__file__).resolve().parent.parent
TARGET_SIGNED_PER_SECOND = 20.0  # the aim, per worker process
PHASES = ("render_only", "sign_only", "render_and_sign", "render_identity_and_sign")

# The kecamatan of the SOP, as shared.tenancy.demo_kecamatan seeds it (not imported here: the child
# should import the renderer and the signer only).
KECAMATAN_SLUG = "pegantenan"
KECAMATAN_NAME = "Pegantenan"
KABUPATEN_NAME = "Kabupaten Pamekasan"


@dataclass(frozen=True)
class LettersParams:
    seconds: float = 10.0  # per phase
    warmup_letters: int = 3  # per phase, before its measured window


# ---------------------------------------------------------------------------------------------------
# The parent: start the child, read its JSON, add ratios


def run(params: LettersParams) -> dict[str, Any]:
    from services.letters.adapters.development_ca import DevelopmentCA

    with tempfile.TemporaryDirectory(prefix="pengaduan-bench-letters-") as tmp:
        ca_dir = Path(tmp) / "signing"
        # keys and certificates exist before the child starts, as they do for a running worker
        DevelopmentCA(ca_dir).identity(KECAMATAN_SLUG, KECAMATAN_NAME, KABUPATEN_NAME)
        cmd = [
            sys.executable,
            "-m",
            "bench.letters",
            "--child",
            "--seconds",
            str(params.seconds),
            "--warmup",
            str(params.warmup_letters),
            "--ca-dir",
            str(ca_dir),
        ]
        timeout = len(PHASES) * (params.seconds + 30.0) + 120.0
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)  # noqa: PLW1510
    if proc.returncode != 0:
        raise RuntimeError(f"letters child exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    child = json.loads(proc.stdout)
    phases = child["phases"]
    signed = phases["render_and_sign"]["per_second"]
    met = signed is not None and signed >= TARGET_SIGNED_PER_SECOND
    for name in PHASES:
        fig = phases[name]
        log.info(
            "letters %-24s %7.1f letters/s  p50 %s ms  p99 %s ms  cpu %s ms/letter",
            name,
            fig["per_second"] or 0.0,
            fig["latency"]["p50_ms"],
            fig["latency"]["p99_ms"],
            fig["cpu_ms_per_letter"],
        )
    log.info(
        "letters peak RSS %.1f MiB (after import %.1f MiB)", child["rss"]["peak_mib"], child["rss"]["after_import_mib"]
    )
    return {
        "parameters": {
            "seconds_per_phase": params.seconds,
            "warmup_letters_per_phase": params.warmup_letters,
            "process": "one fresh child interpreter (python -m bench.letters --child), phases one after the other",
            "order": list(PHASES),
            "baseline": "render_only, same process, same run",
        },
        **child,
        "ratios": {
            "render_and_sign_over_render_only": ratio(signed, phases["render_only"]["per_second"]),
            # against the aim, not a baseline measured in this run
            "signed_letters_per_second_over_target_20": ratio(signed, TARGET_SIGNED_PER_SECOND),
            "sign_only_over_render_only": ratio(phases["sign_only"]["per_second"], phases["render_only"]["per_second"]),
            "render_identity_and_sign_over_render_and_sign": ratio(
                phases["render_identity_and_sign"]["per_second"], signed
            ),
        },
        "target": {
            "signed_letters_per_second_at_least": TARGET_SIGNED_PER_SECOND,
            "measured_by": "render_and_sign",
            "met": met,
        },
    }


# ---------------------------------------------------------------------------------------------------
# The table (rows in bench/report.py's six columns)


def table_rows(fig: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    from bench.report import _fmt

    if "phases" not in fig:
        return [("letters", "failed", str(fig.get("error", ""))[:60], "", "", "")]
    p, r, rss = fig["phases"], fig["ratios"], fig["rss"]
    ro, rs, so, wp = p["render_only"], p["render_and_sign"], p["sign_only"], p["render_identity_and_sign"]
    met = "met" if fig["target"]["met"] else "NOT met"

    def lat(x: dict[str, Any]) -> str:
        return f"{_fmt(x['latency']['p50_ms'])} / {_fmt(x['latency']['p99_ms'])}"

    return [
        (
            "letters",
            "render+sign letters/s, 1 process",
            _fmt(rs["per_second"]),
            f"{_fmt(ro['per_second'])} render only",
            _fmt(r["render_and_sign_over_render_only"], 3),
            f">= 20/s {met}",
        ),
        (
            "letters",
            "render+sign / target 20/s",
            _fmt(rs["per_second"]),
            "20 (target, not measured)",
            _fmt(r["signed_letters_per_second_over_target_20"], 3),
            "",
        ),
        ("letters", "render+sign p50 / p99 ms", lat(rs), f"{lat(ro)} render only", "", ""),
        (
            "letters",
            "sign only letters/s, p50 / p99 ms",
            f"{_fmt(so['per_second'])}, {lat(so)}",
            "",
            _fmt(r["sign_only_over_render_only"], 3),
            "",
        ),
        (
            "letters",
            "render+uncached key+sign letters/s",
            _fmt(wp["per_second"]),
            f"{_fmt(rs['per_second'])} render+sign",
            _fmt(r["render_identity_and_sign_over_render_and_sign"], 3),
            "",
        ),
        (
            "letters",
            "CPU ms/letter render+sign",
            _fmt(rs["cpu_ms_per_letter"], 2),
            f"{_fmt(ro['cpu_ms_per_letter'], 2)} render only",
            "",
            "",
        ),
        (
            "letters",
            "peak RSS MiB (ru_maxrss)",
            _fmt(rss["peak_mib"]),
            f"{_fmt(rss['after_import_mib'])} after import",
            "",
            "",
        ),
    ]


def write_table(fig: dict[str, Any], out: TextIO) -> None:
    """The letters rows, with bench/report.py's header and its noise note."""
    from bench.report import NOISY_SHARE

    header = ("benchmark", "measure", "value", "baseline", "ratio", "target")
    rows = table_rows(fig)
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    out.writelines("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() + "\n" for r in [header, *rows])  # noqa: B905
    shares = [
        ph["cpu"]["other_share"]
        for ph in fig.get("phases", {}).values()
        if isinstance(ph.get("cpu", {}).get("other_share"), (int, float))
    ]
    if shares and max(shares) >= NOISY_SHARE:
        out.write(
            f"note: other processes used up to {max(shares):.0%} of the machine during letters; "
            "its figures are less trustworthy (see cpu.other_share in the JSON)\n"
        )


# ---------------------------------------------------------------------------------------------------
# The child


def _vm_rss_mib() -> float | None:
    """Current resident set size of this process (VmRSS), MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return None


def _vm_hwm_mib() -> float | None:
    """Peak RSS of this process image (VmHWM), MiB: a cross-check of ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return None


def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss: KiB on Linux), MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def sample_letter(number: str, verify_url: str):
    """The letter the worker would issue: fields as services/letters/handlers.py fills them."""
    from services.letters.domain.letter import Letterhead, ResponseLetter, Signer

    body = "\n\n".join(
        [
            "Menindaklanjuti pengaduan Saudara yang kami terima melalui formulir daring pada tanggal "  # noqa: ISC004
            "14 November 2026 dengan kode pelacakan PGD-7K3M-9QX2 perihal lambatnya pelayanan penerbitan "
            "surat keterangan domisili di Kantor Kecamatan Pegantenan, bersama ini kami sampaikan hal-hal "
            "sebagai berikut.",
            "Setelah dilakukan klarifikasi kepada petugas pelayanan dan Kepala Seksi Pemerintahan, "  # noqa: ISC004
            "keterlambatan tersebut disebabkan oleh gangguan jaringan pada sistem informasi administrasi "
            "kependudukan selama tiga hari kerja. Surat keterangan yang Saudara mohonkan telah selesai "
            "diproses dan dapat diambil di loket pelayanan pada jam kerja, Senin sampai dengan Jumat pukul "
            "08.00\u201315.00 WIB.",
            "Kami mohon maaf atas ketidaknyamanan yang Saudara alami. Ke depan, kami akan menyediakan "  # noqa: ISC004
            "formulir pelayanan manual sebagai cadangan apabila sistem daring mengalami gangguan, serta "
            "mengumumkan setiap gangguan layanan melalui papan informasi dan media sosial resmi Kecamatan "
            "Pegantenan.",
        ]
    )
    return ResponseLetter(
        letterhead=Letterhead(  # shared.tenancy.demo_kecamatan's Pegantenan
            pemerintah="PEMERINTAH KABUPATEN PAMEKASAN",
            kecamatan="KECAMATAN PEGANTENAN",
            address="Jalan Raya Pegantenan 69361",
            phone="(0324) 7710982",
            city="Pegantenan",
        ),
        number=number,
        date=date(2026, 11, 28),
        perihal="Tanggapan atas Pengaduan Pelayanan Surat Keterangan Domisili",
        addressee_name="Ma'ruf Hidayatullah",
        addressee_address="Dusun Tengah, Desa Tebul Barat, Kecamatan Pegantenan",
        body=body,
        signer=Signer(title="CAMAT PEGANTENAN", name="Drs. MOH. NUR'AINI, M.Si", rank=None, nip="197005121998031007"),
        verify_url=verify_url,
    )


def _measure(step: Callable[[int], Any], seconds: float, warmup: int) -> dict[str, Any]:

    for i in range(warmup):
        step(-1 - i)
    latencies: list[float] = []
    meter = CpuMeter()
    meter.add_self("worker")
    meter.start()
    start = time.perf_counter()
    deadline = start + seconds
    i = 0
    while True:
        t0 = time.perf_counter()
        step(i)
        t1 = time.perf_counter()
        latencies.append(t1 - t0)
        i += 1
        if t1 >= deadline:
            break
    elapsed = time.perf_counter() - start
    cpu = meter.stop()
    return {
        "letters": len(latencies),
        "seconds": round(elapsed, 3),
        "per_second": round(len(latencies) / elapsed, 2) if elapsed > 0 else None,
        "latency": latency_summary_ms(latencies),
        "cpu": cpu,
        "cpu_ms_per_letter": round(cpu["worker_seconds"] * 1000.0 / len(latencies), 3),
        # ~1.0: the process was on a core all the time (CPU-bound, nothing else in its way)
        "core_utilisation": round(cpu["worker_seconds"] / cpu["wall_seconds"], 3) if cpu["wall_seconds"] else None,
        "peak_rss_after_mib": _peak_rss_mib(),
    }


def child(seconds: float, warmup: int, ca_dir: Path) -> dict[str, Any]:
    rss_start = _vm_rss_mib()
    t_import = time.perf_counter()
    # what the worker imports to render and sign, including what sign_pdf imports on first use
    import pyhanko.pdf_utils.incremental_writer
    import pyhanko.sign.fields
    import pyhanko.sign.signers
    import pyhanko.stamp  # noqa: F401

    from services.letters.adapters.development_ca import DevelopmentCA
    from services.letters.adapters.pdf import layout_response_letter
    from services.letters.adapters.signing import sign_pdf
    from services.letters.adapters.verification import verify_pdf

    import_seconds = time.perf_counter() - t_import
    rss_import, peak_import = _vm_rss_mib(), _peak_rss_mib()

    ca = DevelopmentCA(ca_dir)
    identity = ca.identity(KECAMATAN_SLUG, KECAMATAN_NAME, KABUPATEN_NAME)
    signed_at = datetime(2026, 11, 28, 2, 15, tzinfo=UTC)
    reason = "Surat tanggapan pengaduan PGD-7K3M-9QX2"

    def letter(i: int):
        document_id = f"5f0c2a4e-{i & 0xFFFF:04x}-5d6b-9a51-3c0b8e7d{i & 0xFFFF:04x}"
        return sample_letter(
            f"400.14/{i % 10000}/432.312/2026", f"https://pengaduan.pamekasankab.go.id/v1/letters/verify/{document_id}"
        )

    def sign(pdf: bytes, box, ident) -> bytes:
        return sign_pdf(
            pdf,
            ident,
            reason=reason,
            location=KECAMATAN_NAME,
            signed_at=signed_at,
            visible_box=box.box if box and box.page_index == 0 else None,
        )

    t_first = time.perf_counter()
    first = layout_response_letter(letter(0))
    first_signed = sign(first.pdf, first.signature_box, identity)
    first_seconds = time.perf_counter() - t_first
    verification = verify_pdf(first_signed, ca.trust_roots())
    if first.page_count != 1 or first.signature_box is None or first.signature_box.page_index != 0:
        raise RuntimeError(f"expected a one-page letter with the signature box on page 1, got {first}")
    if not verification.valid:
        raise RuntimeError(f"the signed letter does not verify: {verification.reason}")

    def render_only(i: int) -> None:
        layout_response_letter(letter(i))

    def sign_only(_i: int) -> None:
        sign(first.pdf, first.signature_box, identity)

    def render_and_sign(i: int) -> None:
        r = layout_response_letter(letter(i))
        sign(r.pdf, r.signature_box, identity)

    def render_identity_and_sign(i: int) -> None:
        r = layout_response_letter(letter(i))
        sign(r.pdf, r.signature_box, DevelopmentCA(ca_dir).identity(KECAMATAN_SLUG, KECAMATAN_NAME, KABUPATEN_NAME))

    steps = {
        "render_only": render_only,
        "sign_only": sign_only,
        "render_and_sign": render_and_sign,
        "render_identity_and_sign": render_identity_and_sign,
    }
    phases = {name: _measure(steps[name], seconds, warmup) for name in PHASES}
    peak = _peak_rss_mib()
    return {
        "letter": {
            "pages": first.page_count,
            "pdf_bytes": len(first.pdf),
            "signed_pdf_bytes": len(first_signed),
            "signature_box": list(first.signature_box.box),
            "signature_valid": verification.valid,
            "first_letter_seconds": round(first_seconds, 3),  # cold: fonts parsed, caches built
        },
        "import_seconds": round(import_seconds, 3),
        "rss": {
            "at_start_mib": rss_start,
            "after_import_mib": rss_import,  # the baseline: interpreter + renderer + signer imported
            "peak_after_import_mib": peak_import,
            "peak_mib": peak,  # ru_maxrss of the child at the end, all phases included
            "peak_vm_hwm_mib": _vm_hwm_mib(),  # /proc/self/status VmHWM, should agree with peak_mib
            "peak_over_after_import_mib": round(peak - rss_import, 1) if rss_import is not None else None,
            "at_end_mib": _vm_rss_mib(),
            "peak_after_phase_mib": {name: phases[name].pop("peak_rss_after_mib") for name in PHASES},
        },
        "phases": phases,
        "child": {"pid": os.getpid(), "python": sys.version.split()[0]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.letters",
        description="the letters benchmark's child process (run it through python -m bench)",
    )
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--ca-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # Linux carries the high-water RSS of the process that started us into ru_maxrss across exec
    # (fork copies the parent's page tables, vfork borrows its memory, exec keeps the larger maximum),
    # so started from the benchmark (~90 MiB) our ru_maxrss would start at the benchmark's RSS. A fork
    # made here, before any import, starts from a zero maximum and a copy of this bare interpreter:
    # its ru_maxrss is that of one worker-like process. It does the work; this process waits.
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            result = child(args.seconds, args.warmup, args.ca_dir)
            sys.stdout.write(json.dumps(result) + "\n")
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
