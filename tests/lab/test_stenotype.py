"""stenotype end to end in the lab: real AF_PACKET capture into real files."""

from __future__ import annotations

import collections
import grp
import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from steno.lab.generator import generate
from steno.lab.netns import Lab
from steno.lab.stenotype_run import BLOCK_SIZE, SMALL, Stenotype, export_all, names, stored_frames
from steno.store.packet_file import PacketFile

pytestmark = pytest.mark.lab


def settle(seconds: float = 1.6) -> None:
    """Long enough for the kernel to retire a partly filled block (blockage 1 s)."""
    time.sleep(seconds)


def test_every_packet_is_stored_with_identical_bytes(lab: Lab) -> None:
    traffic = generate(seed=11, count=3000, profile="mixed")
    steno = Stenotype(lab, lab.tmpdir / "store").start()
    result = lab.send((traffic.data, traffic.offsets), rate=20_000)
    assert result.sent == len(traffic)
    settle()
    assert steno.stop() == 0, steno.log()

    stored = stored_frames(steno.dirs())
    assert stored == list(traffic.frames())
    visible, hidden = names(steno.dirs().packets)
    assert hidden == [] and names(steno.dirs().index)[1] == []
    assert names(steno.dirs().index)[0] == visible

    # An independent reader agrees: tcpdump reads the export, packet for packet.
    pcap = lab.tmpdir / "all.pcap"
    assert export_all(steno.dirs(), pcap) == len(traffic)
    out = subprocess.run(
        ["tcpdump", "-r", str(pcap), "-nn", "-q"], capture_output=True, text=True, check=True
    )
    assert len(out.stdout.splitlines()) == len(traffic)


def test_two_threads_store_each_packet_exactly_once(lab: Lab) -> None:
    traffic = generate(seed=12, count=4000, profile="imix")
    steno = Stenotype(lab, lab.tmpdir / "store", "--threads=2", *SMALL).start()
    lab.send((traffic.data, traffic.offsets), rate=20_000)
    settle()
    assert steno.stop() == 0, steno.log()

    per_thread = [stored_frames(steno.dirs(t)) for t in (0, 1)]
    assert all(per_thread), "fanout gave one thread nothing"
    got = collections.Counter(per_thread[0] + per_thread[1])
    assert got == collections.Counter(traffic.frames())


