"""Live call and response: a clocked engine that knows no ports (``engine``) and the real-time
MIDI ports (``ports``, mido + rtmidi). Imports core, music and ``settings``; never
``pipeline`` or ``cli``."""
