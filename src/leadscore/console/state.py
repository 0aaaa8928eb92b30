"""What every page shares: the configuration `leadscore console` passed to the app, and the reader built from it.

Both are made on first use, never at import. A test puts its own reader in `st.session_state["reader"]`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import streamlit as st

from leadscore.config import Config, add_config_arguments, config_from
from leadscore.console.reader import Reader, make_reader

PAGES = Path(__file__).resolve().parent / "pages"


def _parse(argv: tuple[str, ...]) -> Config:
    parser = argparse.ArgumentParser(prog="leadscore console app")
    add_config_arguments(parser)
    return config_from(parser.parse_args(list(argv)))


@st.cache_resource(show_spinner=False)
def _shared_reader(argv: tuple[str, ...]) -> Reader:
    """One reader per server process and configuration (a warehouse connection is worth sharing)."""
    return make_reader(_parse(argv))


def reader() -> Reader:
    if "reader" not in st.session_state:
        st.session_state["reader"] = _shared_reader(tuple(sys.argv[1:]))
    return st.session_state["reader"]


def config() -> Config:
    return reader().config


def page(name: str) -> str:
    """A page's script path, for st.Page and st.page_link."""
    return str(PAGES / f"{name}.py")