def test_filter_keeps_exactly_what_tcpdump_keeps(lab: Lab) -> None:
    expression = ["ip", "and", "(udp", "or", "icmp)"]
    hexprog = lab.run(
        lab.python("steno.cli.compile_bpf", "cap0", *expression), check=True
    ).stdout.strip()
    traffic = generate(seed=13, count=3000, profile="mixed")
    oracle_path = lab.tmpdir / "tcpdump.pcap"
    oracle = lab.popen(
        ["tcpdump", "-i", "cap0", "-w", str(oracle_path), "-U", "-B", "16384", *expression],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "listening" in lab.read_line(oracle.stderr, 15)
    steno = Stenotype(lab, lab.tmpdir / "store", f"--filter={hexprog}", *SMALL).start()
    lab.send((traffic.data, traffic.offsets), rate=20_000)
    settle()
    assert steno.stop() == 0, steno.log()
    lab.stop(oracle)

    from steno.lab.pcap import read_pcap

    _, oracle_records = read_pcap(oracle_path)
    kept = stored_frames(steno.dirs())
    assert 0 < len(kept) < len(traffic)
    # libpcap puts the stripped outer tag back too, so both show the wire's bytes.
    assert kept == [r.data for r in oracle_records]


def test_rotation_by_size_fills_files_to_the_limit(lab: Lab) -> None:
    traffic = generate(seed=14, count=30_000, profile="imix")  # ~13 MB in packet files
    steno = Stenotype(
        lab, lab.tmpdir / "store", *SMALL[:-2], "--fileage_sec=30", "--blockage_sec=1"
    )
    steno.start()
    lab.send((traffic.data, traffic.offsets), rate=50_000)
    settle()
    assert steno.stop() == 0, steno.log()
    visible, _ = names(steno.dirs().packets)
    sizes = [(steno.dirs().packets / n).stat().st_size for n in visible]
    assert len(sizes) >= 3
    assert all(s == 4 * 1024 * 1024 for s in sizes[:-1]), sizes
    assert stored_frames(steno.dirs()) == list(traffic.frames())


def test_an_idle_link_still_rotates_into_empty_files(lab: Lab) -> None:
    steno = Stenotype(lab, lab.tmpdir / "store").start()
    time.sleep(3.5)
    assert steno.stop() == 0, steno.log()
    visible, hidden = names(steno.dirs().packets)
    assert len(visible) >= 3 and hidden == []
    for name in visible:
        assert (steno.dirs().packets / name).stat().st_size == 0
        assert (steno.dirs().index / name).exists()


def test_kill_9_leaves_only_hidden_files_and_the_next_start_recovers_them(lab: Lab) -> None:
    traffic = generate(seed=15, count=40_000, profile="imix")
    base = lab.tmpdir / "store"
    flags = (*SMALL[:-2], "--fileage_sec=30", "--blockage_sec=1")
    steno = Stenotype(lab, base, *flags).start()
    sender = lab.popen(
        lab.python(
            "steno.lab.send",
            "--iface",
            "gen0",
            "--pcap",
            str(_pcap(lab, traffic)),
            "--rate",
            "20000",
            "--max-seconds",
            "10",
        ),
        stdout=subprocess.DEVNULL,
    )
    time.sleep(1.3)
    steno.kill()  # mid-file, writes in flight
    lab.wait(sender, 20)

    dirs = steno.dirs()
    visible, hidden = names(dirs.packets)
    assert hidden, "a killed stenotype left no partial file"
    for name in visible:  # whatever is visible is complete
        assert (dirs.index / name).exists()
        PacketFile(dirs.packet_path(name), block_size=BLOCK_SIZE).count_packets()

    again = Stenotype(lab, base, *flags).start()
    deadline = time.monotonic() + 20
    while "recovered an earlier run" not in again.log():
        assert time.monotonic() < deadline, again.log()
        time.sleep(0.1)
    assert again.stop() == 0, again.log()

    visible, hidden = names(dirs.packets)
    assert hidden == [] and names(dirs.index) == (visible, [])
    stored = stored_frames(dirs)
    sent = list(traffic.frames())
    # No garbage, no duplicates: the stored frames are the sent ones, in order,
    # minus what was still in the kernel's ring when the process died.
    assert len(stored) > 1000
    assert len(set(stored)) == len(stored)
    position = {frame: i for i, frame in enumerate(sent)}
    order = [position[f] for f in stored]
    assert order == sorted(order)


def _pcap(lab: Lab, traffic: object) -> Path:
    from steno.lab.pcap import write_pcap_frames

    path = lab.tmpdir / "traffic.pcap"
    with open(path, "wb") as out:
        write_pcap_frames(out, traffic.data, traffic.offsets)  # type: ignore[attr-defined]
    return path


def test_unknown_interface_is_one_clear_line(lab: Lab) -> None:
    base = lab.tmpdir / "store"
    proc = lab.run(
        lab.python("steno.cli.stenotype", f"--dir={base}", "--iface=nosuch0", *SMALL), check=False
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "stenotype: cannot capture on nosuch0: if_nametoindex: No such device"
    ]


def test_default_privilege_drop_writes_files_as_nobody(lab: Lab) -> None:
    base = lab.tmpdir / "store"
    base.mkdir()
    os.chmod(lab.tmpdir, 0o755)
    os.chmod(base, 0o777)
    steno = Stenotype(lab, base, *SMALL, identity=()).start()
    assert "Running as nobody:nogroup" in steno.log()
    lab.send([bytes(60)] * 10)
    settle()
    assert steno.stop() == 0, steno.log()
    visible, _ = names(steno.dirs().packets)
    owner = (steno.dirs().packets / visible[0]).stat()
    assert (owner.st_uid, owner.st_gid) == (
        pwd.getpwnam("nobody").pw_uid,
        grp.getgrnam("nogroup").gr_gid,
    )
    assert oct(owner.st_mode & 0o777) == "0o600"


def test_sigterm_during_traffic_loses_nothing_already_captured(lab: Lab) -> None:
    traffic = generate(seed=16, count=2000, profile="imix")
    steno = Stenotype(
        lab, lab.tmpdir / "store", *SMALL[:-2], "--fileage_sec=30", "--blockage_sec=1"
    ).start()
    lab.send((traffic.data, traffic.offsets), rate=20_000)
    # No settling: the last block is still in the kernel; the drain must get it.
    assert steno.stop() == 0, steno.log()
    assert stored_frames(steno.dirs()) == list(traffic.frames())


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))


