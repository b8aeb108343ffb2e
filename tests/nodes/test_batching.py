"""Re-forming a batch from packets' items: the batch itself when nothing moved, else sliced and stacked."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from vkstream.nodes.batching import BatchItem, concat, gather_batch, take


@dataclass
class Inner:
    values: torch.Tensor
    later: torch.Tensor | None = None


@dataclass
class Toy:
    features: torch.Tensor
    names: list[str]
    inner: Inner
    size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.names)


def toy(names: str, size: tuple[int, int] = (4, 6)) -> Toy:
    codes = torch.tensor([ord(n) for n in names], dtype=torch.float32)
    return Toy(codes[:, None].expand(-1, 3).clone(), list(names), Inner(codes * 10), size)


def items(batch: Toy, *indices: int) -> list[BatchItem[Toy]]:
    return [BatchItem(batch, i) for i in indices]


def assert_is(batch: Toy, names: str) -> None:
    expected = toy(names, batch.size)
    assert batch.names == expected.names
    assert torch.equal(batch.features, expected.features)
    assert torch.equal(batch.inner.values, expected.inner.values)
    assert batch.inner.later is None


def test_a_whole_batch_in_order_is_reused() -> None:
    batch = toy("abc")
    assert gather_batch(items(batch, 0, 1, 2)) is batch


def test_a_run_of_one_batch_is_a_view() -> None:
    batch = toy("abcd")
    part = gather_batch(items(batch, 1, 2))
    assert_is(part, "bc")
    assert part.features.untyped_storage().data_ptr() == batch.features.untyped_storage().data_ptr()
    assert batch.names == list("abcd")


def test_other_orders_and_several_batches_are_restacked() -> None:
    first, second = toy("abc"), toy("xy")
    assert_is(gather_batch(items(first, 2, 0, 1)), "cab")
    assert_is(gather_batch(items(first, 1, 2) + items(second, 0) + items(first, 0)), "bcxa")
    assert_is(gather_batch(items(first, 0, 1)), "ab")


def test_take_and_concat() -> None:
    batch = toy("abcd")
    assert_is(take(batch, 1, 3), "bc")
    assert_is(concat([take(batch, 3, 4), toy("xy"), take(batch, 0, 1)]), "dxya")


def test_batch_wide_values_must_agree() -> None:
    with pytest.raises(ValueError, match=r"Toy.size differ: \(4, 6\) and \(5, 6\)"):
        gather_batch(items(toy("ab"), 0) + items(toy("c", (5, 6)), 0))
    with_later = toy("c")
    with_later.inner.later = torch.zeros(1)
    with pytest.raises(ValueError, match=r"Toy.inner.later differ: None and a tensor \(1,\)"):
        concat([toy("ab"), with_later])


def test_bad_items_are_errors() -> None:
    with pytest.raises(ValueError, match="no items"):
        gather_batch([])
    with pytest.raises(ValueError, match="batch item 3 of a batch of 2"):
        gather_batch(items(toy("ab"), 0, 3))
    with pytest.raises(ValueError, match="no batches"):
        concat([])
