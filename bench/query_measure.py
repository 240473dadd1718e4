"""Measuring one query run, emptying the page cache of a store, disk bandwidth.

A run is a child process that writes a pcap stream to a pipe (``stenoquery``,
or curl talking to upstream's server); the benchmark reads the pipe as fast
as it can and notes when the first byte of the first *packet* arrives (byte 25,
after the 24-byte pcap file header: a header alone is no answer), when the
stream ends, how many bytes and records it held.  The same reader serves both
programs, so its own cost (walking record headers in Python, about a tenth of
a microsecond per packet) weighs on both alike.

Cold cache: ``posix_fadvise(POSIX_FADV_DONTNEED)`` on every file of a store
(after ``fdatasync``, since dirty pages are not dropped), never the global
``drop_caches``.  ``fincore`` (util-linux) then says how much stayed cached.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import resource
import selectors
import shutil
import struct
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

PCAP_FILE_HEADER = 24
READ_SIZE = 1 << 20
PIPE_SIZE = 1 << 20
_U32 = struct.Struct("<I").unpack_from
TPACKET_V3_BLOCK = 2
"""tpacket_block_desc.version as the kernel fills it."""
TP_STATUS_USER = 1


class PcapCounter:
    """Counts the records of a pcap stream fed in arbitrary pieces."""

    def __init__(self) -> None:
        self.packets = 0
        self._skip = PCAP_FILE_HEADER  # bytes still to pass before the next record header
        self._carry = b""  # a record header cut by the end of the last piece

    def feed(self, data: bytes) -> None:
        if self._carry:
            data = self._carry + data
            self._carry = b""
        pos, n, count = self._skip, len(data), 0
        while pos + 16 <= n:
            pos += 16 + _U32(data, pos + 8)[0]
            count += 1
        self.packets += count
        if pos < n:
            self._carry = data[pos:]
            self._skip = 0
        else:
            self._skip = pos - n

    @property
    def complete(self) -> bool:
        """The stream ended on a record boundary."""
        return not self._carry and self._skip == 0


@attrs.frozen(kw_only=True)
class Stream:
    """What one run delivered, and when."""

    seconds: float
    """From starting the child to the end of its stream (and its exit)."""
    first_byte: float | None
    first_packet: float | None
    """Time to first byte of the first packet record (byte 25): the TTFB reported."""
    nbytes: int
    packets: int
    complete: bool
    exit_status: int | None
    stderr: str
    timed_out: bool
    child_cpu: float
    """CPU seconds (user + system) of the child and what it waited for."""
    disk_read: int | None = None
    """Bytes the store's disk read meanwhile (system-wide /proc/diskstats)."""

    @property
    def disk_mb_per_s(self) -> float | None:
        return self.disk_read / self.seconds / 1e6 if self.disk_read and self.seconds else None

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / self.seconds / 1e6 if self.seconds else 0.0

    @property
    def us_per_packet(self) -> float | None:
        return self.seconds * 1e6 / self.packets if self.packets else None


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_stream(
    start: Callable[[int], subprocess.Popen[Any]],
    *,
    timeout: float,
    stop: Callable[[subprocess.Popen[Any]], object],
    device: str | None = None,
) -> Stream:
    """Starts a child with ``start(stdout_fd)`` (stderr a pipe) and reads its
    stream to the end, or until ``timeout`` (then ``stop``\\s it).

    The stream's pipe is made 1 MiB (``F_SETPIPE_SZ``; 64 KiB by default):
    with the default, on two vCPUs, the pipe itself caps a stream at a few
    hundred MB/s, whoever writes it."""
    cpu0 = _children_cpu()
    disk0 = sectors_read(device)
    out_fd, write_fd = os.pipe()
    try:
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        t0 = time.perf_counter()
        proc = start(write_fd)
    finally:
        os.close(write_fd)
    try:
        stream = _read_stream(proc, out_fd, t0, cpu0, timeout=timeout, stop=stop)
    finally:
        os.close(out_fd)
    disk1 = sectors_read(device)
    if disk0 is not None and disk1 is not None:
        stream = attrs.evolve(stream, disk_read=disk1 - disk0)
    return stream


