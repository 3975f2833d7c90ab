"""The docstring parser: summaries and parameter descriptions in Google, NumPy and Sphinx style."""

from __future__ import annotations

from realtime_widget.tools.docstrings import parse_docstring

# -- docstrings -----------------------------------------------------------------------------


class TestDocstrings:
    def test_google(self) -> None:
        doc = """Find a flight.

        Searches every airline.

        Args:
            origin (str): where from,
                as an IATA code.
            when (dict[str, tuple(int)]): the date
            *extra: ignored stars
            plain: no type

        Returns:
            a list of flights
        """
        assert parse_docstring(doc) == (
            "Find a flight.\n\nSearches every airline.",
            {
                "origin": "where from, as an IATA code.",
                "when": "the date",
                "extra": "ignored stars",
                "plain": "no type",
            },
        )

    def test_google_arguments_and_description_on_next_line(self) -> None:
        doc = """Summary.

        Arguments:
            first:
                on its own line
            second: text
        Raises:
            ValueError: not a parameter
        """
        assert parse_docstring(doc) == (
            "Summary.",
            {"first": "on its own line", "second": "text"},
        )

    def test_numpy(self) -> None:
        doc = """Add numbers.

        Parameters
        ----------
        a : int
            The first
            number.
        b, c : float
            More numbers.
        d

        Returns
        -------
        int
            The sum.
        """
        assert parse_docstring(doc) == (
            "Add numbers.",
            {"a": "The first number.", "b": "More numbers.", "c": "More numbers."},
        )

    def test_sphinx(self) -> None:
        doc = """Move the robot.

        :param int speed: metres per second,
            at most 3.
        :param direction: where to go
        :type direction: str
        :returns: nothing
        """
        assert parse_docstring(doc) == (
            "Move the robot.",
            {"speed": "metres per second, at most 3.", "direction": "where to go"},
        )

    def test_summary_only_and_empty(self) -> None:
        assert parse_docstring("  Just this.\n  ") == ("Just this.", {})
        assert parse_docstring(None) == ("", {})
        assert parse_docstring("") == ("", {})

    def test_colons_in_summary_are_not_sections(self) -> None:
        doc = "Note: this is prose.\n\nExample usage: call it."
        assert parse_docstring(doc) == (doc, {})
