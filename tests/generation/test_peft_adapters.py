"""The adapter lock: generations run together, an adapter change waits for them and holds back new ones."""

from __future__ import annotations

import threading
import time

from kubetrainer.generation.peft_adapters import AdapterLock


def test_a_change_waits_for_generations_in_flight_and_holds_back_new_ones() -> None:
    lock = AdapterLock()
    events: list[str] = []

    def change() -> None:
        with lock.changing():
            events.append("change")

    def late_generation() -> None:
        with lock.generating():
            events.append("late generation")

    with lock.generating(), lock.generating():  # two generations in flight at once
        changer = threading.Thread(target=change)
        changer.start()
        time.sleep(0.2)
        late = threading.Thread(target=late_generation)
        late.start()
        time.sleep(0.2)
        assert events == []  # the change waits for the two; the late generation waits behind the change
    changer.join(5)
    late.join(5)
    assert events == ["change", "late generation"]
