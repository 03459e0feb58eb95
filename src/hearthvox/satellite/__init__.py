"""``hearthvox satellite``: this device as a Wyoming satellite (docs/satellite.md).

- ``options``: limits and timings, one frozen dataclass
- ``info``: the ``info`` answer to ``describe`` (a ``satellite`` section)
- ``ear``: the local wake word and the VAD's end of the command, off the event loop
- ``player``: the reply's audio to the sink, stoppable (barge-in), then ``played``
- ``session``: the satellite's state machine (waiting, streaming, waiting for the reply, playing)
- ``server``: the listening socket; one server connection at a time (a new one replaces it)
"""
