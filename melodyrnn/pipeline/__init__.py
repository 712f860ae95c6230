"""Batch pipelines: a TOML plan with content-hashed stage keys (``plan``), the stages over the
public API (``stages``) and the HTML report (``report``). Imports core, music, text and
``settings``; never ``live`` or ``cli``."""
