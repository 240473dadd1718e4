"""The index builder and reader of the C core, as typed Python objects.

This is the only module that talks to ``_steno`` about indexes (see
``steno/native/c/index_build.h`` and ``index_lookup.h`` for the C side).

Who owns what: an :class:`IndexBuilder` owns one C builder, an
:class:`IndexReader` one C reader plus a reference to the buffer it reads
(the C reader keeps pointers into it, so the buffer must outlive it).  Each
closes its handle explicitly (``close()`` or ``with``); ``ffi.gc`` frees a
forgotten one when the object is collected, as a backstop only.

Threads: the C calls release the GIL, so an index-flush actor can serialize
through ``trio.to_thread.run_sync``.  A builder must be used by one thread at
a time; a second concurrent call raises :class:`RuntimeError` instead of
corrupting it.  A reader is immutable once open and may be shared, but it is
guarded the same way against ``close()`` racing a look-up.

Errors from C come back as :class:`OSError` with the errno the C function
returned (``EBADMSG`` for a malformed block or index, ``ERANGE`` for an
out-of-order offset, ...); opening a bad index raises
:class:`IndexOpenError`, an ``OSError`` whose message says what is wrong.
"""

from __future__ import annotations

import array
import errno
import ipaddress
import mmap
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Final, Self

import attrs

from steno.native._steno import ffi, lib

__all__ = [
    "KEY_IPV4",
    "KEY_IPV6",
    "KEY_MPLS",
    "KEY_PORT",
    "KEY_PROTO",
    "KEY_VLAN",
    "BuilderStats",
    "FrameKeys",
    "IndexBlock",
    "IndexBuilder",
    "IndexInfo",
    "IndexOpenError",
    "IndexReader",
    "frame_keys",
]

KEY_PROTO: Final = int(lib.STENO_KEY_PROTO)
KEY_PORT: Final = int(lib.STENO_KEY_PORT)
KEY_VLAN: Final = int(lib.STENO_KEY_VLAN)
KEY_IPV4: Final = int(lib.STENO_KEY_IPV4)
KEY_MPLS: Final = int(lib.STENO_KEY_MPLS)
KEY_IPV6: Final = int(lib.STENO_KEY_IPV6)

_TP_STATUS_VLAN_VALID: Final = 0x10


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise OSError(-rc, f"{what}: {os.strerror(-rc)}")


