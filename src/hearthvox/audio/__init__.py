"""hearthvox.audio: audio in and out.

- ``wavio``: load_wav, open_wav_stream (stdin), write_wav, WavWriter (atomic)
- ``wavformat``: the RIFF/WAVE parser and sample decoding they share
- ``resample``: int16/float helpers and soxr resampling (one-shot and streaming)
- ``buffers``: re-chunking into fixed-size blocks
- ``sources``: async AudioChunk sources (array, WAV stream; the microphone from ``mic``)
- ``mic``: MicSource: PortAudio capture, resampling, device loss and recovery
- ``sinks``: the Sink protocol, NullSink, WavFileSink, SpeakerSink (lost and reopened)
- ``devices``: PortAudio device lookup and re-listing (``sounddevice`` is imported lazily)
- ``earcons``: start/stop listening sounds
"""
