"""How a command tells running out of memory from other failures."""

from __future__ import annotations

from nerflow.orchestration.process import is_out_of_memory


def test_an_allocation_that_failed_inside_an_import_counts_as_out_of_memory() -> None:
    # What torch's import raised under an address-space cap: a C call failed to allocate and
    # returned without setting MemoryError. The CLI must end with its one out-of-memory line.
    try:
        raise ImportError("cannot import name 'fully_shard'") from SystemError(
            "error return without exception set"
        )
    except ImportError as exc:
        assert is_out_of_memory(exc)


def test_other_system_and_import_errors_are_not_out_of_memory() -> None:
    assert not is_out_of_memory(SystemError("bad argument to internal function"))
    assert not is_out_of_memory(ImportError("No module named 'onnxruntime'"))
