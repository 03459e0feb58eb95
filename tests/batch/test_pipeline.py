"""The batch run on real recordings in mixed formats: outputs, WER, reruns, failures, bundles."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from hearthvox.batch import MANIFEST, BatchEngine, BatchRun, FileResult, Progress, RunOptions
from hearthvox.batch.discover import discover
from hearthvox.bundles.default import ModelPaths
from hearthvox.evaluation.wer import word_error_rate


def run(engine: BatchEngine, paths: list[Path], out: Path, **opts: Any) -> list[FileResult]:
    inputs, missing = discover(paths, out)
    assert missing == []
    return list(BatchRun(engine, RunOptions(out_dir=out, **opts), Progress(False)).run(inputs))


def outputs_of(out: Path) -> dict[str, float]:
    """Every output file (not the manifest) with its modification time."""
    return {
        str(p.relative_to(out)): p.stat().st_mtime_ns
        for p in out.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.name != MANIFEST
    }


def test_mixed_formats_all_transcribed_then_rerun_does_nothing(
    batch_engine: BatchEngine,
    mixed_corpus: tuple[Path, dict[str, str]],
    model_paths: ModelPaths,
    tmp_path: Path,
) -> None:
    folder, refs = mixed_corpus
    out = tmp_path / "out"
    results = run(batch_engine, [folder], out, formats=("json", "txt", "srt", "vtt"))
    assert {r.status for r in results} == {"done"}, [r.error for r in results]
    assert {p.suffix for p in folder.rglob("*.*")} >= {".wav", ".flac", ".mp3", ".ogg", ".m4a"}

    pairs = []
    for stem, ref in refs.items():
        record = json.loads((out / f"{stem}.json").read_text())
        pairs.append((ref, record["text"]))
        assert (out / f"{stem}.txt").read_text().strip() == record["text"]
        assert (out / f"{stem}.vtt").read_text().startswith("WEBVTT")
        assert record["segments"] and record["segments"][0]["end"] > record["segments"][0]["start"]
        assert 1.0 < record["input"]["duration_s"] < 5.0
        assert record["bundle"]["id"] == model_paths.bundle_id
        asr = model_paths.artifacts["asr"]
        assert (
            record["bundle"]["models"][asr.id]["files"]["model.bin"] == asr.file("model.bin").sha256
        )
        assert record["variant"]["device"] == "cpu" and record["variant"]["profile"]
        assert record["settings"]["beam_size"] == 1
    wer = word_error_rate(pairs)
    assert wer <= 0.15, f"WER {wer:.1%}: {pairs}"  # as for single files (tests/engines/test_asr.py)

    before = outputs_of(out)
    again = run(batch_engine, [folder], out, formats=("json", "txt", "srt", "vtt"))
    assert [r.status for r in again] == ["skipped"] * len(refs)
    assert outputs_of(out) == before  # nothing rewritten

    # a format asked for later comes from the JSON, without transcribing again
    more = run(batch_engine, [folder], out, formats=("json", "txt"))
    assert {r.status for r in more} == {"skipped"}
    assert outputs_of(out) == before


def test_corrupt_file_is_retried_reported_and_the_others_finish(
    batch_engine: BatchEngine, corpus_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("spk1_snt1.wav", "spk2_snt2.wav"):
        (folder / name).write_bytes((corpus_dir / name).read_bytes())
    (folder / "broken.ogg").write_bytes(b"OggS" + bytes(range(256)) * 8)
    (folder / "cut.wav").write_bytes((corpus_dir / "spk1_snt3.wav").read_bytes()[:30])
    out = tmp_path / "out"
    results = {r.path.name: r for r in run(batch_engine, [folder], out, retries=1)}
    assert results["spk1_snt1.wav"].status == results["spk2_snt2.wav"].status == "done"
    for bad in ("broken.ogg", "cut.wav"):
        assert results[bad].status == "failed"
        assert bad in results[bad].error
        assert results[bad].attempts == 2  # one try and one retry
        assert not (out / f"{Path(bad).stem}.json").exists()
    lines = [json.loads(x) for x in (out / MANIFEST).read_text().splitlines()]
    failed = {Path(x["input"]).name: x for x in lines if x["status"] == "failed"}
    assert (
        set(failed) == {"broken.ogg", "cut.wav"}
        and "cannot decode" in failed["broken.ogg"]["error"]
    )

    # same bytes, same bundle: reported again without retrying, unless asked
    again = {r.path.name: r for r in run(batch_engine, [folder], out)}
    assert again["broken.ogg"].status == "failed" and again["broken.ogg"].attempts == 0
    assert "earlier run" in again["broken.ogg"].error
    assert again["spk1_snt1.wav"].status == "skipped"
    retried = {
        r.path.name: r for r in run(batch_engine, [folder], out, retries=0, retry_failed=True)
    }
    assert retried["broken.ogg"].attempts == 1


def test_new_bundle_or_new_bytes_transcribe_again(
    batch_engine: BatchEngine, model_paths: ModelPaths, corpus_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("spk1_snt6.wav", "birch_canoe.wav"):
        (folder / name).write_bytes((corpus_dir / name).read_bytes())
    out = tmp_path / "out"
    assert {r.status for r in run(batch_engine, [folder], out)} == {"done"}

    other = dataclasses.replace(batch_engine.settings, bundle_id="default-0.2.0")
    engine2 = BatchEngine(model_paths, other, "ignore")
    redo = run(engine2, [folder], out)
    assert [r.status for r in redo] == ["done", "done"]
    record = json.loads((out / "birch_canoe.json").read_text())
    assert record["bundle"]["id"] == "default-0.2.0"

    (folder / "spk1_snt6.wav").write_bytes((corpus_dir / "spk2_snt4.wav").read_bytes())
    changed = {r.path.name: r.status for r in run(engine2, [folder], out)}
    assert changed == {"birch_canoe.wav": "skipped", "spk1_snt6.wav": "done"}
    assert "coat" in json.loads((out / "spk1_snt6.json").read_text())["text"].lower()
    keys = [json.loads(x)["key"] for x in (out / MANIFEST).read_text().splitlines()]
    assert len(keys) == 2  # one line per output name: the latest


def test_word_timings_follow_the_text_in_order(
    batch_engine: BatchEngine, model_paths: ModelPaths, corpus_dir: Path, tmp_path: Path
) -> None:
    settings = batch_engine.settings
    timed = dataclasses.replace(
        settings, decode=dataclasses.replace(settings.decode, word_timestamps=True)
    )
    assert timed.fingerprint() != settings.fingerprint()  # words asked for: a new output
    engine = BatchEngine(model_paths, timed, "ignore")
    out = tmp_path / "out"
    (result,) = run(engine, [corpus_dir / "vad_valid.wav"], out)
    assert result.status == "done"
    record = json.loads((out / "vad_valid.json").read_text())
    assert len(record["segments"]) >= 2
    starts = []
    for segment in record["segments"]:
        words = segment["words"]
        assert "".join(w["word"] for w in words).strip() == segment["text"]
        assert all(w["start"] <= w["end"] and 0 <= w["probability"] <= 1 for w in words)
        starts += [w["start"] for w in words]
    assert starts == sorted(starts) and starts[-1] <= record["input"]["duration_s"]
