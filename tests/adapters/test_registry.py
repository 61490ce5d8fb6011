"""The registry's promise: every built-in source class can be built live and from a replay."""

import inspect

import pytest

from signalops.adapters import registry
from signalops.adapters.base import Adapter
from signalops.adapters.snapshots import SnapshotStore
from signalops.catalogue.spec import SourceCatalogue


@pytest.mark.parametrize("source", sorted(registry.BUILTIN))
def test_builtin_class_offers_what_adapter_class_declares(source, tmp_path):
    cls = registry.adapter_classes()[source]

    assert cls.source == source
    assert isinstance(cls.catalogue, SourceCatalogue)
    inspect.signature(cls.live).bind(record=None)
    inspect.signature(cls.replay).bind(SnapshotStore(tmp_path))


def test_replay_adapters_answer_the_adapter_protocol_for_every_builtin_source(tmp_path):
    adapters = registry.replay_adapters(SnapshotStore(tmp_path))

    assert set(adapters) >= set(registry.BUILTIN)
    assert all(isinstance(adapter, Adapter) for adapter in adapters.values())