@pytest.fixture
def small_disk(lab: Lab) -> Iterator[Path]:
    """A 3 MiB tmpfs, mounted for this test only and always unmounted."""
    path = lab.tmpdir / "store"
    path.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False)


def test_a_full_disk_is_reported_and_capture_resumes_when_space_returns(
    lab: Lab, small_disk: Path
) -> None:
    """A ballast file takes a third of the 3 MiB store; deleting it is the
    space coming back."""
    steno = Stenotype(lab, small_disk, *SMALL[:-2], "--fileage_sec=2", "--blockage_sec=1")
    ballast = small_disk / "ballast"
    ballast.write_bytes(bytes(1 << 20))
    steno.start()

    first = generate(seed=17, count=20_000, profile="imix")  # ~8 MB: more than fits
    lab.send((first.data, first.offsets), rate=20_000)
    deadline = time.monotonic() + 15
    while "No space left on device" not in steno.log():
        assert time.monotonic() < deadline, steno.log()
        time.sleep(0.1)

    ballast.unlink()
    time.sleep(2.5)  # past the first retry
    later = generate(seed=18, count=2000, profile="small")
    lab.send((later.data, later.offsets), rate=20_000)

    dirs = steno.dirs()
    deadline = time.monotonic() + 15
    while "after all" not in steno.log():  # the file that hit the full disk is sealed
        assert time.monotonic() < deadline, steno.log()
        time.sleep(0.3)
    deadline = time.monotonic() + 15
    while not set(later.frames()) <= set(stored_frames(dirs)):
        assert time.monotonic() < deadline, steno.log()
        time.sleep(0.3)

    log = steno.log()
    assert "packets are counted as lost" in log
    assert "writing again" in log
    stored = stored_frames(dirs)
    sent = list(first.frames()) + list(later.frames())
    position = {frame: i for i, frame in enumerate(sent)}
    order = [position[f] for f in stored]  # no garbage: every stored frame was sent
    assert order == sorted(order) and len(set(order)) == len(order)
    assert sum(1 for i in order if i < len(first)) > 1000  # the prefix before the disk filled
    assert steno.stop() == 0, log


def test_losing_the_interface_seals_what_was_written_and_exits_1(lab: Lab) -> None:
    traffic = generate(seed=19, count=500, profile="imix")
    steno = Stenotype(
        lab, lab.tmpdir / "store", *SMALL[:-2], "--fileage_sec=30", "--blockage_sec=1"
    ).start()
    lab.send((traffic.data, traffic.offsets), rate=20_000)
    settle()
    lab.run(["ip", "link", "del", "gen0"], check=True)  # takes its peer cap0 with it
    assert steno.proc is not None
    assert steno.proc.wait(20) == 1
    assert "stenotype: thread 0: capture on cap0 failed: Network is down" in steno.log()
    assert "Traceback" not in steno.log()
    assert stored_frames(steno.dirs()) == list(traffic.frames())
    assert names(steno.dirs().packets)[1] == []


def test_every_packet_is_under_each_of_its_keys_and_no_other(lab: Lab) -> None:
    """The index of real captured traffic against the generator's ground truth,
    read back with the pure-Python reader (the C writer's second implementation)."""
    from array import array

    from steno.lab.pcap import iter_pcap
    from steno.lab.truth import KeyType
    from steno.store.index_format import IndexFile

    traffic = generate(seed=20, count=4000, profile="mixed")
    steno = Stenotype(
        lab, lab.tmpdir / "store", *SMALL[:-2], "--fileage_sec=2", "--blockage_sec=1"
    ).start()
    lab.send((traffic.data, traffic.offsets), rate=10_000)
    settle()
    assert steno.stop() == 0, steno.log()

    truth = {traffic.frame(i): frozenset(traffic.keys(i)) for i in range(len(traffic))}
    got: dict[bytes, set[tuple[KeyType, int]]] = collections.defaultdict(set)
    dirs = steno.dirs()
    visible, _ = names(dirs.packets)
    assert len(visible) >= 2
    indexed = 0
    for name in visible:
        index = IndexFile.from_bytes(dirs.index_path(name).read_bytes())
        indexed += index.header.packet_count
        with PacketFile(dirs.packet_path(name), block_size=BLOCK_SIZE) as pf:
            for (key_type, value), positions in index.key_map().items():
                import io

                buf = io.BytesIO()
                pf.export_pcap(buf, positions=array("Q", positions))
                buf.seek(0)
                key = (KeyType(key_type), int.from_bytes(value, "big"))
                for record in iter_pcap(buf)[1]:
                    got[record.data].add(key)
    assert indexed == len(traffic)
    for frame, keys in truth.items():
        assert frozenset(got.get(frame, set())) == keys


