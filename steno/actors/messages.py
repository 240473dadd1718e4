"""Messages between actors: small frozen classes, one per kind of news.

A message that hands over a resource (a file descriptor, a native index
builder) transfers its ownership: the sender must not touch it afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from steno.store.naming import ThreadDirs

if TYPE_CHECKING:
    from steno.native.index import IndexBuilder

__all__ = ["SealFile"]


@attrs.frozen(kw_only=True)
class SealFile:
    """A packet file a capture worker finished writing, for the index flusher to seal.

    ``fd`` is open for writing; ``size`` is the length of good data (the file is
    truncated to it); ``index`` is the file's index, or None with --no_index.
    """

    dirs: ThreadDirs
    name: str
    fd: int
    size: int
    packets: int
    lost_packets: int
    write_error: int
    index: IndexBuilder | None
