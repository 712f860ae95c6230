"""``melodyrnn studio``: a local web page and JSON API over generation.

A front end like the CLI: it turns form fields into a
:class:`~melodyrnn.music.generated.GenerateConfig` (:mod:`.forms`), keeps the session's seeds
and outputs (:mod:`.session`) and serves both over HTTP with Flask (:mod:`.app`, the optional
``studio`` extra). It may import the core, music and settings layers and itself; the page in
``static/`` loads nothing from the network.
"""
