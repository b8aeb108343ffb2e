"""The inbox's drop-oldest queues and batch formation, on real threads."""

from __future__ import annotations

import threading
import time

import pytest

from vkstream.nodes.node import Packet
from vkstream.pipeline.inbox import Inbox


def packet(stream: str, seq: int, key: tuple[int, ...] = (4, 4, 3), epoch: int = 0) -> Packet:
    return Packet(stream=stream, seq=seq, stamp_ns=seq, batch_key=key, epoch=epoch)


def test_a_full_stream_drops_its_oldest_frame_and_counts_it() -> None:
    inbox = Inbox(max_pending=2)
    inbox.put([packet("a", s) for s in range(5)])
    assert inbox.pending() == 2
    assert inbox.dropped() == {"a": 3}
    assert [p.seq for p in inbox.take_batch(4, 0.0)] == [3]
    assert [p.seq for p in inbox.take_batch(4, 0.0)] == [4]


def test_a_dropped_frame_hands_its_restart_flags_to_the_next() -> None:
    inbox = Inbox(max_pending=1)
    first = packet("a", 0)
    first.restart = first.state_reset = True
    inbox.put([first, packet("a", 1)])
    (kept,) = inbox.take_batch(1, 0.0)
    assert kept.seq == 1 and kept.restart and kept.state_reset


def test_frames_arriving_out_of_order_leave_in_order_and_late_ones_are_dropped() -> None:
    inbox = Inbox(max_pending=4)
    inbox.put([packet("a", 2)])
    inbox.put([packet("a", 1)])
    assert [p.seq for p in inbox.take_batch(1, 0.0)] == [1]
    assert [p.seq for p in inbox.take_batch(1, 0.0)] == [2]
    inbox.put([packet("a", 0)])  # older than a frame already passed on
    assert inbox.pending() == 0 and inbox.dropped() == {"a": 1} and inbox.late() == {"a": 1}


def test_a_lossless_frame_waits_for_the_earlier_one_still_on_its_way() -> None:
    inbox = Inbox(max_pending=1)
    first, second = packet("a", 0), packet("a", 1)
    first.lossless = second.lossless = True
    inbox.put([second])
    assert inbox.take_batch(1, 0.0, timeout_s=0.05) == []  # seq 0 first
    inbox.put([first])
    assert [p.seq for p in inbox.take_batch(1, 0.0)] == [0]
    assert [p.seq for p in inbox.take_batch(1, 0.0)] == [1]
    third = packet("a", 2)
    third.lossless = True
    inbox.put([third])
    fourth = packet("a", 3)
    fourth.lossless = True
    inbox.put([fourth])
    assert [p.seq for p in inbox.take_batch(1, 0.0)] == [2]
    assert [p.seq for p in inbox.take_batch(1, 0.0)] == [3]
    fifth = packet("a", 5)
    fifth.lossless = True
    inbox.put([fifth])
    started = time.monotonic()
    while not (batch := inbox.take_batch(1, 0.0, timeout_s=0.05)):
        assert time.monotonic() - started < 5
    assert [p.seq for p in batch] == [5]  # ... unless it never comes: given up after the reorder wait
    assert inbox.late() == {}


def test_a_batch_has_one_frame_per_stream_and_at_most_max_batch() -> None:
    inbox = Inbox(max_pending=3)
    for s in range(2):
        inbox.put([packet("a", s), packet("b", s), packet("c", s)])
    batch = inbox.take_batch(2, 0.0)
    assert sorted((p.stream, p.seq) for p in batch) == [("a", 0), ("b", 0)]
    batch = inbox.take_batch(8, 0.0)
    assert sorted((p.stream, p.seq) for p in batch) == [("a", 1), ("b", 1), ("c", 0)]


def test_streams_take_turns_when_only_one_frame_fits() -> None:
    inbox = Inbox(max_pending=1)
    served = []
    for seq in range(6):
        inbox.put([packet("a", seq)])  # a's frames always arrive first
        inbox.put([packet("b", seq)])
        served += [p.stream for p in inbox.take_batch(1, 0.0)]
    assert served.count("a") == served.count("b") == 3


def test_frames_of_another_size_go_in_their_own_batch() -> None:
    inbox = Inbox(max_pending=2)
    inbox.put([packet("a", 0, key=(4, 4, 3)), packet("b", 0, key=(8, 8, 3))])
    first = inbox.take_batch(4, 0.0)
    second = inbox.take_batch(4, 0.0)
    assert [p.stream for p in first] == ["a"] and [p.stream for p in second] == ["b"]


def test_the_batch_waits_at_most_max_wait_for_other_streams() -> None:
    inbox = Inbox(max_pending=2)
    inbox.put([packet("a", 0), packet("b", 0)])
    inbox.take_batch(4, 0.0)  # both streams are known now
    inbox.put([packet("a", 1)])
    started = time.monotonic()
    batch = inbox.take_batch(4, 0.2)
    waited = time.monotonic() - started
    assert [p.stream for p in batch] == ["a"]
    assert 0.15 <= waited < 2.0


