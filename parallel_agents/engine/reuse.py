"""Reuse finished work: completed results kept in the user folder, taken again by `run --reuse`.

Every task that ends `completed` (schema-valid, past the quality gate) is kept here as it
completes, in every run (config `reuse.store: false` turns that off), so that a later run with
`--reuse` (`RealAIParallelOrchestrator(reuse=True)`) finishes the same task from it instead of
spawning: `reused: true`, no attempts, cost 0. Failed, timed-out, skipped or invalid results are
never kept.

"The same task" is the key: sha256 over the agent definition's content hash (canonical JSON of
the effective definition: an edited prompt or schema misses), the first attempt's prompt as
prompts.build_prompt makes it (task text, input data, the upstream outputs fed in, the reply
contract), the output format, and the starting tier's name and model. A hit is validated against
the agent's current output_schema again before it is used (reuse_steps.ReuseSteps.reused).

The store: `$PARALLEL_AGENTS_HOME/reuse/`, append-only segment files (`*.jsonl`, mode 0600), one
per process and run (a new one past a tenth of the cap), one line per entry beginning with its
key and time, buffered until the run ends or the buffer fills. Appending a line costs a small
fraction of creating a file per entry (which costs about half of what the engine spends on a
whole task on the fake, see bench/fanout.py); processes never write to one file. A lookup reads
the keys of every segment once (the index: the store as it was when the run started; the newest
entry of a key wins) and then the one line it needs. Entries older than `reuse.max_age_days` are
misses, and a segment whose newest entry is that old is deleted; past `reuse.max_mb` the oldest
segments go first. `runs --forget` (ReuseStore.clear) empties it. The store never breaks a run:
a line it cannot read is a miss, a segment it cannot write is skipped.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from parallel_agents.core.paths import user_home

FORMAT_VERSION = 1
SEGMENTS_PER_CAP = 10     # a segment is rolled past max_bytes / this, so eviction is gradual
_PREFIX = b'{"key": "'    # every line starts with its key (64 hex digits), then its time
log = logging.getLogger("parallel_agents")


def reuse_dir() -> Path:
    return user_home() / "reuse"


_HASHES: dict[int, tuple] = {}   # id(definition) -> (definition, hash): one hash per object
# (definition hash, format, tier name, model) -> sha256 fed everything of a key but the prompt
_PREFIXES: dict[tuple, object] = {}
#: An entry's line (its output is a parsed reply: JSON, never circular, so no cycle check)
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False)


def definition_hash(definition) -> str:
    """sha256 of the effective definition as canonical JSON (where it was loaded from does not
    count; every field that can change a reply does)."""
    known = _HASHES.get(id(definition))
    if known is not None and known[0] is definition:
        return known[1]
    canonical = json.dumps(definition.to_dict(), sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"), default=repr)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    if len(_HASHES) > 1000:
        _HASHES.clear()
    _HASHES[id(definition)] = (definition, digest)
    return digest


def reuse_key(definition, prompt: str, output_format: str, tier) -> str:
    """The key of a task's first attempt: same definition, prompt, format and starting tier
    (name and model) -> same key."""
    head = (definition_hash(definition), output_format, tier.name, tier.model)
    prefix = _PREFIXES.get(head)
    if prefix is None:
        prefix = hashlib.sha256()
        for part in (f"v{FORMAT_VERSION}", head[0], output_format, tier.name, json.dumps(tier.model)):
            _feed(prefix, part)
        if len(_PREFIXES) > 1000:
            _PREFIXES.clear()
        _PREFIXES[head] = prefix
    digest = prefix.copy()
    _feed(digest, prompt)
    return digest.hexdigest()


def _feed(digest, part: str) -> None:
    data = part.encode("utf-8", "surrogatepass")
    digest.update(len(data).to_bytes(8, "big") + data)   # length-prefixed: no ambiguity


def first_attempt_key(definition, prompt: str, output_format: str, ladder, first_tier: str | None,
                      tier_index: int) -> str:
    """reuse_key of a task's first attempt, before or after it is made (the scheduler and host
    mode): `prompt` as build_prompt makes it with no re-ask; the starting tier is the one its
    first attempt ran on (`first_tier`, a name) once made, else the ladder's `tier_index`."""
    tier = next((t for t in ladder.tiers if first_tier and t.name == first_tier),
                None) or ladder.tier(tier_index)
    return reuse_key(definition, prompt, output_format, tier)