class _Guard:
    """Refuses overlapping use of one native handle (cf. trio's ConflictDetector)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if not self._lock.acquire(blocking=False):
            raise RuntimeError(f"{self._name} is already in use by another thread")
        try:
            yield
        finally:
            self._lock.release()


@attrs.frozen(kw_only=True)
class FrameKeys:
    """The key set of one frame (docs/index-keys.md), each part sorted and distinct."""

    proto: tuple[int, ...] = ()
    ports: tuple[int, ...] = ()
    vlans: tuple[int, ...] = ()
    ipv4: tuple[ipaddress.IPv4Address, ...] = ()
    mpls: tuple[int, ...] = ()
    ipv6: tuple[ipaddress.IPv6Address, ...] = ()


def frame_keys(frame: bytes, *, tp_status: int = 0, vlan_tci: int = 0) -> FrameKeys:
    """The keys the capture path extracts from one frame (for tests and diagnosis).

    ``tp_status``/``vlan_tci`` are the packet header's fields: with
    ``TP_STATUS_VLAN_VALID`` (0x10) set, ``vlan_tci`` is the tag the kernel stripped.
    """
    out = ffi.new("struct steno_frame_keys *")
    buf = ffi.from_buffer("uint8_t[]", frame)
    lib.steno_frame_keys(buf, len(frame), tp_status, vlan_tci, out)
    return FrameKeys(
        proto=(int(out.proto),) if out.n_proto else (),
        ports=tuple(int(out.ports[i]) for i in range(out.n_ports)),
        vlans=tuple(int(out.vlans[i]) for i in range(out.n_vlans)),
        ipv4=tuple(ipaddress.IPv4Address(int(out.ipv4[i])) for i in range(out.n_ipv4)),
        mpls=tuple(int(out.mpls[i]) for i in range(out.n_mpls)),
        ipv6=tuple(
            ipaddress.IPv6Address(bytes(ffi.buffer(out.ipv6[i], 16))) for i in range(out.n_ipv6)
        ),
    )


@attrs.frozen(kw_only=True)
class BuilderStats:
    packets: int
    blocks: int
    flows: int
    memory_bytes: int
    first_ns: int
    last_ns: int


class IndexBuilder:
    """The index of one packet file, built block by block as the file is written."""

    def __init__(self, block_size: int) -> None:
        self.block_size = block_size
        self._guard = _Guard("IndexBuilder")
        out = ffi.new("steno_index_builder **")
        _check(lib.steno_index_builder_new(block_size, out), "steno_index_builder_new")
        self._handle: Any = ffi.gc(out[0], lib.steno_index_builder_free)

    @classmethod
    def adopt(cls, handle: Any, block_size: int) -> IndexBuilder:
        """Takes ownership of a builder the capture loop detached from a finished
        file (``steno_finished_file.index``); it is freed with this object."""
        if handle == ffi.NULL:
            raise ValueError("no builder to adopt")
        self = cls.__new__(cls)
        self.block_size = block_size
        self._guard = _Guard("IndexBuilder")
        self._handle = ffi.gc(handle, lib.steno_index_builder_free)
        return self

    def _live(self) -> Any:
        if self._handle is None:
            raise ValueError("IndexBuilder is closed")
        return self._handle

    def close(self) -> None:
        with self._guard():
            if self._handle is not None:
                ffi.release(self._handle)
                self._handle = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def force_hash_collisions(self, mask: int = 0) -> None:
        """Test hook: AND every flow hash with ``mask`` (0: all flows collide)."""
        with self._guard():
            _check(lib.steno_index_builder_set_hash_mask(self._live(), mask), "set_hash_mask")

    def add_block(
        self, block: bytes | bytearray | memoryview, file_offset: int, *, from_kernel: bool = False
    ) -> None:
        """Indexes the block that sits at ``file_offset`` in the packet file.

        ``from_kernel``: the block is as the kernel filled it (the capture
        path), so its packet chain is not checked first -- only for blocks
        that did not come from a file."""
        if len(block) != self.block_size:
            raise ValueError(f"block of {len(block)} bytes, expected {self.block_size}")
        buf = ffi.from_buffer("uint8_t[]", block)
        add = lib.steno_index_add_kernel_block if from_kernel else lib.steno_index_add_block
        with self._guard():
            rc = add(self._live(), buf, file_offset)
        _check(rc, f"indexing the block at offset {file_offset}")

    def truncate(self, file_offset: int) -> None:
        """Forgets every block at or after ``file_offset`` (their writes failed)."""
        with self._guard():
            _check(lib.steno_index_truncate(self._live(), file_offset), "truncate")

    def stats(self) -> BuilderStats:
        out = ffi.new("struct steno_index_builder_stats *")
        with self._guard():
            lib.steno_index_builder_stats(self._live(), out)
        return BuilderStats(
            packets=int(out.packets),
            blocks=int(out.blocks),
            flows=int(out.flows),
            memory_bytes=int(out.memory_bytes),
            first_ns=int(out.first_ns),
            last_ns=int(out.last_ns),
        )

    def serialize(self, packet_file_size: int) -> bytes:
        """The index file's bytes for a packet file of ``packet_file_size`` bytes."""
        out = ffi.new("uint8_t **")
        out_len = ffi.new("size_t *")
        with self._guard():
            rc = lib.steno_index_serialize(self._live(), packet_file_size, out, out_len)
        _check(rc, "serializing the index")
        try:
            return bytes(ffi.buffer(out[0], out_len[0]))
        finally:
            lib.steno_free(out[0])


@attrs.frozen(kw_only=True)
class IndexInfo:
    major: int
    minor: int
    block_size: int
    blocks: int
    flows: int
    packet_file_size: int
    packets: int
    first_ns: int
    last_ns: int


@attrs.frozen(kw_only=True)
class IndexBlock:
    index: int
    packets: int
    first_ns: int
    last_ns: int


class IndexOpenError(OSError):
    """The buffer is not a readable index file; the message says why."""


def _take_u32(ptr: Any, n: int) -> array.array[int]:
    """Copies n uint32 from a C array the caller must free, then frees it."""
    try:
        out = array.array("I")
        assert out.itemsize == 4
        if n:
            out.frombytes(ffi.buffer(ptr, 4 * n))
        return out
    finally:
        if ptr != ffi.NULL:
            lib.steno_free(ptr)


