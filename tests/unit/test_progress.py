"""Progress on stderr: a tqdm bar on a terminal, plain lines in a log."""

from __future__ import annotations

import io

from snncc.progress import Progress, counter


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(progress: Progress) -> None:
    progress("simulating 150 samples")
    for done in (0, 64, 128, 150):  # 0: the work starts
        progress.count(done, 150)
    progress("done")


def test_a_log_gets_one_plain_line_per_update_and_no_carriage_returns():
    log = io.StringIO()
    run(Progress(stream=log))
    assert log.getvalue().splitlines() == [
        "snncc: simulating 150 samples",
        "snncc:   64/150 samples",
        "snncc:   128/150 samples",
        "snncc:   150/150 samples",
        "snncc: done",
    ]
    assert "\r" not in log.getvalue()


def test_a_terminal_gets_a_bar_that_is_finished_before_the_next_message():
    term = Terminal()
    run(Progress(stream=term))
    text = term.getvalue()
    assert "\r" in text and "150/150" in text and "100%|" in text  # tqdm redraws one line in place
    assert "0/150" in text.split("\r")[1]  # the bar is drawn when the work starts
    assert "64/150 samples" not in text  # no plain count lines
    assert text.startswith("snncc: simulating 150 samples\n\rsnncc:  ")  # the bar: "snncc:  43%|..."
    assert text.endswith("\nsnncc: done\n")  # the bar's line was closed before the next message


def test_quiet_writes_nothing_anywhere():
    term = Terminal()
    run(Progress(quiet=True, stream=term))
    assert term.getvalue() == ""


def test_a_plain_callback_still_hears_the_counts():
    heard: list[str] = []
    counter(heard.append)(3, 7)
    assert heard == ["  3/7 samples"]
    term = Terminal()
    progress = Progress(stream=term)
    assert counter(progress) == progress.count
