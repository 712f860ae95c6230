"""Music over the core: notes, MIDI files, quantisation, music encodings, form and features,
composing from a seed, rendering, and ``ingest/`` (MIDI folders to dataset folders).

``midi_io`` is the only module that touches a MIDI file library; everything after it sees the
plain value classes of ``notes`` (times in beats and seconds). Imports the core; never
``text``, ``pipeline``, ``live`` or ``cli``.
"""
