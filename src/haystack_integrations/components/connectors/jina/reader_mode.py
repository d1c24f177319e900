from __future__ import annotations

from enum import Enum


class JinaReaderMode(Enum):
    """
    What `JinaReaderConnector` asks the Jina Reader API to do.

    - `READ`: fetch one URL and return its content, cleaned up for LLMs (`https://r.jina.ai/`).
    - `SEARCH`: search the web and return the content of the best pages (`https://s.jina.ai/`).
    - `GROUND`: check a statement against web sources and say how factual it is (`https://g.jina.ai/`).
    """

    READ = "read"
    SEARCH = "search"
    GROUND = "ground"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def from_str(cls, string: str) -> JinaReaderMode:
        """
        The mode named by `string` (`read`, `search` or `ground`; case and surrounding spaces are ignored).

        :param string: The mode's name.
        :returns: The mode.
        :raises ValueError: If no mode has that name; the message lists the valid ones.
        """
        name = string.strip().lower() if isinstance(string, str) else string
        for mode in cls:
            if mode.value == name:
                return mode
        valid = ", ".join(repr(mode.value) for mode in cls)
        msg = f"Unknown reader mode {string!r}. Supported modes are: {valid}."
        raise ValueError(msg)
