"""Optional artifacts: models of ``models.lock`` that no bundle names, built into the store
on first use: the second ASR model, Whisper base (multilingual), which a cascade runs after
Whisper tiny.en (``asr/whisper-base``; the ``[asr-base]`` extra), and the local language
model's default GGUF (``llm/smollm2-135m-instruct``; the ``[llm]`` extra).

::

    DATA_DIR/artifacts/<key>/artifact.json       the lock entry the tree was built from
    DATA_DIR/artifacts/<key>/files/<name>        -> ../../../objects/<sha256>

``<key>`` is the sha256 of the entry's canonical JSON: another pin is another tree. The
files are staged like a bundle's (:class:`~hearthvox.bundles.sources.ArtifactSources`):
copied from the installed packages, a file with ``parts`` joined from its parts, every
byte hashed as it is written and checked against its pin, then renamed into ``objects/``.
A missing package, or a part or file that is truncated, altered or longer than its pin,
stops the build with a one-line :class:`~hearthvox.errors.ModelError` (exit status 5 on
the command line) and nothing is left in the store. Each later use checks the tree (every
object's size, its sha256 when its stat stamp changed, and every link); a damaged tree
is built again from the packages, or refused if they no longer match.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
from pathlib import Path

from hearthvox.bundles.fsutil import fsync_dir, inside, read_regular
from hearthvox.bundles.lock import Artifact, LockFile, load_lock, parse_pypi_source
from hearthvox.bundles.manifest import MANIFEST_MAX, Manifest, Stage, StageArtifact, now_utc
from hearthvox.bundles.manifest import artifact_to_dict as _to_dict
from hearthvox.bundles.sources import ArtifactSources, StageContext
from hearthvox.bundles.store import Store
from hearthvox.config import Config
from hearthvox.engines.asr import BiasOptions, WhisperAsr
from hearthvox.engines.llm import LlamaLlm, LlmOptions
from hearthvox.errors import ModelError
from hearthvox.paths import Paths, user_paths

log = logging.getLogger(__name__)

SECOND_ASR = "asr/whisper-base"
"""The second ASR model's artifact id in models.lock."""
LLM_MODEL = "llm/smollm2-135m-instruct"
"""The local language model's default GGUF's artifact id in models.lock."""
EXTRAS = {SECOND_ASR: "asr-base", LLM_MODEL: "llm"}
"""Optional artifact -> the pip extra of hearthvox that installs its packages."""


def second_asr_dir(paths: Paths | None = None, *, verify: bool = False) -> Path:
    """The directory of the second ASR model (CTranslate2 ``model.bin``, ``config.json``,
    ``tokenizer.json``, ``vocabulary.json``), ready for ``WhisperAsr(model_dir, ...)``.

    Built into the model store on the first call (a few seconds), checked on every call;
    with *verify* every file is hashed again. Raises a one-line ModelError that says what
    to install when the packages are missing, or what is wrong when a file is damaged."""
    return optional_artifact_dir(SECOND_ASR, paths, verify=verify)


def optional_artifact_dir(
    artifact_id: str,
    paths: Paths | None = None,
    *,
    lock: LockFile | None = None,
    verify: bool = False,
) -> Path:
    """The checked file tree of the optional artifact *artifact_id* (see the module doc)."""
    artifact = (lock or load_lock()).artifact(artifact_id)
    store = Store.open((paths or user_paths()).data_dir)
    return _ensure(store, artifact, verify)


def _ensure(store: Store, artifact: Artifact, verify: bool) -> Path:
    """The artifact's checked tree in *store*, built (again) from the packages when it is
    missing or damaged."""
    tree = store.artifacts / tree_key(artifact)
    if not _problems(store, artifact, tree, verify):
        return tree / "files"
    with store.writer():
        problems = _problems(store, artifact, tree, verify)  # another process may have built it
        if not problems:
            return tree / "files"
        if tree.exists() or tree.is_symlink():
            log.warning("%s; building it again from the installed packages", problems[0])
            _remove(store, artifact, tree)
        _check_installed(artifact)
        _build(store, artifact, tree)
        problems = _problems(store, artifact, tree, False)
    if problems:  # an object already in the store (another bundle's) that does not match
        raise ModelError(f"{problems[0]}; run: hearthvox models verify --repair")
    return tree / "files"


def _built(store: Store, lock: LockFile | None) -> list[tuple[Artifact, Path]]:
    """The optional artifacts that have a tree in the store (built, or left damaged)."""
    artifacts = [(lock or load_lock()).artifact(a) for a in sorted(EXTRAS)]
    trees = [(a, store.artifacts / tree_key(a)) for a in artifacts]
    return [(a, t) for a, t in trees if t.exists() or t.is_symlink()]


def check_built(store: Store, lock: LockFile | None = None) -> tuple[int, int, int, list[str]]:
    """``models verify``: every optional artifact already built in the store, each file
    hashed again and every link checked: (trees, files, bytes, problems). One not built
    yet is no problem (it is built on first use)."""
    built = _built(store, lock)
    problems = [p for a, tree in built for p in _problems(store, a, tree, True)]
    files = sum(len(a.files) for a, _ in built)
    size = sum(f.size for a, _ in built for f in a.files)
    return len(built), files, size, problems


def repair_built(store: Store, lock: LockFile | None = None) -> list[str]:
    """``models verify --repair``: a damaged optional tree is removed and built again
    from the installed packages (or the reason it cannot be)."""
    fixed: list[str] = []
    for artifact, tree in _built(store, lock):
        if not _problems(store, artifact, tree, True):
            continue
        try:
            _ensure(store, artifact, True)
        except ModelError as exc:
            fixed.append(f"model {artifact.id!r}: removed, not built again: {exc}")
            continue
        fixed.append(f"model {artifact.id!r}: built again from the installed packages")
    return fixed