class IndexReader:
    """Look-ups in one serialized index (the query engine's view of an index file).

    ``data`` is typically an ``mmap`` of the index file; the reader keeps a
    reference to it and points into it, never copying.  ``verify_crc`` checks
    the whole-file checksum on open (a pass over the file at memory speed);
    without it the structure is still checked and every look-up still
    bounds-checked, so a bad file gives errors, never a crash.
    """

    def __init__(
        self, data: bytes | bytearray | memoryview | mmap.mmap, *, verify_crc: bool = True
    ) -> None:
        self._guard = _Guard("IndexReader")
        # The C reader points into the buffer: keep it (and its cffi view) alive.
        self._data = data
        self._buf = ffi.from_buffer("uint8_t[]", data)
        out = ffi.new("steno_index_reader **")
        err = ffi.new("char[256]")
        flags = lib.STENO_INDEX_VERIFY_CRC if verify_crc else 0
        rc = lib.steno_index_reader_open(self._buf, len(self._buf), flags, out, err, 256)
        if rc < 0:
            ffi.release(self._buf)
            raise IndexOpenError(-rc, ffi.string(err).decode("utf-8", "replace"))
        self._handle: Any = ffi.gc(out[0], lib.steno_index_reader_free)
        info = ffi.new("struct steno_index_info *")
        lib.steno_index_reader_info(self._handle, info)
        self.info = IndexInfo(
            major=int(info.major),
            minor=int(info.minor),
            block_size=int(info.block_size),
            blocks=int(info.blocks),
            flows=int(info.flows),
            packet_file_size=int(info.packet_file_size),
            packets=int(info.packets),
            first_ns=int(info.first_ns),
            last_ns=int(info.last_ns),
        )

    def _live(self) -> Any:
        if self._handle is None:
            raise ValueError("IndexReader is closed")
        return self._handle

    def close(self) -> None:
        """Frees the C reader, then lets go of the buffer (an mmap can then be closed)."""
        with self._guard():
            if self._handle is not None:
                ffi.release(self._handle)
                self._handle = None
                ffi.release(self._buf)
                self._data = b""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def blocks(self) -> tuple[IndexBlock, ...]:
        out = ffi.new("struct steno_index_block *")
        result = []
        with self._guard():
            handle = self._live()
            for i in range(self.info.blocks):
                _check(lib.steno_index_reader_block(handle, i, out), "block table")
                result.append(
                    IndexBlock(
                        index=int(out.index),
                        packets=int(out.packets),
                        first_ns=int(out.first_ns),
                        last_ns=int(out.last_ns),
                    )
                )
        return tuple(result)

    def blocks_in_time(self, time_lo: int, time_hi: int) -> array.array[int]:
        """Indices of the blocks (ascending) holding a packet with time in
        [time_lo, time_hi), by the block table's exact times; empty blocks
        left out."""
        out = ffi.new("uint32_t[]", max(1, self.info.blocks))
        n = ffi.new("size_t *")
        with self._guard():
            lib.steno_index_blocks_in_time(self._live(), time_lo, time_hi, out, n)
        found = array.array("I")
        found.frombytes(ffi.buffer(out, 4 * n[0]))
        return found

    def key_width(self, key_type: int) -> int:
        """Bytes of a key of this type in this file (0: the file has none)."""
        out = ffi.new("uint32_t *")
        with self._guard():
            lib.steno_index_key_width(self._live(), key_type, out)
        return int(out[0])

    def flows_for_range(self, key_type: int, lo: bytes, hi: bytes) -> array.array[int]:
        """Sorted ids of the flows with a key of ``key_type`` in [lo, hi] (network order)."""
        if len(lo) != len(hi):
            raise ValueError("lo and hi differ in length")
        flows = ffi.new("uint32_t **")
        n = ffi.new("size_t *")
        with self._guard():
            rc = lib.steno_index_lookup_flows(
                self._live(),
                key_type,
                ffi.from_buffer("uint8_t[]", lo),
                ffi.from_buffer("uint8_t[]", hi),
                len(lo),
                flows,
                n,
            )
        if rc == -errno.EINVAL:
            raise ValueError(f"keys of type {key_type} are not {len(lo)} bytes in this index")
        _check(rc, f"looking up keys of type {key_type}")
        return _take_u32(flows[0], n[0])

    def flows_for_key(self, key_type: int, key: bytes) -> array.array[int]:
        return self.flows_for_range(key_type, key, key)

    def positions(self, flows: array.array[int] | list[int] | tuple[int, ...]) -> array.array[int]:
        """Sorted, distinct packet positions of the given flows."""
        ids = flows if isinstance(flows, array.array) else array.array("I", flows)
        if ids.typecode != "I":
            ids = array.array("I", ids)
        c_ids = ffi.from_buffer("uint32_t[]", ids)
        out = ffi.new("uint32_t **")
        n = ffi.new("size_t *")
        with self._guard():
            rc = lib.steno_index_flow_positions(self._live(), c_ids, len(ids), out, n)
        if rc == -errno.EINVAL:
            raise ValueError(f"a flow id is not below {self.info.flows}")
        _check(rc, "reading flow positions")
        return _take_u32(out[0], n[0])

    def positions_for_range(self, key_type: int, lo: bytes, hi: bytes) -> array.array[int]:
        return self.positions(self.flows_for_range(key_type, lo, hi))

    def positions_for_key(self, key_type: int, key: bytes) -> array.array[int]:
        return self.positions(self.flows_for_range(key_type, key, key))