def still_valid(value, definition, output_format: str) -> bool:
    """A kept output still fits the agent as it is now: valid against its current output_schema
    (json; any object when it has none), or a non-empty text (text, markdown)."""
    if output_format == "json":
        schema = definition.output_schema
        if schema is None:
            return isinstance(value, dict)
        from parallel_agents.definitions.model import schema_registry
        from parallel_agents.replies.validate import validate_output
        return not validate_output(value, schema, registry=schema_registry,
                                   schema_checked=definition.schema_checked)
    return isinstance(value, str) and bool(value.strip())


@dataclass(frozen=True)
class Cleared:
    entries: int
    bytes: int

    def to_dict(self) -> dict:
        return {"entries": self.entries, "bytes": self.bytes}


@dataclass(frozen=True)
class _Where:
    path: Path
    offset: int
    length: int
    created_at: float


class ReuseStore:
    """Completed results by reuse key. `lookup`: take hits instead of spawning (--reuse);
    `keep`: put completed results in (config reuse.store)."""

    def __init__(self, folder: Path | None = None, *, max_bytes: int = 100 * 1024 * 1024,
                 max_age_seconds: float = 30 * 86400, lookup: bool = False, keep: bool = True,
                 clock=time.time):
        self.folder = Path(folder) if folder is not None else reuse_dir()
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_seconds
        self.lookup = lookup
        self.keep = keep
        self.clock = clock
        self._index: dict[str, _Where] | None = None
        self._fh = None             # this store's open segment
        self._segment: Path | None = None
        self._rolled = 0
        self._total: int | None = None   # bytes of all segments, counted on the first put

    @classmethod
    def from_config(cls, settings: dict, *, lookup: bool = False, folder: Path | None = None):
        """From config.yaml's `reuse:` section ({store, max_mb, max_age_days})."""
        return cls(folder, max_bytes=int(settings["max_mb"] * 1024 * 1024),
                   max_age_seconds=settings["max_age_days"] * 86400, lookup=lookup,
                   keep=settings["store"])

    # -- segments ---------------------------------------------------------------------------------
    def _segments(self) -> list[tuple[Path, int, float]]:
        """(path, size, mtime) of every segment, oldest first; expired ones are deleted."""
        now, out = self.clock(), []
        try:
            found = list(os.scandir(self.folder))
        except OSError:
            return out
        for f in found:
            if not f.name.endswith(".jsonl"):
                continue
            try:
                st = f.stat(follow_symlinks=False)
            except OSError:
                continue
            path = Path(f.path)
            if now - st.st_mtime > self.max_age_seconds and path != self._segment:
                self._remove(path)
                continue
            out.append((path, st.st_size, st.st_mtime))
        return sorted(out, key=lambda s: (s[2], s[0].name))

    # -- reading ----------------------------------------------------------------------------------
    def _build_index(self) -> dict[str, _Where]:
        index: dict[str, _Where] = {}
        for path, _, _ in self._segments():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            offset = 0
            while offset < len(data):
                end = data.find(b"\n", offset)
                end = len(data) if end < 0 else end
                where = _parse_head(data, offset, end, path)
                if where is not None:
                    index[where_key(data, offset)] = where   # a later line of a key wins
                offset = end + 1
        return index

    def get(self, key: str) -> dict | None:
        """The entry kept under `key` (output, agent_type, tier, model, run_id, task_id,
        created_at), or None: never kept, expired, or unreadable."""
        if self._index is None:
            self._index = self._build_index()
        where = self._index.get(key)
        if where is None or self.clock() - where.created_at > self.max_age_seconds:
            return None
        try:
            with open(where.path, "rb") as fh:
                fh.seek(where.offset)
                entry = json.loads(fh.read(where.length))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if not (isinstance(entry, dict) and entry.get("key") == key and "output" in entry):
            return None
        return entry

    # -- writing ----------------------------------------------------------------------------------
    def put(self, key: str, *, output, agent_type: str, output_format: str, tier: str | None,
            model: str | None, run_id: str, task_id: str) -> bool:
        """Keep a completed result (one line appended); False when it was not kept (too big for
        the cap, not JSON, or the folder not writable)."""
        entry = {"key": key, "created_at": round(self.clock(), 3), "version": FORMAT_VERSION,
                 "agent_type": agent_type, "output_format": output_format, "tier": tier,
                 "model": model, "run_id": run_id, "task_id": task_id, "output": output}
        try:
            line = _ENCODER.encode(entry).encode() + b"\n"
        except (TypeError, ValueError, RecursionError):
            return False
        if len(line) > self.max_bytes // SEGMENTS_PER_CAP:
            return False
        try:
            if self._total is None:
                self._total = sum(size for _, size, _ in self._segments())
            fh = self._open(run_id)
            fh.write(line)   # buffered: close() (the run's end) writes the rest; a torn last
                             # line of a killed process is a miss
        except OSError as exc:
            log.warning("reuse store: could not keep %s: %s", key[:12], exc)
            self.close()
            return False
        self._total += len(line)
        if fh.tell() > self.max_bytes // SEGMENTS_PER_CAP:
            self.close()          # the next entry starts a new segment
        if self._total > self.max_bytes:
            self._evict()
        return True

    def _open(self, run_id: str):
        if self._fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._rolled += 1
            name = f"{time.time():.6f}-{_safe(run_id)}-{os.getpid()}-{self._rolled}.jsonl"
            self._segment = self.folder / name
            fd = os.open(self._segment, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fh = os.fdopen(fd, "ab", buffering=1 << 16)   # a write per ~60 entries
        return self._fh

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass
            self._fh = None

    def _evict(self) -> None:
        """Delete the oldest segments until the store holds at most 90% of its cap (so that
        this runs once in a while, not on every put); the open one stays."""
        if self._fh is not None:
            self._fh.flush()
        segments = self._segments()
        total = sum(size for _, size, _ in segments)
        for path, size, _ in segments:
            if total <= self.max_bytes * 0.9:
                break
            if path == self._segment and self._fh is not None:
                continue
            if self._remove(path):
                total -= size
        self._total = total

    @staticmethod
    def _remove(path: Path) -> bool:
        try:
            path.unlink()
            return True
        except OSError:
            return False

    # -- forgetting -------------------------------------------------------------------------------
    def stats(self) -> Cleared:
        """Entries (lines) and bytes the store holds."""
        if self._fh is not None:
            self._fh.flush()
        entries = size = 0
        for path, n, _ in self._segments():
            try:
                entries += path.read_bytes().count(b"\n")
            except OSError:
                continue
            size += n
        return Cleared(entries, size)

    def clear(self) -> Cleared:
        """Delete every segment; how many entries and bytes they held."""
        self.close()
        held = self.stats()
        for path, _, _ in self._segments():
            self._remove(path)
        self._index, self._total, self._segment = None, 0, None
        return held


def _safe(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)[:64]


def where_key(data: bytes, offset: int) -> str:
    return data[offset + len(_PREFIX):offset + len(_PREFIX) + 64].decode("ascii")


def _parse_head(data: bytes, start: int, end: int, path: Path) -> _Where | None:
    """Where the line data[start:end] is, from its head alone: `{"key": "<64 hex>",
    "created_at": <number>, ...`; None for a line that does not start so (torn, damaged)."""
    if not data.startswith(_PREFIX, start) or end - start < 100:
        return None
    key_end = start + len(_PREFIX) + 64
    if data[key_end:key_end + 17] != b'", "created_at": ':
        return None
    number_end = data.find(b",", key_end + 17, end)
    try:
        int(data[start + len(_PREFIX):key_end], 16)
        created = float(data[key_end + 17:number_end])
    except ValueError:
        return None
    return _Where(path, start, end - start, created)