def tree_key(artifact: Artifact) -> str:
    return hashlib.sha256(_entry(artifact)).hexdigest()


def _entry(artifact: Artifact) -> bytes:
    return json.dumps(_to_dict(artifact), sort_keys=True, separators=(",", ":")).encode()


def _links(artifact: Artifact) -> dict[str, str]:
    return {f.name: f.sha256 for f in artifact.files}


def _problems(store: Store, artifact: Artifact, tree: Path, full: bool) -> list[str]:
    what = f"model {artifact.id!r}"
    if not (tree / "files").is_dir() or not inside(tree, store.artifacts):
        return [f"{what} is not built in the model store yet"]
    try:
        if read_regular(tree / "artifact.json", MANIFEST_MAX, "artifact entry") != _entry(artifact):
            return [f"{what}: {tree}/artifact.json is not its models.lock entry"]
    except ModelError as exc:
        return [f"{what}: {exc}"]
    objects = {f.sha256: f.size for f in artifact.files}
    problems = store.check_objects(objects, full, what)
    return problems + store.check_links(tree / "files", _links(artifact), what)


def _remove(store: Store, artifact: Artifact, tree: Path) -> None:
    """Remove a damaged tree and its damaged objects (an altered object is never reused)."""
    for f in artifact.files:
        if store.check_objects({f.sha256: f.size}, True, artifact.id):
            store.object_path(f.sha256).unlink(missing_ok=True)
    if tree.is_symlink() or not tree.is_dir():
        tree.unlink(missing_ok=True)
    else:
        shutil.rmtree(tree)


def _check_installed(artifact: Artifact) -> None:
    """Every package the artifact reads, at its pinned version, or a one-line ModelError
    naming the extra to install."""
    sources = [*artifact.sources, *(p.source for f in artifact.files for p in f.parts)]
    extra = EXTRAS.get(artifact.id)
    hint = f"pip install 'hearthvox[{extra}]'" if extra else "pip install --no-deps 'DIST==VERSION'"
    for source in dict.fromkeys(s for s in sources if s.startswith("pypi:")):
        pin = parse_pypi_source(source)
        try:
            version = importlib.metadata.version(pin.package)
        except importlib.metadata.PackageNotFoundError:
            version = None
        if version != pin.version:
            found = "is not installed" if version is None else f"is installed at {version}"
            raise ModelError(
                f"model {artifact.id!r} needs {pin.package}=={pin.version}, which {found}; "
                f"install it with: {hint}"
            )


def _build(store: Store, artifact: Artifact, tree: Path) -> None:
    stage = Stage((StageArtifact("model", artifact),), {})
    empty = Stage((), {})
    now = now_utc()
    holder = Manifest(  # only names the files to stage; never signed, never written
        artifact.id, 1, "stable", now, now, ("any",),
        {"wake": empty, "vad": empty, "asr": stage, "tts": empty},
    )  # fmt: skip
    needed = {f.sha256: f.size for f in artifact.files if not store.has_object(f.sha256, f.size)}
    txn = store.begin()
    try:
        sources = ArtifactSources()
        staged = sources.stage(needed, StageContext(holder, store, txn))
        if staged != set(needed):
            why = sources.problems[0] if sources.problems else "no source has it"
            raise ModelError(f"model {artifact.id!r} cannot be built: {why}")
        txn.commit_objects(sorted(staged))
        built = txn.path / "artifact"
        txn.link_tree(built / "files", tree / "files", _links(artifact), f"model {artifact.id!r}")
        (built / "artifact.json").write_bytes(_entry(artifact))
        store.artifacts.mkdir(mode=0o700, exist_ok=True)
        os.replace(built, tree)
        fsync_dir(store.artifacts)
    except BaseException:
        txn.abort()
        raise
    finally:
        txn.close()


def load_second_asr(cfg: Config, paths: Paths | None = None) -> WhisperAsr:
    """Whisper base for the cascade, with the small model's settings and vocabulary
    (``[asr]``; English: the cascade serves the small model's language). Raises a
    one-line ModelError when it is not installed or cannot load."""
    asr = cfg.asr
    return WhisperAsr(
        second_asr_dir(paths),
        device="cpu" if asr.device == "auto" else asr.device,
        compute_type=asr.compute_type,
        threads=asr.threads,
        beam_size=asr.beam_size,
        language=asr.language,
        decode=asr.decode,
        bias=BiasOptions.from_config(asr),
    )


def llm_model_file(paths: Paths | None = None, *, verify: bool = False) -> Path:
    """The default GGUF (``llm/smollm2-135m-instruct``), built into the model store on the
    first call and checked on every call (like :func:`second_asr_dir`)."""
    files = optional_artifact_dir(LLM_MODEL, paths, verify=verify)
    lock = load_lock()
    gguf = [f.name for f in lock.artifact(LLM_MODEL).files if f.name.endswith(".gguf")]
    return files / gguf[0]


def load_llm(cfg: Config, paths: Paths | None = None) -> LlamaLlm:
    """The local language model of ``[llm]``: the user's GGUF (``model``), or the default
    one from the store; both go through the same checks (header, memory budget). Raises a
    one-line ModelError when the extra is missing or the model does not fit."""
    model = Path(cfg.llm.model) if cfg.llm.model else llm_model_file(paths)
    return LlamaLlm(model, LlmOptions.from_config(cfg.llm))
