"""Scanned PDF in, searchable PDF out: pages per second, ours against Tesseract, same run.

The input is a 10-page "scanned" PDF made here from sroie-dev receipts: each page one JPEG at
200 dpi, as a scanner writes it.  Both engines go from the PDF bytes to a searchable PDF:

* ``ours``       :class:`~ocr_server.documents.reader.DocumentReader` (PDFium renders each page at
                 200 dpi in its child process, the usual pipeline reads it) + the searchable-PDF
                 writer, in this process (no HTTP), ``--threads`` ONNX Runtime threads.
* ``tesseract``  the same PDFium rendering to PNG files (Tesseract cannot read PDF), then one
                 ``tesseract pages.txt out -l eng --psm 3 pdf`` process for all pages,
                 ``OMP_THREAD_LIMIT=1`` (its fastest setting on this machine, see page_latency.py).

Each output PDF's text is extracted back with PDFium and scored against sroie-dev's truth
(case-insensitive, whitespace collapsed, as in page_latency.py), so speed is not bought with misses.
Runs alternate (``--repeat``); the best wall time per engine is reported, and the CPU seconds that
run used (this process and its children: the PDFium renderer, the tesseract process), which a busy
shared machine disturbs far less than wall time.

    nice python bench/pdf_pages.py --pages 10
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CerCounter, load_pages

DPI = 200


def make_scanned_pdf(pages: list, dpi: int = DPI) -> bytes:
    """Each page's JPEG, passed through unchanged, filling a page of its size at ``dpi``."""
    import pikepdf
    from PIL import Image

    pdf = pikepdf.new()
    for page in pages:
        data = Path(page.image_path).read_bytes()
        with Image.open(page.image_path) as img:
            width, height, mode = img.width, img.height, img.mode
        w_pt, h_pt = width * 72.0 / dpi, height * 72.0 / dpi
        image = pdf.make_stream(
            data,
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=width,
            Height=height,
            ColorSpace=pikepdf.Name.DeviceGray if mode == "L" else pikepdf.Name.DeviceRGB,
            BitsPerComponent=8,
            Filter=pikepdf.Name.DCTDecode,
        )
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=[0, 0, w_pt, h_pt],
                    Contents=pdf.make_stream(f"q {w_pt:.3f} 0 0 {h_pt:.3f} 0 0 cm /Im0 Do Q".encode()),
                    Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
                )
            )
        )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def pdf_texts(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    return [pdf[i].get_textpage().get_text_range().replace("\r\n", "\n") for i in range(len(pdf))]


def run_ours(data: bytes, threads: int) -> bytes:
    from ocr_server.config import load_config
    from ocr_server.detection import create_detector
    from ocr_server.documents.reader import DocumentReader, ReadOptions
    from ocr_server.formats.pdf import write_pdf
    from ocr_server.pipeline import OcrPipeline
    from ocr_server.recognition.recognizer import load_recognizer

    global _READER
    if _READER is None:
        cfg = load_config(environ={})
        cfg.limits.request_timeout_seconds = 3600
        recognizer = load_recognizer(cfg.model.name, cfg.model.version, cfg.model.models_dir, threads=threads)
        pipeline = OcrPipeline(cfg, create_detector(cfg.detection), recognizer)
        pipeline.warmup()
        _READER = DocumentReader(pipeline, cfg, None)
    return write_pdf(_READER.read(data, "pdf", ReadOptions(keep_images=True)))


_READER = None


def run_tesseract(data: bytes, tesseract_threads: int) -> bytes:
    import pypdfium2 as pdfium

    with tempfile.TemporaryDirectory() as tmp:
        pdf = pdfium.PdfDocument(data)
        paths = []
        for i in range(len(pdf)):
            path = Path(tmp) / f"page{i:03d}.png"
            pdf[i].render(scale=DPI / 72.0, grayscale=True).to_pil().save(path)
            paths.append(str(path))
        listing = Path(tmp) / "pages.txt"
        listing.write_text("\n".join(paths) + "\n")
        env = {**os.environ, "OMP_THREAD_LIMIT": str(tesseract_threads)}
        subprocess.run(
            ["tesseract", str(listing), str(Path(tmp) / "out"), "-l", "eng", "--psm", "3", "pdf"],
            check=True,
            env=env,
            capture_output=True,
        )
        return (Path(tmp) / "out.pdf").read_bytes()


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tesseract-threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    pages = load_pages("sroie-dev", limit=args.pages)
    data = make_scanned_pdf(pages)
    engines = {
        "ours": lambda: run_ours(data, args.threads),
        "tesseract": lambda: run_tesseract(data, args.tesseract_threads),
    }
    run_ours(make_scanned_pdf(pages[:1]), args.threads)  # load the model outside the timing
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    outputs: dict[str, bytes] = {}
    for _ in range(args.repeat):
        for name, run in engines.items():
            cpu0 = _cpu_seconds()
            started = time.perf_counter()
            outputs[name] = run()
            elapsed = time.perf_counter() - started
            if elapsed < best.get(name, float("inf")):
                best[name], cpu[name] = elapsed, _cpu_seconds() - cpu0
    report: dict = {"pages": len(pages), "input_bytes": len(data), "load_average": os.getloadavg()[0]}
    for name in engines:
        counter = CerCounter()
        texts = pdf_texts(outputs[name])
        for page, text in zip(pages, texts, strict=True):
            counter.add(text, page.text)
        report[name] = {
            "seconds": round(best[name], 2),
            "pages_per_s": round(len(pages) / best[name], 2),
            "cpu_seconds": round(cpu[name], 2),
            "pages_per_cpu_s": round(len(pages) / cpu[name], 2),
            "cer": round(counter.cer_norm, 4),
            "cer_raw": round(counter.cer, 4),
            "output_bytes": len(outputs[name]),
        }
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
