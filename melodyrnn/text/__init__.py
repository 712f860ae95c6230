"""Text over the core: character, word and token-list encodings, text datasets and
completion. Imports the core; never ``music``, ``pipeline``, ``live`` or ``cli``."""