PARENT = """
import subprocess, sys, threading, time
argv, log = sys.argv[1:-1], open(sys.argv[-1], "ab")
box = []
def fork():
    box.append(subprocess.Popen(argv, stdout=log, stderr=log))
    time.sleep(2)  # stenotype is set up by now
# As trio does: the child is forked by a worker thread, which ends later.
thread = threading.Thread(target=fork)
thread.start()
while not box:
    time.sleep(0.01)
print(box[0].pid, flush=True)
thread.join()
print("thread ended", flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_stenotype_outlives_the_thread_that_started_it_but_not_its_parent(lab: Lab) -> None:
    steno = Stenotype(lab, lab.tmpdir / "store")
    steno.base.mkdir(parents=True)
    parent = lab.popen(
        [sys.executable, "-c", PARENT, *steno.argv(), str(steno.log_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(lab.read_line(parent.stdout, 20))
    try:
        deadline = time.monotonic() + 20
        while "Capturing on" not in steno.log():
            assert time.monotonic() < deadline, steno.log()
            time.sleep(0.05)
        assert lab.read_line(parent.stdout, 20).strip() == "thread ended"
        time.sleep(1)  # PR_SET_PDEATHSIG would have stopped it when the thread ended
        assert not _gone(child), steno.log()
        assert "exiting" not in steno.log()
        lab.stop(parent)  # SIGTERM to the parent only
        deadline = time.monotonic() + 20
        while not _gone(child):
            assert time.monotonic() < deadline, f"stenotype outlived its parent\n{steno.log()}"
            time.sleep(0.05)
    finally:
        if not _gone(child):
            os.kill(child, 9)
    assert "The parent process exited, finishing files and exiting" in steno.log()
    assert "Process exiting successfully" in steno.log()
    assert names(steno.dirs().packets)[1] == []  # the open file was sealed


def test_a_second_signal_while_sealing_does_not_lose_the_last_file(lab: Lab) -> None:
    """Ctrl-C reaches both the daemon and stenotype, then the daemon sends SIGTERM."""
    traffic = generate(seed=21, count=2000, profile="imix")
    steno = Stenotype(
        lab, lab.tmpdir / "store", *SMALL[:-2], "--fileage_sec=30", "--blockage_sec=1"
    ).start()
    lab.send((traffic.data, traffic.offsets), rate=20_000)
    assert steno.proc is not None
    steno.proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    assert steno.stop() == 0, steno.log()
    assert stored_frames(steno.dirs()) == list(traffic.frames())


def test_preallocated_files_are_cut_to_their_data_when_sealed(lab: Lab) -> None:
    traffic = generate(seed=22, count=1000, profile="imix")
    steno = Stenotype(
        lab,
        lab.tmpdir / "store",
        *SMALL[:-2],
        "--fileage_sec=2",
        "--blockage_sec=1",
        "--preallocate_file_mb=3",
    ).start()
    deadline = time.monotonic() + 10
    hidden: list[str] = []
    while not hidden:  # the open file is allocated in full at once
        hidden = [n for n in names(steno.dirs().packets)[1]]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert (steno.dirs().packets / hidden[0]).stat().st_blocks * 512 >= 3 << 20
    lab.send((traffic.data, traffic.offsets), rate=20_000)
    settle()
    assert steno.stop() == 0, steno.log()
    for name in names(steno.dirs().packets)[0]:
        size = (steno.dirs().packets / name).stat().st_size
        assert size % BLOCK_SIZE == 0 and size < 3 << 20
    assert stored_frames(steno.dirs()) == list(traffic.frames())
