"""How figures are written for people: one home each, the same in every command that shows them."""

from __future__ import annotations

import pytest

from probes.wording import duration


@pytest.mark.parametrize(("seconds", "english", "vietnamese"), [
    (0, "0 s", "0 giây"),
    (42.9, "42 s", "42 giây"),  # whole seconds: an uptime is not a measurement
    (60, "1 min 0 s", "1 phút 0 giây"),
    (725, "12 min 5 s", "12 phút 5 giây"),
    (3661, "1 h 1 min", "1 giờ 1 phút"),  # two units: the seconds no longer matter
    (86399, "23 h 59 min", "23 giờ 59 phút"),
    (86400, "1 d 0 h", "1 ngày 0 giờ"),
    (200_000, "2 d 7 h", "2 ngày 7 giờ"),
    (-3, "0 s", "0 giây"),  # a clock stepped back reads as just started, never as a minus
])
def test_durations_read_as_people_say_them(seconds: float, english: str, vietnamese: str) -> None:
    assert (duration(seconds), duration(seconds, "vi")) == (english, vietnamese)
