"""grader.sandbox.channel over a socketpair: framing, deadlines, a closing peer, caps."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time

import pytest
import torch

from grader.sandbox import wire
from grader.sandbox.channel import Channel, ChannelClosed, ChannelTimeout


@pytest.fixture
def pair():
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours, theirs = Channel(left), Channel(right)
    yield ours, theirs
    ours.close()
    theirs.close()


def soon(seconds: float = 0.2) -> float:
    return time.monotonic() + seconds


def test_a_frame_sent_is_the_frame_received(pair):
    ours, theirs = pair
    theirs.send("reply", 5, {"loss": 0.5, "w": torch.tensor([1.0, 2.0]), "ids": [1, 2]})
    header, buffers = ours.receive(deadline=soon(5))
    assert (header["kind"], header["id"]) == ("reply", 5)
    body = wire.decode_body(header, buffers)
    assert body["loss"] == 0.5 and body["ids"] == [1, 2]
    assert torch.equal(body["w"].value, torch.tensor([1.0, 2.0]))


def test_frames_sent_back_to_back_are_received_one_at_a_time(pair):
    ours, theirs = pair
    theirs.send_raw(wire.encode_frame("a", 1, [1]) + wire.encode_frame("b", 2, torch.zeros(3)))
    assert ours.receive(deadline=soon(5))[0]["kind"] == "a"
    header, buffers = ours.receive(deadline=soon(5))
    assert header["kind"] == "b" and buffers == [b"\0" * 12]


def test_receive_without_a_deadline_still_reads_a_frame(pair):
    ours, theirs = pair
    theirs.send("reply", 1, None)
    assert ours.receive()[0]["body"] is None


def test_a_frame_larger_than_one_read_is_reassembled(pair):
    ours, theirs = pair
    big = torch.arange(600_000, dtype=torch.float32)  # 2.4 MB: several recv() calls
    sender = threading.Thread(target=theirs.send, args=("reply", 1, big))
    sender.start()
    header, buffers = ours.receive(deadline=soon(10))
    sender.join()
    assert torch.equal(wire.decode_body(header, buffers).value, big)


def test_a_frame_arriving_in_pieces_is_reassembled(pair):
    ours, theirs = pair
    frame = wire.encode_frame("reply", 9, {"w": torch.ones(4)})

    def dribble():
        for i in range(0, len(frame), 7):
            theirs.send_raw(frame[i:i + 7])
            time.sleep(0.001)

    sender = threading.Thread(target=dribble)
    sender.start()
    header, buffers = ours.receive(deadline=soon(5))
    sender.join()
    assert header["id"] == 9 and torch.equal(wire.decode_body(header, buffers)["w"].value, torch.ones(4))


def test_receive_raises_channel_timeout_when_nothing_arrives(pair):
    ours, _ = pair
    started = time.monotonic()
    with pytest.raises(ChannelTimeout):
        ours.receive(deadline=started + 0.2)
    assert 0.15 <= time.monotonic() - started < 2


def test_receive_raises_channel_timeout_when_a_frame_stops_halfway(pair):
    ours, theirs = pair
    frame = wire.encode_frame("reply", 1, torch.ones(100))
    theirs.send_raw(frame[:len(frame) // 2])
    with pytest.raises(ChannelTimeout):
        ours.receive(deadline=soon())


def test_a_deadline_already_passed_times_out_at_once(pair):
    ours, theirs = pair
    theirs.send("reply", 1, None)
    with pytest.raises(ChannelTimeout):
        ours.receive(deadline=time.monotonic() - 1)


@pytest.mark.parametrize("cut", ["nothing", "in-length", "in-header", "in-buffers"])
def test_a_peer_closing_mid_frame_raises_channel_closed(pair, cut):
    ours, theirs = pair
    frame = wire.encode_frame("reply", 1, torch.ones(100))
    header_end = 4 + struct.unpack(">I", frame[:4])[0]
    keep = {"nothing": 0, "in-length": 2, "in-header": header_end - 3, "in-buffers": header_end + 10}[cut]
    theirs.send_raw(frame[:keep])
    theirs.close()
    with pytest.raises(ChannelClosed):
        ours.receive(deadline=soon(5))


def test_an_oversize_header_length_is_refused_before_the_body_is_read(pair):
    ours, theirs = pair
    theirs.send_raw(struct.pack(">I", wire.MAX_HEADER_BYTES + 1))  # and nothing else
    started = time.monotonic()
    with pytest.raises(wire.WireError):
        ours.receive(deadline=started + 5)
    assert time.monotonic() - started < 1, "it must not wait for a body it will never accept"


def test_an_invalid_header_is_refused_before_the_buffers_are_read(pair):
    ours, theirs = pair
    header = b'{"kind":"r","id":1,"body":null,"buffers":[-1]}'
    theirs.send_raw(struct.pack(">I", len(header)) + header)
    with pytest.raises(wire.WireError, match="buffer table"):
        ours.receive(deadline=soon(5))


def test_a_child_that_exits_without_answering_is_reported_as_closed():
    left, right = socket.socketpair()
    read_end, write_end = os.pipe()  # stands in for the child's pidfd
    channel = Channel(left, watch_fd=read_end)
    try:
        os.close(write_end)  # the "child" is gone: the watched fd is readable
        started = time.monotonic()
        with pytest.raises(ChannelClosed, match="exited"):
            channel.receive(deadline=started + 5)
        assert time.monotonic() - started < 1
    finally:
        channel.close()
        right.close()
        os.close(read_end)


def test_what_an_exited_child_left_in_the_socket_is_still_read():
    left, right = socket.socketpair()
    read_end, write_end = os.pipe()
    channel = Channel(left, watch_fd=read_end)
    try:
        Channel(right).send("reply", 3, [1, 2])
        os.close(write_end)
        header, _ = channel.receive(deadline=soon(5))
        assert header["id"] == 3 and header["body"] == [1, 2]
    finally:
        channel.close()
        right.close()
        os.close(read_end)


def test_close_is_idempotent(pair):
    ours, _ = pair
    ours.close()
    ours.close()
