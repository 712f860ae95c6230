"""MIDI folders to dataset folders: guarded reads in worker processes (``worker``, ``pool``),
a per-file result cache (``cache``) and the run with its per-file report (``build``)."""