def test_a_frame_of_the_other_stream_completes_the_batch_early() -> None:
    inbox = Inbox(max_pending=2)
    inbox.put([packet("a", 0), packet("b", 0)])
    inbox.take_batch(4, 0.0)
    inbox.put([packet("a", 1)])
    threading.Timer(0.05, lambda: inbox.put([packet("b", 1)])).start()
    started = time.monotonic()
    batch = inbox.take_batch(4, 5.0)
    assert sorted(p.stream for p in batch) == ["a", "b"]
    assert time.monotonic() - started < 2.0


def test_a_restarted_ingest_numbering_from_zero_replaces_the_old_run() -> None:
    inbox = Inbox(max_pending=2)
    inbox.put([packet("a", 7)])
    inbox.take_batch(1, 0.0)
    inbox.put([packet("a", 8)])
    inbox.put([packet("a", 0, epoch=1)])
    assert [p.seq for p in inbox.take_batch(1, 0.0)] == [0]
    assert inbox.dropped() == {"a": 1}
    inbox.put([packet("a", 9)])  # a straggler of the old run
    assert inbox.pending() == 0 and inbox.dropped() == {"a": 2}


def test_forget_and_close() -> None:
    inbox = Inbox(max_pending=2)
    inbox.put([packet("a", 0), packet("b", 0)])
    inbox.forget("a")
    assert [p.stream for p in inbox.take_batch(4, 0.0)] == ["b"]
    assert inbox.take_batch(4, 0.0, timeout_s=0.01) == []
    inbox.close()
    assert inbox.take_batch(4, 0.0) == []
    with pytest.raises(ValueError, match="max_pending"):
        Inbox(0)


def test_frames_of_a_detached_attachment_arriving_late_are_discarded_not_taken_for_the_next() -> None:
    inbox = Inbox(max_pending=2)
    inbox.put([packet("a", 0, epoch=100)])
    inbox.take_batch(1, 0.0)
    inbox.forget("a", epoch=100)
    inbox.put([packet("a", 1, epoch=100)])  # was in an actor upstream while the stream was detached
    assert inbox.pending() == 0 and inbox.dropped() == {}  # the stream is gone: not a drop
    assert inbox.retired(packet("a", 1, epoch=100)) and not inbox.retired(packet("a", 0, epoch=200))
    inbox.put([packet("a", 0, epoch=200)])  # attached again: a new ingest, a later epoch
    assert [(p.seq, p.epoch) for p in inbox.take_batch(1, 0.0)] == [(0, 200)]
    inbox.forget("a")  # no epoch given (the ingest was lost): the latest seen here is retired
    inbox.put([packet("a", 1, epoch=200), packet("b", 0, epoch=200)])
    assert [p.stream for p in inbox.take_batch(4, 0.0)] == ["b"]


def part(source: str, stream: str, seq: int, **data: object) -> Packet:
    p = packet(stream, seq)
    p.source, p.data = source, dict(data)
    return p


def test_a_frame_fed_by_two_senders_is_queued_once_both_parts_are_there() -> None:
    inbox = Inbox(max_pending=4, sources=("ingest", "model"))
    truth = part("ingest", "a", 0, **{"ingest.truth": "labels"})
    truth.restart = True
    inbox.put([truth])
    assert inbox.pending() == 0 and inbox.take_batch(4, 0.0, timeout_s=0.01) == []  # waits for the model
    model = part("model", "a", 0, **{"depth_head.panoptic": "prediction"})
    model.state_reset = True
    inbox.put([model])
    (frame,) = inbox.take_batch(4, 0.0)
    assert frame.data == {"ingest.truth": "labels", "depth_head.panoptic": "prediction"}
    assert frame.restart and frame.state_reset  # any part's discontinuity is the frame's


def test_parts_that_can_never_complete_are_let_go_and_memory_stays_bounded() -> None:
    inbox = Inbox(max_pending=4, sources=("ingest", "model"))
    inbox.put([part("ingest", "a", seq) for seq in range(3)])  # the model dropped frames 0 and 1
    inbox.put([part("model", "a", 2)])
    assert [p.seq for p in inbox.take_batch(4, 0.0)] == [2]
    assert inbox.dropped() == {} and inbox.pending() == 0  # the model counted its own drops
    # A slow model: truths of 30 frames arrive while it works on frame 3, then it takes the newest.
    inbox.put([part("ingest", "a", seq) for seq in range(3, 33)])
    inbox.put([part("model", "a", 3)])
    inbox.put([part("model", "a", 32)])
    assert [p.seq for p in inbox.take_batch(4, 0.0)] == [3]
    assert [p.seq for p in inbox.take_batch(4, 0.0)] == [32] and inbox.dropped() == {}
    inbox.put([part("ingest", "a", seq) for seq in range(33, 33 + 70)])  # and nothing completes
    assert inbox.dropped() == {"a": 70 - 64}  # memory stays bounded: the oldest go, counted
    inbox.forget("a")
    inbox.put([part("model", "a", 102)])
    assert inbox.pending() == 0  # the forgotten stream's parts went with it
