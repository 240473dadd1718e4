"""Recovering what a crashed or killed stenotype left behind (see store/lifecycle.py).

Runs once at start, beside capture, on the plan made from directory listings
taken *before* the workers opened their first files (so the files of this run
are never mistaken for leftovers).  Each packet file is read block by block;
its valid prefix is kept, indexed and sealed like any finished file.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import attrs

from steno.native.extract import BlockError, block_info
from steno.native.index import IndexBuilder
from steno.store import sealing
from steno.store.lifecycle import Action, Leftover, plan_recovery
from steno.store.naming import ThreadDirs, hidden

log = logging.getLogger("steno.stenotype")


@attrs.frozen
class RecoveryReport:
    recovered_files: int = 0
    recovered_packets: int = 0
    deleted_files: int = 0
    failed: int = 0


def _regular_files(path: Path) -> list[str]:
    with os.scandir(path) as entries:
        return [e.name for e in entries if e.is_file(follow_symlinks=False)]


def plan_thread(dirs: ThreadDirs, *, indexing: bool) -> list[Leftover]:
    return plan_recovery(
        _regular_files(dirs.packets), _regular_files(dirs.index), indexing=indexing
    )


def _valid_prefix(fd: int, block_size: int, builder: IndexBuilder | None) -> tuple[int, int]:
    """(bytes, packets) of the leading run of complete blocks, indexing them on the way."""
    offset = 0
    packets = 0
    while True:
        block = os.pread(fd, block_size, offset)
        if len(block) < block_size:
            return offset, packets
        try:
            info = block_info(block)
        except BlockError:
            return offset, packets
        if builder is not None:
            try:
                builder.add_block(block, offset)
            except OSError as exc:
                # The checker accepted the block, so this is not a bad block:
                # stop here rather than index half a file.
                if exc.errno not in (errno.EINVAL, errno.EBADMSG, errno.ERANGE):
                    raise
                return offset, packets
        packets += info.num_pkts
        offset += block_size


def recover_packets(
    dirs: ThreadDirs, name: str, *, hidden_file: bool, block_size: int, indexing: bool
) -> int:
    """Keeps the valid blocks of one packet file, indexes and seals it; returns packets kept."""
    path = dirs.packet_path(hidden(name) if hidden_file else name)
    builder = IndexBuilder(block_size) if indexing else None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            size, packets = _valid_prefix(fd, block_size, builder)
        except BaseException:
            os.close(fd)
            raise
        if size == 0 and hidden_file:
            os.close(fd)
            os.unlink(path)
            idx = dirs.index_path(hidden(name))
            if idx.exists():
                os.unlink(idx)
            log.warning("Thread %d: deleted %s: no complete block in it", dirs.thread, path)
            return 0
        sealing.finish_packet_file(fd, size)
        if builder is not None:
            sealing.write_hidden_index(dirs, name, builder.serialize(size))
        if hidden_file:
            sealing.publish(dirs, name, with_index=builder is not None)
        elif builder is not None:
            os.rename(dirs.index_path(hidden(name)), dirs.index_path(name))
            sealing.fsync_dir(dirs.index)
        return packets
    finally:
        if builder is not None:
            builder.close()


def execute(
    dirs: ThreadDirs, plan: list[Leftover], *, block_size: int, indexing: bool
) -> RecoveryReport:
    """Carries out a thread's recovery plan (blocking); errors are logged per file."""
    recovered = packets = deleted = failed = 0
    for item in plan:
        try:
            if item.action is Action.RECOVER_PACKETS or item.action is Action.REBUILD_INDEX:
                kept = recover_packets(
                    dirs,
                    item.name,
                    hidden_file=item.action is Action.RECOVER_PACKETS,
                    block_size=block_size,
                    indexing=indexing,
                )
                recovered += 1
                packets += kept
                log.warning(
                    "Thread %d: recovered %s from an earlier run (%d packets)",
                    dirs.thread,
                    item.name,
                    kept,
                )
            elif item.action is Action.DELETE_INDEX:
                os.unlink(dirs.index_path(item.name))
                deleted += 1
                log.warning(
                    "Thread %d: deleted index %s: its packet file is gone", dirs.thread, item.name
                )
            elif item.action is Action.DELETE_HIDDEN_INDEX:
                os.unlink(dirs.index_path(hidden(item.name)))
                deleted += 1
        except OSError as exc:
            failed += 1
            log.error("Thread %d: could not recover %s: %s", dirs.thread, item.name, exc)
    return RecoveryReport(recovered, packets, deleted, failed)