def _read_stream(
    proc: subprocess.Popen[Any],
    out_fd: int,
    t0: float,
    cpu0: float,
    *,
    timeout: float,
    stop: Callable[[subprocess.Popen[Any]], object],
) -> Stream:
    assert proc.stderr is not None
    err_fd = proc.stderr.fileno()
    os.set_blocking(err_fd, False)
    counter = PcapCounter()
    nbytes = 0
    first_byte = first_packet = None
    err = bytearray()
    timed_out = False
    deadline = t0 + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(out_fd, selectors.EVENT_READ)
        sel.register(err_fd, selectors.EVENT_READ)
        open_fds = 2
        while open_fds:
            left = deadline - time.perf_counter()
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(min(left, 1.0)):
                if key.fd == err_fd:
                    try:
                        piece = os.read(err_fd, 65536)
                    except BlockingIOError:
                        continue
                    if piece:
                        err += piece
                    else:
                        sel.unregister(err_fd)
                        open_fds -= 1
                    continue
                chunk = os.read(out_fd, READ_SIZE)
                if not chunk:
                    sel.unregister(out_fd)
                    open_fds -= 1
                    continue
                now = time.perf_counter()
                if first_byte is None:
                    first_byte = now - t0
                nbytes += len(chunk)
                if first_packet is None and nbytes > PCAP_FILE_HEADER:
                    first_packet = now - t0
                counter.feed(chunk)
    if timed_out:
        stop(proc)
        status = None
    else:
        try:
            status = proc.wait(max(1.0, deadline - time.perf_counter()))
        except subprocess.TimeoutExpired:
            timed_out, status = True, None
    seconds = time.perf_counter() - t0
    stop(proc)
    return Stream(
        seconds=seconds,
        first_byte=first_byte,
        first_packet=first_packet,
        nbytes=nbytes,
        packets=counter.packets,
        complete=counter.complete,
        exit_status=status,
        stderr=err.decode(errors="replace")[-2000:],
        timed_out=timed_out,
        child_cpu=_children_cpu() - cpu0,
    )


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a running process has used."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the disk --


def block_device(path: Path) -> str | None:
    """The name in /proc/diskstats of the block device holding path (None if unknown)."""
    dev = os.stat(path).st_dev
    try:
        uevent = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/uevent").read_text()
    except OSError:
        return None
    for line in uevent.splitlines():
        if line.startswith("DEVNAME="):
            return line.split("=", 1)[1]
    return None


def sectors_read(device: str | None) -> int | None:
    """Bytes read from the device so far (/proc/diskstats: sectors of 512 bytes).
    System-wide: whatever else reads the disk meanwhile counts too."""
    if device is None:
        return None
    with open("/proc/diskstats") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 5 and fields[2] == device:
                return int(fields[5]) * 512
    return None


# -- the page cache --


def store_files(dirs: Iterable[Path]) -> list[Path]:
    files = []
    for d in dirs:
        for root, _, names in os.walk(d):
            files += [Path(root) / n for n in names if not n.startswith(".")]
    return sorted(files)


def evict(files: Sequence[Path]) -> None:
    """Drops the files' pages from the page cache (never the global drop_caches)."""
    for path in files:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def cached_bytes(files: Sequence[Path]) -> int | None:
    """Bytes of the files in the page cache (util-linux fincore), None if unknown."""
    fincore = shutil.which("fincore")
    if fincore is None or not files:
        return None if fincore is None else 0
    total = 0
    for i in range(0, len(files), 200):
        proc = subprocess.run(
            [fincore, "--bytes", "--noheadings", "--output", "RES", *map(str, files[i : i + 200])],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            return None
        total += sum(int(x) for x in proc.stdout.split())
    return total


# -- disk bandwidth --


@attrs.frozen(kw_only=True)
class DiskRead:
    method: str
    path: str
    nbytes: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / self.seconds / 1e6


def read_direct(path: Path, *, block: int = 4 << 20, limit: int = 4 << 30) -> DiskRead:
    """Sequential O_DIRECT read (no page cache, no readahead), one request at a time."""
    buf = mmap.mmap(-1, block)  # page aligned, as O_DIRECT needs
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    total = 0
    try:
        t0 = time.perf_counter()
        while total < limit:
            n = os.readv(fd, [buf])
            if n <= 0:
                break
            total += n
            if n < block:
                break
        seconds = time.perf_counter() - t0
    finally:
        os.close(fd)
        buf.close()
    return DiskRead(method="O_DIRECT, 4 MiB reads", path=str(path), nbytes=total, seconds=seconds)


def read_cold(path: Path, *, block: int = 4 << 20, limit: int = 4 << 30) -> DiskRead:
    """Sequential buffered read of a file just evicted: the kernel's readahead, as
    a query reading through the page cache gets it."""
    evict([path])
    buf = bytearray(block)
    view = memoryview(buf)
    total = 0
    with open(path, "rb", buffering=0) as f:
        t0 = time.perf_counter()
        while total < limit:
            n = f.readinto(view)
            if not n:
                break
            total += n
        seconds = time.perf_counter() - t0
    evict([path])
    return DiskRead(
        method="buffered after DONTNEED, 4 MiB reads", path=str(path), nbytes=total, seconds=seconds
    )


def count_packets(path: Path, block_size: int = 1 << 20) -> int:
    """Packets of a TPACKET_V3 block file, from each block's descriptor (num_pkts)."""
    total = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        for off in range(0, size - size % block_size, block_size):
            desc = os.pread(fd, 16, off)
            if len(desc) < 16:
                break
            version, _, status, num_pkts = struct.unpack("<IIII", desc)
            if version != TPACKET_V3_BLOCK or not status & TP_STATUS_USER:  # zero fill: the end
                break
            total += num_pkts
    finally:
        os.close(fd)
    return total
